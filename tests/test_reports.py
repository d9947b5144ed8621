"""Reports: CSV and JSON content, the HTML's charts and ticket links, and the HTML rendered in
headless Chromium without a console error (its CSP refuses any fetch, so a stray external
resource would be an error too)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from test_credits import CONTRACT, NOW, OCT, worked_example

from slaplug.credits.compute import compute
from slaplug.reports import render_csv, render_html, render_json


@pytest.fixture(scope="module")
def result():
    return compute(CONTRACT, OCT, worked_example(), computed_at=NOW, rules_digest="ab" * 32)


def test_json_holds_the_figures_and_the_why(result) -> None:
    doc = json.loads(render_json([result]))
    (r,) = doc["results"]
    assert (r["contract"], r["period"], r["credit"], r["amount"]) == (
        "enterprise",
        "2026-10",
        "20",
        "2000.00",
    )
    assert [(o["counted"], o["met"], o["compliance"], o["credit"]) for o in r["objectives"]] == [
        (20, 19, "95.00", "10"),
        (10, 7, "70.00", "15"),
    ]
    assert r["breaches"][-1]["url"] == "https://acme.example/tickets/200"
    assert r["why"][2].endswith("= 2000.00 EUR")


def test_csv_has_objective_total_breach_and_excluded_rows(result) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv([result]))))
    kinds = [r["row"] for r in rows]
    assert kinds == ["objective"] * 2 + ["total"] + ["breach"] * 4 + ["excluded"] * 3
    assert rows[0]["compliance_percent"] == "95.00" and rows[0]["credit_percent"] == "10"
    assert (rows[2]["credit_percent"], rows[2]["amount"], rows[2]["currency"]) == (
        "20",
        "2000.00",
        "EUR",
    )
    assert rows[3]["url"].startswith("https://acme.example/tickets/")


def test_html_is_self_contained_with_charts_and_ticket_links(result) -> None:
    page = render_html([result])
    assert page.count("<svg") == 2 and page.count('class="bar"') >= 3
    assert '<a href="https://acme.example/tickets/200">zendesk:200</a>' in page
    assert "Credit owed: 20 % of the fee = 2000.00 EUR" in page
    assert "<script" not in page and 'http-equiv="Content-Security-Policy"' in page
    # nothing fetched: no src= at all, and href only on ticket links
    assert " src=" not in page
    assert all(h.startswith("https://acme.example/") for h in page.split('href="')[1:])


def test_html_escapes_what_tickets_contain(result) -> None:
    from dataclasses import replace

    b = replace(result.breaches[0], subject="<script>alert(1)</script>")
    page = render_html([replace(result, breaches=(b, *result.breaches[1:]))])
    assert "<script>" not in page and "&lt;script&gt;" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if found := shutil.which(name):
            return found
    return None


def test_html_renders_in_headless_chromium_without_console_errors(result, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "no chromium on PATH: install it (Debian: apt-get install -y chromium) to run "
            "the rendering test"
        )
    page = tmp_path / "report.html"
    page.write_text(render_html([result]), encoding="utf-8")
    try:
        proc = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--enable-logging=stderr",
                "--v=0",
                "--dump-dom",
                page.as_uri(),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=90,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"chromium is installed but cannot run here: {exc}")
    if "<svg" not in proc.stdout:
        pytest.skip(f"chromium did not render (exit {proc.returncode}): {proc.stderr[-500:]}")
    # Console messages are logged as "...:CONSOLE(line)] message"; CSP refusals as
    # "Refused to ...". Neither may appear.
    console = [
        line
        for line in proc.stderr.splitlines()
        if ":CONSOLE" in line or "Refused to" in line or "Uncaught" in line
    ]
    assert console == []
    assert "Credit owed: 20 % of the fee = 2000.00 EUR" in proc.stdout
    assert proc.stdout.count("<svg") == 2


def test_the_chromium_check_would_see_a_console_error(tmp_path: Path) -> None:
    """The test above can fail: a page that logs an error is caught by the same parsing."""
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install -y chromium)")
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><script>console.error('boom')</script></body></html>",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    if "<body>" not in proc.stdout:
        pytest.skip(f"chromium did not render (exit {proc.returncode})")
    assert any(":CONSOLE" in line and "boom" in line for line in proc.stderr.splitlines())

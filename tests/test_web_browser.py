"""The dashboard and a customer page in headless Chromium, on the demo's data, through a real
``slaplug serve``: the at-risk queue least time left first, a ticket's timeline, a customer
page; no console error and no Content-Security-Policy refusal.

Set ``SLAPLUG_SCREENSHOTS=docs/img`` to refresh the screenshots in the docs
(``make screenshots``); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest
import yaml

MANAGER_ENV = "BROWSER_TEST_MANAGER_TOKEN"
MANAGER_TOKEN = "browser-test-manager-token-0123456789"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if found := shutil.which(name):
            return found
    return None


@dataclass
class Served:
    base: str
    customer_link: str
    profile: Path
    shots: Path
    browser: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "no chromium on PATH: install it (`make chromium`, or on Debian: apt-get install -y "
            "chromium) to run the dashboard's browser tests"
        )
    folder = tmp_path_factory.mktemp("browser")
    env = {k: v for k, v in os.environ.items() if k != "SLAPLUG_LOAD_PLUGINS"}
    demo = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "demo", "--dir", "demo"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    config = folder / "demo" / "slaplug.yaml"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["dashboard"] = {"manager_token": "${" + MANAGER_ENV + "}", "public_url": base}
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    # The demo's fakes are gone: the tokens only need to be set (nothing calls a helpdesk).
    env |= {
        MANAGER_ENV: MANAGER_TOKEN,
        "SLAPLUG_DEMO_ZENDESK_TOKEN": "unused",
        "SLAPLUG_DEMO_JIRA_TOKEN": "unused",
    }
    issued = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "customers", "token", "issue", "--config",
         str(config), "--contract", "enterprise", "--organization", "Acme Corp"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    link = re.search(r"link:  (\S+)", issued.stdout)
    assert link is not None
    log = (folder / "serve.log").open("w", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "slaplug.cli", "serve", "--config", str(config), "--port",
         str(port), "--workers", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/static/slaplug.css", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (folder / "serve.log").read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "slaplug serve did not start"
            time.sleep(0.2)
        target = os.environ.get("SLAPLUG_SCREENSHOTS")
        shots = Path(target) if target else folder / "shots"
        shots.mkdir(parents=True, exist_ok=True)
        yield Served(base, link.group(1), folder / "profile", shots, browser)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _chrome(served: Served, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [
                served.browser, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--hide-scrollbars",
                f"--user-data-dir={served.profile}", "--enable-logging=stderr", "--v=0",
                *extra, url,
            ],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"chromium is installed but cannot run here: {exc}")


def _dom(served: Served, path: str, *, manager: bool = True) -> str:
    # Basic auth in the URL: Chromium sends it for the page it navigates to (the manager's
    # token as the password, as a browser's login box would).
    url = served.base.replace("://", f"://manager:{MANAGER_TOKEN}@") + path if manager else path
    proc = _chrome(served, url, "--dump-dom")
    if "<body" not in proc.stdout:
        pytest.skip(f"chromium did not render (exit {proc.returncode}): {proc.stderr[-500:]}")
    problems = [
        line
        for line in proc.stderr.splitlines()
        if ":CONSOLE" in line or "Refused to" in line or "Uncaught" in line
    ]
    assert problems == [], problems  # a CSP refusal (an inline style, a script) shows here
    return proc.stdout


def _shot(served: Served, path: str, name: str, size: str, *, manager: bool = True) -> Path:
    url = served.base.replace("://", f"://manager:{MANAGER_TOKEN}@") + path if manager else path
    out = served.shots / name
    _chrome(served, url, f"--window-size={size}", "--force-device-scale-factor=1",
            f"--screenshot={out}")  # fmt: skip
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return out


def test_the_queue_in_a_browser_is_sorted_by_time_left(served: Served) -> None:
    dom = _dom(served, "/dashboard")
    assert "At-risk queue" in dom and "Compliance this period" in dom
    queue = dom.split("At-risk queue")[1].split("</table>")[0]
    lefts = [int(x) for x in re.findall(r'data-left="(-?\d+)"', queue)]
    assert lefts, "the demo leaves breached or at-risk clocks"
    assert lefts == sorted(lefts)
    # Every row links to its ticket's timeline and to the ticket on its helpdesk.
    assert len(re.findall(r'href="/dashboard/tickets/', queue)) == len(lefts)
    # The demo wrote to its fake helpdesks and mailed its channels: both are listed.
    written = dom.split("<h3>Written</h3>")[1].split("</table>")[0]
    notified = dom.split("<h3>Notified</h3>")[1].split("</table>")[0]
    assert "applied" in written and "notify" in written
    assert "team-lead" in notified or "support-manager" in notified
    _shot(served, "/dashboard", "dashboard.png", "1280,1000")


def test_a_ticket_timeline_in_a_browser(served: Served) -> None:
    dom = _dom(served, "/dashboard")
    first = re.search(r'href="(/dashboard/tickets/[^"]+)"', dom.split("At-risk queue")[1])
    assert first is not None
    path = unescape(first.group(1))
    page = _dom(served, path)
    assert "<svg" in page and "Timeline of" in page
    assert 'class="counted"' in page
    assert "breached at" in page or "deadline" in page
    assert "Written and notified for this ticket" in page
    _shot(served, path, "ticket-timeline.png", "1280,900")


def test_a_customer_page_in_a_browser(served: Served) -> None:
    page = _dom(served, served.customer_link, manager=False)
    assert "Service levels: Acme Corp" in page
    assert "Compliance per severity" in page and "Credit owed for" in page
    assert "Open tickets" in page
    for other in ("Globex", "Initech", "Hooli", "Umbrella"):
        assert other not in page
    _shot(served, served.customer_link, "customer-page.png", "1100,900", manager=False)
    # Without the manager token the dashboard is refused, in the browser too.
    # (headless Chromium has no login box: the 401's challenge fails the load).
    refused = _chrome(served, served.base + "/dashboard", "--dump-dom")
    assert "At-risk queue" not in refused.stdout
    assert "ERR_INVALID_AUTH_CREDENTIALS" in refused.stderr or "Sign in" in refused.stdout

"""The dashboard and the customer pages of ``slaplug serve``, on a store filled by a real sync
(fake Zendesk and fake Jira over HTTP, `status_data`): who may read what, escaping, and the
same figures as ``slaplug report``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import yaml
from click.testing import CliRunner
from status_data import NOW, VIEW_AT, Install, synced_install
from test_web_events import Client

from slaplug.cli import main
from slaplug.config import load_settings
from slaplug.credits.compute import compute
from slaplug.credits.freeze import result_to_dict
from slaplug.credits.periods import parse_period
from slaplug.credits.source import ContractBook
from slaplug.rules.versions import VersionedPack
from slaplug.runtime import Runtime, open_runtime
from slaplug.store import Store
from slaplug.views import ClockQuery, status_view
from slaplug.web.app import create_app
from slaplug.web.pages.html import CSP

MANAGER_ENV = "PAGES_TEST_MANAGER_TOKEN"
MANAGER_TOKEN = "env-manager-token-0123456789abcdef"
#: Ticket text that would run or be evaluated if anything on the way were not escaping it.
HOSTILE = "<script>alert('x')</script> {{7*7}} {% if 1 %}T{% endif %} \"><img src=x onerror=1>"
HOSTILE_TEAM = "<b>team</b>{{ 6*7 }}"


@dataclass
class Site:
    """The app on a synced store, its tokens, and which tickets are whose."""

    install: Install
    runtime: Runtime
    client: Client
    store: Store
    config: Path
    env: dict[str, str]
    manager: str
    acme: str  # enterprise, organization Acme Corp
    globex: str  # enterprise, organization Globex
    standard: str  # the whole standard contract (Initech, Hooli...)
    keys_of: dict[str, set[str]]  # ticket keys by organization
    hostile_key: str


def _organizations(store: Store) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for t in store.iter_snapshots():
        out.setdefault(t.organization or "", set()).add(t.key)
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("pages")
    with synced_install(folder) as inst:
        doc = yaml.safe_load(inst.config.read_text(encoding="utf-8"))
        doc["dashboard"] = {"manager_token": "${" + MANAGER_ENV + "}", "queue_limit": 2}
        inst.config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        env = {**inst.env, MANAGER_ENV: MANAGER_TOKEN}
        settings = load_settings(inst.config, environ=env)
        with open_runtime(settings) as rt:
            store = rt.store
            # Hostile text in an Acme Corp ticket with an open clock (the new "high" one).
            victim = store.load_snapshot("zendesk", inst.new_ids["high"])
            assert victim is not None and victim.organization == "Acme Corp"
            store.save_snapshots([replace(victim, subject=HOSTILE, group=HOSTILE_TEAM)])
            _, manager = store.issue_token("manager", label="pages test")
            _, acme = store.issue_token("customer", contract="enterprise", organization="Acme Corp")
            _, globex = store.issue_token("customer", contract="enterprise", organization="Globex")
            _, standard = store.issue_token("customer", contract="standard")
            app = create_app(settings, runtime=rt, clock=lambda: VIEW_AT)
            client = Client(app)
            try:
                yield Site(
                    inst,
                    rt,
                    client,
                    store,
                    inst.config,
                    env,
                    manager,
                    acme,
                    globex,
                    standard,
                    _organizations(store),
                    victim.key,
                )
            finally:
                client.close()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _basic(password: str) -> dict[str, str]:
    return {
        "Authorization": "Basic "
        + __import__("base64").b64encode(f"anyone:{password}".encode()).decode()
    }


# -- every route, classified: a new route fails here until someone decides who may read it --

#: Manager-only GET routes (their path parameters filled by `_fill`).
MANAGER_ROUTES = {
    "/dashboard",
    "/dashboard/queue.json",
    "/dashboard/compliance",
    "/dashboard/compliance.json",
    "/dashboard/activity",
    "/dashboard/tickets/{connector}/{ticket_id}",
    "/tickets/{connector}/{ticket_id}/sla",
}
CUSTOMER_ROUTES = {"/customer/{token}", "/customer/{token}/figures.json"}
#: Open to anyone, and holding nothing of any customer.
PUBLIC_ROUTES = {
    "/healthz",
    "/metrics",
    "/static/slaplug.css",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}


def _get_routes(site: Site) -> set[str]:
    app = site.client.http._transport.app  # type: ignore[attr-defined]
    return {r.path for r in app.routes if "GET" in getattr(r, "methods", set())}


def _fill(path: str, token: str, connector: str, ticket_id: str) -> str:
    return (
        path.replace("{token}", token)
        .replace("{connector}", connector)
        .replace("{ticket_id}", ticket_id)
    )


def test_every_get_route_is_classified(site: Site) -> None:
    assert _get_routes(site) == MANAGER_ROUTES | CUSTOMER_ROUTES | PUBLIC_ROUTES


def test_manager_pages_refuse_without_a_manager_token(site: Site) -> None:
    connector, ticket_id = site.hostile_key.split(":", 1)
    _, revoked = site.store.issue_token("manager")
    site.store.revoke_tokens(ids=[revoked.split("_")[1]])
    for path in sorted(MANAGER_ROUTES):
        url = _fill(path, "", connector, ticket_id)
        for headers in (
            {},
            _bearer("wrong"),
            _bearer(MANAGER_TOKEN + "x"),
            _bearer(site.acme),  # a customer's credential is not a manager's
            _basic(site.acme),
            _bearer(revoked),
            {"Authorization": "Basic !!!"},
        ):
            r = site.client.get(url, headers=headers)
            assert r.status_code == 401, (url, headers, r.status_code)
            assert r.headers["www-authenticate"].startswith("Basic realm=")
            assert HOSTILE not in r.text and "Acme" not in r.text
        for headers in (_bearer(site.manager), _bearer(MANAGER_TOKEN), _basic(MANAGER_TOKEN)):
            assert site.client.get(url, headers=headers).status_code == 200, (url, headers)


_KEY = re.compile(r"\b(?:zendesk|jira):[A-Za-z0-9-]+\b")


def _keys_in(text: str) -> set[str]:
    return set(_KEY.findall(text))


def test_a_customer_credential_reads_nothing_of_another_customer(site: Site) -> None:
    orgs = site.keys_of
    standard_orgs = {"Initech", "Hooli", "Umbrella", "Stark Industries", ""}
    whose = {
        site.acme: (orgs["Acme Corp"], {"Globex", *standard_orgs}),
        site.globex: (orgs["Globex"], {"Acme Corp", *standard_orgs}),
        site.standard: (
            set().union(*(orgs.get(o, set()) for o in standard_orgs)),
            {"Acme Corp", "Globex"},
        ),
    }
    others_ticket = {
        site.acme: sorted(orgs["Globex"])[0],
        site.globex: sorted(orgs["Acme Corp"])[0],
        site.standard: sorted(orgs["Acme Corp"])[0],
    }
    for token, (own, other_orgs) in whose.items():
        connector, ticket_id = others_ticket[token].split(":", 1)
        # Every GET route, with this customer's token in the path and as a bearer token.
        for path in sorted(_get_routes(site)):
            url = _fill(path, token, connector, ticket_id)
            r = site.client.get(url, headers=_bearer(token))
            if path in MANAGER_ROUTES:
                assert r.status_code == 401, url
                continue
            assert r.status_code == 200, (url, r.status_code)
            stray = _keys_in(r.text) - own
            assert not stray, (url, sorted(stray)[:5])
            for name in other_orgs - {""}:
                assert name not in r.text, (url, name)
        # Its own page shows its own tickets (the check above is not vacuous).
        doc = site.client.get(f"/customer/{token}/figures.json").json()
        assert doc["open_clocks"] and {c["ticket"] for c in doc["open_clocks"]} <= own
        shown = {b["ticket"] for p in doc["periods"] for b in p["breaches"]}
        assert shown <= own


def test_a_revoked_link_is_refused_and_a_rotated_one_works(site: Site) -> None:
    runner = CliRunner()
    # Its own subject (Initech on the standard contract), so the other tests' links stay.
    _, first = site.store.issue_token("customer", contract="standard", organization="Initech")
    _, kept = site.store.issue_token("customer", contract="standard")
    assert site.client.get(f"/customer/{first}").status_code == 200
    out = runner.invoke(
        main,
        [
            "customers",
            "token",
            "rotate",
            "--config",
            str(site.config),
            "--contract",
            "standard",
            "--organization",
            "Initech",
        ],
        env=site.env,
    )
    assert out.exit_code == 0, out.output
    second = re.search(r"token: (\S+)", out.output)
    assert second is not None
    new = second.group(1)
    for suffix in ("", "/figures.json"):  # rotation revokes every earlier Initech link
        r = site.client.get(f"/customer/{first}{suffix}")
        assert r.status_code == 404 and "Initech" not in r.text
    assert "Service levels: Initech" in site.client.get(f"/customer/{new}").text
    # Links of other subjects are untouched: the whole contract's, another organization's.
    assert site.client.get(f"/customer/{kept}").status_code == 200
    assert site.client.get(f"/customer/{site.globex}").status_code == 200
    token_id = new.split("_")[1]
    out = runner.invoke(
        main,
        ["customers", "token", "revoke", "--config", str(site.config), token_id],
        env=site.env,
    )
    assert out.exit_code == 0 and token_id in out.output
    assert site.client.get(f"/customer/{new}").status_code == 404
    listed = runner.invoke(
        main, ["customers", "token", "list", "--json", "--config", str(site.config)], env=site.env
    )
    rows = {r["id"]: r for r in json.loads(listed.output)}
    assert rows[token_id]["revoked_at"] is not None
    assert new not in listed.output and new.split("_")[2] not in listed.output
    # A made-up token of the right shape, and junk, are refused the same way.
    forged = new[:-4] + ("0000" if not new.endswith("0000") else "1111")
    # A manager token is no customer credential either.
    for bad in (forged, "slpc_000000000000_" + "0" * 64, "nothing", site.manager):
        assert site.client.get(f"/customer/{bad}").status_code == 404


def test_ticket_text_is_shown_as_text_never_run_or_evaluated(site: Site) -> None:
    connector, ticket_id = site.hostile_key.split(":", 1)
    manager = _bearer(site.manager)
    team = quote(HOSTILE_TEAM)
    pages = [
        site.client.get(f"/dashboard?state=all&team={team}", headers=manager),
        site.client.get(f"/dashboard/tickets/{connector}/{ticket_id}", headers=manager),
        site.client.get(f"/customer/{site.acme}"),
    ]
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; {{7*7}} {% if 1 %}T{% endif %}"
    for r in pages:
        assert r.status_code == 200
        assert HOSTILE not in r.text and "<script" not in r.text and "<img" not in r.text
        assert "&quot;&gt;&lt;img src=x onerror=1&gt;" in r.text
        assert r.headers["content-security-policy"] == CSP
        assert "script-src" not in CSP and "frame-ancestors 'none'" in CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
    # The queue and the ticket page show the text, escaped, template syntax literally.
    for r in pages:
        assert escaped in r.text, r.url
    assert "&lt;b&gt;team&lt;/b&gt;{{ 6*7 }}" in pages[0].text
    # JSON keeps the text as it is (JSON is not HTML), served as JSON with nosniff.
    doc = site.client.get(f"/customer/{site.acme}/figures.json").json()
    assert HOSTILE in {c["subject"] for c in doc["open_clocks"]}


def test_the_dashboard_figures_are_those_of_report_json(site: Site) -> None:
    runner = CliRunner()
    manager = _bearer(site.manager)
    # Looking at a closed period freezes nothing (the pages only read); report freezes it.
    early = site.client.get("/dashboard/compliance.json?period=2026-10", headers=manager).json()
    assert {r["revision"] for r in early["results"]} == {0}
    assert site.store.credit_period("enterprise", "2026-10") is None
    for period in ("2026-11", "2026-10"):  # the open period, and a closed one (frozen once)
        report = runner.invoke(
            main,
            [
                "report",
                "--config",
                str(site.config),
                "--period",
                period,
                "--format",
                "json",
                "--at",
                VIEW_AT.isoformat(),
            ],
            env=site.env,
        )
        assert report.exit_code == 0, report.output
        served = site.client.get(f"/dashboard/compliance.json?period={period}", headers=manager)
        assert served.status_code == 200
        assert served.text == report.stdout  # stderr may say it is a preview
        # And the page shows those figures: each objective's compliance and each credit.
        page = site.client.get(f"/dashboard/compliance?period={period}", headers=manager).text
        for result in json.loads(report.stdout)["results"]:
            section = page.split(f"<h3>{result['contract']} {result['period']}</h3>")[1]
            section = section.split("</table>")[0]
            assert f"{result['amount']} {result['currency']}" in section
            cells = re.findall(r"<td[^>]*>(?:<span[^>]*>)?([^<]*)", section)
            for o in result["objectives"]:
                shown = "-" if o["compliance"] is None else f"{o['compliance']} %"
                row = [o["severity"], o["metric"]]
                at = next(i for i in range(len(cells) - 1) if cells[i : i + 2] == row)
                assert cells[at + 3 : at + 6] == [str(o["counted"]), str(o["met"]), shown]
    assert json.loads(report.stdout)["results"], "the rules declare contracts"
    # The dashboard's current period is the report's too.
    now = runner.invoke(
        main,
        [
            "report",
            "--config",
            str(site.config),
            "--period",
            "2026-11",
            "--format",
            "json",
            "--at",
            VIEW_AT.isoformat(),
        ],
        env=site.env,
    )
    assert site.client.get("/dashboard/compliance.json", headers=manager).text == now.stdout  # stderr warns: several customers
    assert (
        site.client.get("/dashboard/compliance.json?period=junk", headers=manager).status_code
        == 400
    )


def test_the_queue_is_sorted_by_time_left_and_paged(site: Site) -> None:
    manager = _bearer(site.manager)
    seen: list[tuple[int, str]] = []
    for page in (1, 2, 3):
        text = site.client.get(f"/dashboard?state=all&page={page}", headers=manager).text
        lefts = [int(x) for x in re.findall(r'data-left="(-?\d+)"', text)]
        assert len(lefts) <= 2  # queue_limit
        keys = re.findall(
            r'<a href="/dashboard/tickets/[^"]+">([^<]+)</a>',
            text.split("At-risk queue")[1].split("</table>")[0],
        )
        seen += list(zip(lefts, keys, strict=False))
    assert [x for x, _ in seen] == sorted(x for x, _ in seen)
    # The order of `slaplug status` (slaplug.views), which the queue is.
    view = status_view(site.store, site.runtime.pack, VIEW_AT, ClockQuery(limit=6))
    timed = [r for r in view.rows if r.time_left is not None][: len(seen)]
    assert [k for _, k in seen] == [r.ticket.key for r in timed]
    # The default queue is breached and at-risk clocks only, least time left first.
    doc = site.client.get("/dashboard/queue.json", headers=manager).json()
    assert {c["state"] for c in doc["clocks"]} <= {"breached", "at_risk"} and doc["clocks"]
    assert site.client.get("/dashboard?state=nonsense", headers=manager).status_code == 400


def test_a_customer_page_holds_its_own_figures_by_the_credits_computation(site: Site) -> None:
    doc = site.client.get(f"/customer/{site.acme}/figures.json").json()
    assert doc["contract"] == "enterprise" and doc["organization"] == "Acme Corp"
    # Only the contract's clocks: an internal OLA's are not the customer's business.
    policies = VersionedPack.of(site.runtime.pack).newest.pack.policies
    sla = {p.name for p in policies if p.kind == "sla"}
    ola = {p.name for p in policies if p.kind != "sla"}
    assert ola and {c["policy"] for c in doc["open_clocks"]} <= sla
    assert [p["period"] for p in doc["periods"]][:2] == ["2026-11", "2026-10"]
    # Acme's share of the shared contract: compute() over Acme's decided measures only.
    book = ContractBook(site.runtime.pack)
    contract = book.get("enterprise")
    assert contract is not None
    acme = [
        s
        for c, s in book.samples(site.store.iter_snapshots(), VIEW_AT)
        if c.name == "enterprise" and s.ticket_key in site.keys_of["Acme Corp"]
    ]
    period = parse_period("2026-11", contract.zone, contract.period_kind)
    expected = result_to_dict(compute(contract, period, acme, computed_at=VIEW_AT))
    expected["rules_digest"] = doc["periods"][0]["rules_digest"]
    assert doc["periods"][0] == expected
    assert any(o["counted"] for o in doc["periods"][0]["objectives"])
    # The whole-contract link shows exactly what `slaplug report --contract standard` shows.
    whole = site.client.get(f"/customer/{site.standard}/figures.json").json()
    report = CliRunner().invoke(
        main,
        [
            "report",
            "--config",
            str(site.config),
            "--period",
            "2026-11",
            "--contract",
            "standard",
            "--format",
            "json",
            "--at",
            VIEW_AT.isoformat(),
        ],
        env=site.env,
    )
    assert whole["periods"][0] == json.loads(report.stdout)["results"][0]
    page = site.client.get(f"/customer/{site.acme}").text
    assert "Service levels: Acme Corp" in page and "Credit owed for 2026-11" in page
    assert "Open tickets" in page and "team" not in page.split("Open tickets")[1].lower()
    assert NOW.year == 2026  # the data's dates: November 2026 is the open period


def test_static_css_is_public_and_holds_no_data(site: Site) -> None:
    r = site.client.get("/static/slaplug.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert isinstance(r, httpx.Response)


def test_what_was_written_and_notified_is_listed_newest_first(site: Site) -> None:
    from datetime import timedelta

    from slaplug.model import Action, ActionKind, Metric

    connector, ticket_id = site.hostile_key.split(":", 1)

    def action(kind: ActionKind, params: dict[str, object], level: int) -> Action:
        return Action(
            kind=kind, params=params, connector=connector, ticket_id=ticket_id,
            key=f"{site.hostile_key}:customer-sla:first_response:1:test:{level}",
            escalation="test-escalation", level=level, policy="customer-sla",
            metric=Metric.FIRST_RESPONSE, cycle=1,
        )  # fmt: skip

    comment = action(ActionKind.COMMENT, {"body": "<i>{{ 7*7 }}</i> note", "public": False}, 1)
    notify = action(ActionKind.NOTIFY, {"channel": "team-lead", "message": "late"}, 2)
    site.store.plan([comment, notify], now=VIEW_AT - timedelta(minutes=5))
    site.store.complete(comment.key, "applied", now=VIEW_AT - timedelta(minutes=4))
    site.store.record_sent(notify.key, "a" * 64, now=VIEW_AT - timedelta(minutes=3))
    site.store.complete(notify.key, "applied", now=VIEW_AT - timedelta(minutes=3))
    manager = _bearer(site.manager)
    activity = site.client.get("/dashboard/activity", headers=manager).text
    written = activity.split("<h3>Written</h3>")[1].split("</table>")[0]
    assert written.index("notify team-lead") < written.index(">comment<")  # newest first
    assert "reached 1 service(s)" in written and "test-escalation level 2" in written
    notified = activity.split("<h3>Notified</h3>")[1]
    assert "team-lead" in notified and "a" * 12 in notified
    page = site.client.get(f"/dashboard/tickets/{connector}/{ticket_id}", headers=manager).text
    mine = page.split("Written and notified for this ticket")[1]
    assert "&lt;i&gt;{{ 7*7 }}&lt;/i&gt; note" in mine and "<i>" not in mine
    # A customer sees none of it.
    assert "test-escalation" not in site.client.get(f"/customer/{site.acme}").text


def test_pages_answer_503_while_the_rules_engine_thread_is_down(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from slaplug.web.pages.service import EngineUnavailableError, Pages

    def stopped(job: object) -> None:
        raise RuntimeError("the webhook worker is not running")

    down = Pages(site.runtime, stopped, site.runtime.settings.dashboard, lambda: VIEW_AT)  # type: ignore[arg-type]
    with pytest.raises(EngineUnavailableError, match="not running"):
        asyncio.run(down.snapshot())

    async def unavailable(self: Pages) -> None:
        raise EngineUnavailableError("the webhook worker is not running")

    # The app's own Pages holds a fresh snapshot: make its next one fail the same way.
    monkeypatch.setattr(Pages, "snapshot", unavailable)
    r = site.client.get("/dashboard", headers=_bearer(site.manager))
    assert r.status_code == 503 and r.headers["retry-after"] == "10"
    assert "cannot be measured now" in r.text


def test_a_crash_on_a_customer_page_logs_the_link_without_its_secret(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from slaplug.web.pages.service import Pages

    async def broken(self: Pages) -> None:
        raise RuntimeError("the figures broke")

    monkeypatch.setattr(Pages, "snapshot", broken)
    # Starlette answers 500 through the app's handler, then re-raises to the server (which
    # the in-process transport passes on).
    with pytest.raises(RuntimeError, match="the figures broke"):
        site.client.get(f"/customer/{site.globex}/figures.json")
    _, token_id, secret = site.globex.split("_")
    assert "unexpected error on GET /customer/slpc_" + token_id in caplog.text
    assert secret not in caplog.text


def test_with_rules_versions_the_figures_are_still_those_of_report(
    site: Site, tmp_path: Path
) -> None:
    import sqlite3

    # A copy of the synced store, under two rules versions: the shipped pack, then the strict
    # one from 20 October (so October's and November's terms and measures differ).
    source = sqlite3.connect(site.install.store_url.removeprefix("sqlite:///"))
    copy = sqlite3.connect(tmp_path / "versions.db")
    source.backup(copy)
    source.close()
    with copy:  # periods frozen by the tests above were frozen under the unversioned rules
        copy.execute("DELETE FROM credit_periods")
    copy.close()
    doc = yaml.safe_load(site.config.read_text(encoding="utf-8"))
    rules = Path(doc["rules"][0])
    doc["store"] = f"sqlite:///{tmp_path / 'versions.db'}"
    doc["rules"] = [
        {"files": [str(rules)], "label": "v1"},
        {"files": [str(rules.with_name("strict.yaml"))], "label": "v2",
         "effective_from": "2026-10-20T00:00:00+02:00"},
    ]  # fmt: skip
    config = tmp_path / "slaplug.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    settings = load_settings(config, environ=site.env)
    with open_runtime(settings) as rt:
        client = Client(create_app(settings, runtime=rt, clock=lambda: VIEW_AT))
        try:
            manager = _bearer(MANAGER_TOKEN)
            for period in ("2026-11", "2026-10"):
                report = CliRunner().invoke(
                    main,
                    ["report", "--config", str(config), "--period", period, "--format",
                     "json", "--at", VIEW_AT.isoformat()],
                    env=site.env,
                )  # fmt: skip
                assert report.exit_code == 0, report.output
                served = client.get(f"/dashboard/compliance.json?period={period}", headers=manager)
                assert served.text == report.stdout  # stderr may say it is a preview
                assert {r["terms_version"] for r in json.loads(served.text)["results"]} == {
                    "v1" if period == "2026-10" else "v2"
                }
        finally:
            client.close()

"""The plugin contract: each hook documented, typed, tested; and each hook's behaviour."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import slaplug
from slaplug import hookimpl, hookspecs
from slaplug.connectors import ApplyResult, ApplyStatus
from slaplug.model import Action, ActionKind, MeasureState, Metric, SlaMeasure, Ticket
from slaplug.plugins import enrich_ticket, holidays_for, pm

HOOKS_MD = Path(__file__).resolve().parent.parent / "docs" / "plugins" / "hooks.md"


def hook_names() -> list[str]:
    return sorted(n for n, f in vars(hookspecs).items() if hasattr(f, "slaplug_spec"))


def hook_sections() -> dict[str, str]:
    """``## name(args)`` heading -> the section's text, from docs/plugins/hooks.md."""
    text = HOOKS_MD.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {p.split("(", 1)[0].strip(): "## " + p for p in parts}


@pytest.fixture
def plugin():
    registered: list[str] = []

    def _register(obj: object) -> None:
        name = f"undo-{len(registered)}"
        pm.register(obj, name=name)
        registered.append(name)

    yield _register
    for name in registered:
        pm.unregister(name=name)


# -- meta-tests ---------------------------------------------------------------------------


def test_the_contract_has_the_hooks_we_document() -> None:
    assert hook_names() == [
        "enrich_ticket",
        "holidays",
        "on_action_applied",
        "on_breach",
        "on_credit_statement",
        "register_connectors",
        "register_fakes",
        "register_notifiers",
    ]


@pytest.mark.parametrize("name", hook_names())
def test_hook_is_documented(name: str) -> None:
    sections = hook_sections()
    assert name in sections, f"add a '## {name}(...)' section to {HOOKS_MD.name}"
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert sections[name].startswith(f"## {name}({params})"), "heading must list the arguments"
    assert "```python\n" in sections[name], "give the hook a runnable example"
    assert "@hookimpl" in sections[name]


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_docstring_and_annotations(name: str) -> None:
    spec = getattr(hookspecs, name)
    doc = inspect.getdoc(spec) or ""
    assert doc, f"{name} has no docstring"
    signature = inspect.signature(spec)
    assert signature.return_annotation is not inspect.Signature.empty
    for param in signature.parameters.values():
        assert param.annotation is not inspect.Parameter.empty, f"{name}({param.name}) is untyped"
        assert f"{param.name}:" in doc, f"{name}'s docstring does not describe {param.name}"


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_test(name: str) -> None:
    assert f"test_hook_{name}" in globals()


def test_all_is_complete() -> None:
    assert slaplug.__all__ == sorted(slaplug.__all__)
    assert "hookimpl" in slaplug.__all__ and slaplug.hookimpl is hookspecs.hookimpl


# -- one test per hook --------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TICKET = Ticket(id="7", connector="tiny", created_at=T0, status="open", fields={"tier": "silver"})
ACTION = Action(
    kind=ActionKind.NOTIFY,
    params={"channel": "slack", "message": "hi"},
    connector="tiny",
    ticket_id="7",
    key="tiny:7:p:first_response:1:e:1",
    escalation="e",
    level=1,
    policy="p",
    metric=Metric.FIRST_RESPONSE,
    cycle=1,
)


def test_hook_register_connectors(plugin) -> None:
    from tinydesk import TinyConnector

    from slaplug.plugins import get_connectors

    class P:
        @hookimpl
        def register_connectors(self, register):
            register(TinyConnector)

    plugin(P())
    assert get_connectors()["tiny"] is TinyConnector


def test_hook_register_notifiers(plugin) -> None:
    from slaplug.plugins import notifier_for

    sent = []

    class P:
        @hookimpl
        def register_notifiers(self, register):
            register(
                "slack", lambda channel, message, action, ticket: sent.append((channel, message))
            )

    plugin(P())
    notifier_for("slack:#leads")("slack:#leads", "breached", ACTION, TICKET)
    assert sent == [("slack:#leads", "breached")]


def test_hook_register_fakes(plugin) -> None:
    from slaplug.plugins import get_fakes

    class P:
        @hookimpl
        def register_fakes(self, register):
            def run(argv: list[str]) -> int:
                """Serve a fake AcmeDesk."""
                return len(argv)

            register("acmedesk", run)

    plugin(P())
    assert get_fakes()["acmedesk"](["--port", "0"]) == 2


def test_hook_holidays(plugin) -> None:
    assert holidays_for("office", "DE", None, range(2026, 2027)) is None  # nobody answers

    class Shutdown:
        @hookimpl
        def holidays(self, calendar_name, years):  # fewer arguments than the spec: allowed
            if calendar_name != "office":
                return None
            return [date(y, 12, 24) for y in years] + [date(2026, 12, 24)]

    plugin(Shutdown())
    assert holidays_for("office", "DE", None, range(2026, 2028)) == [
        date(2026, 12, 24),
        date(2027, 12, 24),
    ]
    assert holidays_for("other", None, None, range(2026, 2027)) is None


def test_hook_enrich_ticket(plugin) -> None:
    assert enrich_ticket(TICKET) is TICKET

    class Crm:
        @hookimpl
        def enrich_ticket(self, ticket):
            return {"tier": "gold", "region": "eu"}

    class Late:
        @hookimpl(trylast=True)
        def enrich_ticket(self, ticket):
            return {"tier": "bronze", "seats": 40}

    plugin(Late())
    plugin(Crm())
    enriched = enrich_ticket(TICKET)
    # Plugins override the platform; the first plugin called wins a clash.
    assert dict(enriched.fields) == {"tier": "gold", "region": "eu", "seats": 40}
    assert TICKET.fields["tier"] == "silver"


def test_hook_on_breach(plugin) -> None:
    seen = []

    class Pager:
        @hookimpl
        def on_breach(self, ticket, measure):
            seen.append((ticket.key, measure.metric))

    plugin(Pager())
    measure = SlaMeasure(
        policy="p",
        metric=Metric.FIRST_RESPONSE,
        cycle=1,
        state=MeasureState.BREACHED,
        target=timedelta(hours=1),
        start=T0,
        deadline=T0 + timedelta(hours=1),
        elapsed=timedelta(hours=2),
        remaining=timedelta(hours=-1),
        percent=200.0,
        breached_at=T0 + timedelta(hours=1),
        stopped_at=None,
        calendar="24x7",
        priority=None,
    )
    pm.hook.on_breach(ticket=TICKET, measure=measure)
    assert seen == [("tiny:7", Metric.FIRST_RESPONSE)]


def test_hook_on_action_applied(plugin) -> None:
    seen = []

    class Audit:
        @hookimpl
        def on_action_applied(self, action, result):
            seen.append((action.key, result.status))

    plugin(Audit())
    pm.hook.on_action_applied(action=ACTION, result=ApplyResult(ACTION.key, ApplyStatus.APPLIED))
    assert seen == [(ACTION.key, ApplyStatus.APPLIED)]


def test_hook_on_credit_statement(plugin) -> None:
    from test_credits import CONTRACT, NOW, OCT, worked_example

    from slaplug.credits.compute import compute
    from slaplug.credits.statement import statement_for

    notes = {}

    class Notes:
        @hookimpl
        def on_credit_statement(self, statement):
            notes[statement.key] = statement.text

    plugin(Notes())
    result = compute(CONTRACT, OCT, worked_example(), computed_at=NOW)
    pm.hook.on_credit_statement(statement=statement_for(result))
    assert list(notes) == ["credit:enterprise:2026-10:0"]
    assert notes["credit:enterprise:2026-10:0"].startswith(
        "Service credit enterprise 2026-10: 20 % = 2000.00 EUR"
    )

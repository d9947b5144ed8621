"""Escalation actions keep their identity when a level is edited (issue 16).

An action's key ends with what it does (its tag, field, channel, a hash of its text, or an
explicit ``id:``), never its position: inserting an action at the top of a level applies the
new one once and writes nothing twice; a store from before keeps its applied actions applied.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from tinydesk import TOKEN, TinyConfig, TinyConnector, TinyFake

from slaplug.errors import RuleError
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.store.schema import ledger
from slaplug.sync import Sync

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
#: Before every tinydesk ticket: the history's breaches are escalated (a backfill).
BACKFILL = {"tiny": datetime(2000, 1, 1, tzinfo=UTC)}

POLICY = """\
policies:
  - name: p
    targets: {first_response: {"*": 1h}}
escalations:
  - name: frt-breached
    when: {metric: first_response, breached: true}
    actions:
"""
V1 = (
    POLICY
    + """\
      - add_tag: sla_breached
      - comment: "First response target missed ({{ measure.target }})."
"""
)
#: V1 with one action inserted at the top of the level.
V2 = (
    POLICY
    + """\
      - add_tag: sla_new
      - add_tag: sla_breached
      - comment: "First response target missed ({{ measure.target }})."
"""
)


def pack_of(tmp_path: Path, text: str, name: str = "rules.yaml") -> RulePack:
    path = tmp_path / name
    path.write_text(text)
    return RulePack.load([path], engine="python")


@pytest.fixture
def desk() -> Iterator[tuple[TinyFake, TinyConnector]]:
    with TinyFake() as fake:
        config = TinyConfig.load(
            {"base_url": fake.base_url, "api_token_env": "T"},
            connector="tiny",
            environ={"T": TOKEN},
        )
        with TinyConnector(config, instance="tiny") as conn:
            yield fake, conn


def sync_with(store: Store, pack: RulePack, conn: TinyConnector) -> Sync:
    return Sync(store, pack, {"tiny": conn}, clock=lambda: NOW, escalate_from=BACKFILL)


def reprocess(job: Sync, conn: TinyConnector, fake: TinyFake) -> None:
    """Every ticket again, with its full history, as a webhook's re-read would bring it."""
    job.process("tiny", [conn.read_ticket(i) for i in fake.tickets])


def test_a_level_s_keys_do_not_depend_on_positions(
    tmp_path: Path, desk: tuple[TinyFake, TinyConnector]
) -> None:
    """The same action has the same key in v1 and in v2, where it moved down one place."""
    ticket = desk[1].read_ticket("1")
    with pack_of(tmp_path, V1, "v1.yaml") as v1, pack_of(tmp_path, V2, "v2.yaml") as v2:
        keys1 = {a.kind.value + str(dict(a.params)): a.key for a in v1.assess(ticket, NOW).actions}
        keys2 = {a.kind.value + str(dict(a.params)): a.key for a in v2.assess(ticket, NOW).actions}
    assert len(keys1) == 2 and len(keys2) == 3
    assert {k: keys2[k] for k in keys1} == keys1
    assert keys2["add_tag{'tag': 'sla_new'}"].endswith(":frt-breached:1:add_tag=sla_new")


def test_inserting_an_action_at_the_top_applies_it_once_and_repeats_nothing(
    tmp_path: Path, desk: tuple[TinyFake, TinyConnector]
) -> None:
    fake, conn = desk
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        with pack_of(tmp_path, V1, "v1.yaml") as v1:
            first = sync_with(store, v1, conn).run_once()
        assert first.applied == 10  # 5 tickets, each breached: a tag and a comment
        with pack_of(tmp_path, V2, "v2.yaml") as v2:
            job = sync_with(store, v2, conn)
            reprocess(job, conn, fake)
            reprocess(job, conn, fake)  # and once more: still nothing new
    for t in fake.tickets.values():
        assert sorted(t["tags"]) == ["sla_breached", "sla_new"], t["id"]
        assert len(t["comments"]) == 1, f"ticket {t['id']}: the comment was posted again"


def test_an_upgraded_store_s_positional_keys_are_not_applied_again(
    tmp_path: Path, desk: tuple[TinyFake, TinyConnector]
) -> None:
    """Keys planned before identities ended with the action's position (``...:1:2``)."""
    fake, conn = desk
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        with pack_of(tmp_path, V1, "v1.yaml") as v1:
            assert sync_with(store, v1, conn).run_once().applied == 10
        # Make it a store (and a helpdesk) of the old version: key = level + position.
        position = {"add_tag=sla_breached": 1}
        with store.engine.begin() as db:
            for key, action in db.execute(select(ledger.c.key, ledger.c.action)).all():
                level, ident = key.rsplit(":", 1)
                old = f"{level}:{position.get(ident, 2)}"
                db.execute(
                    update(ledger)
                    .where(ledger.c.key == key)
                    .values(key=old, action=action.replace(key, old))
                )
                for t in fake.tickets.values():
                    for c in t["comments"]:
                        if c["key"] == key:
                            c["key"] = old
        with pack_of(tmp_path, V2, "v2.yaml") as v2:
            job = sync_with(store, v2, conn)
            reprocess(job, conn, fake)
            reprocess(job, conn, fake)
        with store.engine.connect() as db:
            keys = db.execute(select(ledger.c.key, ledger.c.status)).all()
    for t in fake.tickets.values():
        assert sorted(t["tags"]) == ["sla_breached", "sla_new"], t["id"]
        assert len(t["comments"]) == 1, f"ticket {t['id']}: the comment was posted again"
    assert all(not k.rsplit(":", 1)[1].isdigit() for k, _ in keys), "legacy keys left"
    assert sorted({s for _, s in keys}) == ["applied"]
    assert len(keys) == 15


def test_two_actions_with_one_identity_are_an_error_at_the_second(tmp_path: Path) -> None:
    rules = (
        POLICY
        + """\
      - comment: "Missed."
      - add_tag: x
      - comment: "Missed."
"""
    )
    path = tmp_path / "dup.yaml"
    path.write_text(rules)
    with pytest.raises(RuleError) as err:
        RulePack.load([path], engine="python")
    text = str(err.value)
    assert f"{path}:10:9" in text, text
    assert "same as action 1" in text and "id:" in text


def test_an_explicit_id_names_the_action_and_separates_twins(
    tmp_path: Path, desk: tuple[TinyFake, TinyConnector]
) -> None:
    rules = POLICY + textwrap.indent(
        textwrap.dedent("""\
        - comment: "Missed."
          id: first-note
        - comment: "Missed."
          id: second-note
        """),
        "      ",
    )
    ticket = desk[1].read_ticket("1")
    with pack_of(tmp_path, rules) as pack:
        keys = [a.key.rsplit(":", 1)[1] for a in pack.assess(ticket, NOW).actions]
    assert keys == ["id=first-note", "id=second-note"]

"""``slaplug rules diff OLD NEW``: what a deploy would change, before it is deployed (issue 16)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from tinydesk import TOKEN, TinyConfig, TinyConnector, TinyFake

from slaplug import hookimpl
from slaplug.cli import main
from slaplug.connectors import Connector
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.sync import Sync

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def rules(resolution: str, actions: list[str]) -> str:
    lines = "".join(f"      - {a}\n" for a in actions)
    return (
        "policies:\n  - name: p\n"
        f'    targets: {{first_response: {{"*": 1h}}, resolution: {{"*": {resolution}}}}}\n'
        "escalations:\n  - name: frt-breached\n"
        "    when: {metric: first_response, breached: true}\n    actions:\n" + lines
    )


TAG = "add_tag: sla_breached"
NOTE = 'comment: "First response target missed ({{ measure.target }})."'
V1 = rules("400h", [TAG, NOTE])
#: A tag inserted at the top, the comment removed, the resolution target shortened.
V2 = rules("300h", ["add_tag: sla_new", TAG])


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "v1.yaml").write_text(V1)
    (tmp_path / "v2.yaml").write_text(V2)
    return tmp_path / "v1.yaml", tmp_path / "v2.yaml"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["rules", "diff", *args])
    return result.exit_code, result.output


def test_the_rules_alone_tell_added_removed_and_changed_not_moved(files) -> None:
    code, out = run(str(files[0]), str(files[1]), "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert [(a["escalation"], a["level"], a["identity"]) for a in doc["added"]] == [
        ("frt-breached", 1, "add_tag=sla_new")
    ]
    # sla_breached moved from 1st to 2nd place: no change. The comment is gone for good.
    assert [a["kind"] for a in doc["removed"]] == ["comment"]
    assert doc["policies_changed"] == ["p: targets changed"]
    assert doc["store"] is None
    code, text = run(str(files[0]), str(files[1]))
    assert "+ frt-breached L1 add_tag=sla_new: add_tag" in text
    assert "- frt-breached L1 comment=" in text


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


class _TinyPlugin:
    @hookimpl
    def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
        register(TinyConnector)


def test_with_the_store_it_says_what_would_fire_and_which_open_clocks_move(
    tmp_path: Path, files, desk, slaplug_register
) -> None:
    slaplug_register(_TinyPlugin(), name="rules-diff-tiny")
    fake, conn = desk
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store, RulePack.load([files[0]], engine="python") as v1:
        backfill = {"tiny": datetime(2000, 1, 1, tzinfo=UTC)}
        done = Sync(store, v1, {"tiny": conn}, clock=lambda: NOW, escalate_from=backfill)
        assert done.run_once().applied == 10
    config = tmp_path / "slaplug.yaml"
    config.write_text(
        f"store: sqlite:///{db}\nrules: [{files[0]}]\nescalate_from: 2000-01-01\n"
        f"connectors:\n  tiny: {{plugin: tiny, base_url: '{fake.base_url}', api_token_env: TINY}}\n"
    )
    code, out = run(
        str(files[0]), str(files[1]), "--config", str(config), "--at", NOW.isoformat(), "--json"
    )
    assert code == 0, out
    store = json.loads(out)["store"]
    assert store["tickets"] == 5
    # Only the new tag: the moved tag and the comment were applied under v1 already.
    assert store["newly_firing"] == {
        "frt-breached L1 add_tag=sla_new": [f"tiny:{i}" for i in sorted(fake.tickets)]
    }
    assert store["no_longer_firing"] == {}
    clocks = {(c["ticket"], c["clock"]): c for c in store["clocks"]}
    assert set(clocks) == {(f"tiny:{i}", "p/resolution#1") for i in fake.tickets}
    one = clocks[("tiny:1", "p/resolution#1")]
    assert (one["old"]["target"], one["new"]["target"]) == (
        "16 days, 16:00:00",
        "12 days, 12:00:00",
    )
    assert one["old"]["deadline"] != one["new"]["deadline"]
    code, text = run(str(files[0]), str(files[1]), "--config", str(config), "--at", NOW.isoformat())
    assert "would newly fire at the next sync: 5 action(s)" in text
    assert "open clocks that change: 5" in text

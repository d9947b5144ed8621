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
    assert doc["policies_changed"] == ["p: targets.resolution.* 400h -> 300h"]
    assert doc["store"] is None
    code, text = run(str(files[0]), str(files[1]))
    assert "+ frt-breached L1 add_tag=sla_new: add_tag" in text
    assert "- frt-breached L1 comment=" in text


CONTRACTED = """calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-17:00"}
    holidays: {dates: [2026-12-24, 2026-12-31]}
policies:
  - name: support
    calendar: office
    targets: {resolution: {urgent: 8h, high: 1h30m}}
contracts:
  - name: gold
    fee: 5000
    objectives:
      - severity: urgent
        metric: resolution
        target: 95
        tiers: [{at_least: 90, below: 95, credit: 10}, {below: 90, credit: 20}]
"""


def test_contract_and_calendar_changes_are_listed_with_what_changed(tmp_path: Path) -> None:
    # Was only "support: targets changed": the fee, a tier's credit and a dropped holiday,
    # what credits and deadlines are computed with, were not listed at all (QA2 #9).
    old, new = tmp_path / "pack.yaml", tmp_path / "pack3.yaml"
    old.write_text(CONTRACTED)
    new.write_text(
        CONTRACTED.replace("fee: 5000", "fee: 9000")
        .replace("credit: 10}", "credit: 15}")
        .replace("[2026-12-24, 2026-12-31]", "[2026-12-31]")
        .replace("Europe/Berlin", "Europe/Paris")
        .replace("urgent: 8h", "urgent: 6h")
    )
    code, out = run(str(old), str(new), "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["policies_changed"] == ["support: targets.resolution.urgent 8h -> 6h"]
    assert doc["contracts_changed"] == [
        "gold: fee 5000 -> 9000",
        "gold: objectives[urgent resolution].tiers[0].credit 10 % -> 15 %",
    ]
    assert doc["calendars_changed"] == [
        "office: timezone Europe/Berlin -> Europe/Paris",
        "office: holidays.dates: removed 2026-12-24",
    ]
    code, text = run(str(old), str(new))
    assert "contracts:\n  ~ gold: fee 5000 -> 9000\n" in text
    assert "calendars:\n  ~ office: timezone Europe/Berlin -> Europe/Paris\n" in text
    code, same = run(str(old), str(old))
    assert "contracts:\n  unchanged\ncalendars:\n  unchanged\n" in same


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
    # Business time as targets are written; was "16 days, 16:00:00" (a "day" of 24 business
    # hours, read as a calendar day).
    assert (one["old"]["target"], one["new"]["target"]) == ("400h", "300h")
    assert one["old"]["deadline"] != one["new"]["deadline"]
    code, text = run(str(files[0]), str(files[1]), "--config", str(config), "--at", NOW.isoformat())
    assert "would newly fire at the next sync: 5 action(s)" in text
    assert "open clocks that change: 5" in text


# -- a dated version in slaplug.yaml: applied as the sync applies it ---------------------------

#: Between tickets 3 and 4 of the fake (opened on 3 and 4 March at 08:00 UTC).
EFFECTIVE = "2026-03-03T12:00:00+00:00"


def _synced_store(tmp_path: Path, files: tuple[Path, Path], desk) -> tuple[Path, TinyFake]:
    """A store synced under v1 alone, then a slaplug.yaml adding v2 with its date."""
    fake, conn = desk
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store, RulePack.load([files[0]], engine="python") as v1:
        backfill = {"tiny": datetime(2000, 1, 1, tzinfo=UTC)}
        done = Sync(store, v1, {"tiny": conn}, clock=lambda: NOW, escalate_from=backfill)
        assert done.run_once().applied == 10
    config = tmp_path / "slaplug.yaml"
    config.write_text(
        f"store: sqlite:///{db}\nescalate_from: 2000-01-01\n"
        "rules:\n"
        f"  - {{files: [{files[0].name}], label: v1}}\n"
        f"  - {{files: [{files[1].name}], label: v2, effective_from: '{EFFECTIVE}'}}\n"
        f"connectors:\n  tiny: {{plugin: tiny, base_url: '{fake.base_url}', api_token_env: TINY}}\n"
    )
    return config, fake


def test_a_dated_version_changes_only_the_clocks_whose_cycle_starts_after_its_date(
    tmp_path: Path, files, desk, slaplug_register
) -> None:
    slaplug_register(_TinyPlugin(), name="rules-diff-tiny")
    config, _ = _synced_store(tmp_path, files, desk)
    code, out = run("--config", str(config), "--at", NOW.isoformat(), "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["version"] == {"old": "v1", "new": "v2", "effective_from": EFFECTIVE}
    # What the rules alone tell is the two versions' difference, as with the files.
    assert [a["identity"] for a in doc["added"]] == ["add_tag=sla_new"]
    assert doc["policies_changed"] == ["p: targets.resolution.* 400h -> 300h"]
    store = json.loads(out)["store"]
    # Tickets 1-3 opened before the date: their cycles stay on v1, nothing changes for them.
    assert store["newly_firing"] == {"frt-breached L1 add_tag=sla_new": ["tiny:4", "tiny:5"]}
    assert sorted(c["ticket"] for c in store["clocks"]) == ["tiny:4", "tiny:5"]
    assert store["kept_on_older_version"] == 3
    # The same two files compared as OLD NEW move every open clock: no date applies there.
    code, plain = run(
        *(str(tmp_path / n) for n in ("v1.yaml", "v2.yaml")),
        "--config",
        str(config),
        "--at",
        NOW.isoformat(),
        "--json",
    )
    assert code == 0, plain
    assert len(json.loads(plain)["store"]["clocks"]) == 5
    assert json.loads(plain)["version"] is None
    code, text = run("--config", str(config), "--at", NOW.isoformat())
    assert text.startswith(f"rules diff: version v1 -> v2 (in force from {EFFECTIVE};")
    assert "would newly fire at the next sync: 2 action(s)" in text
    assert "open clocks that change: 2" in text
    assert f"stay on an older version (their cycle started before {EFFECTIVE}): 3" in text
    # docs/rules/language.md shows this very output.
    page = (Path(__file__).parent.parent / "docs" / "rules" / "language.md").read_text()
    shown = page.split("$ slaplug rules diff --config slaplug.yaml\n")[1].split("```")[0]
    assert shown == text
    # --version names the version compared with the one before it.
    code, named = run("--config", str(config), "--version", "v2", "--at", NOW.isoformat())
    assert (code, named) == (0, text)


def test_version_diff_mistakes_say_what_to_do(tmp_path: Path, files) -> None:
    one = tmp_path / "one.yaml"
    one.write_text(f"store: sqlite:///{tmp_path / 's.db'}\nrules: [{files[0].name}]\n")
    code, out = run("--config", str(one))
    assert code == 2
    assert f"{one}: rules has one version, so there is nothing to compare it with" in out
    assert "effective_from" in out and "or give the OLD and NEW rules files" in out
    two = tmp_path / "two.yaml"
    two.write_text(
        f"store: sqlite:///{tmp_path / 's.db'}\nrules:\n"
        f"  - {{files: [{files[0].name}], label: v1}}\n"
        f"  - {{files: [{files[1].name}], label: v2, effective_from: '{EFFECTIVE}'}}\n"
    )
    code, out = run("--config", str(two), "--version", "v3")
    assert code == 2
    assert f"{two}: no rules version labelled 'v3'; its versions are v1, v2" in out
    code, out = run("--config", str(two), "--version", "v1")
    assert code == 2 and "'v1' is the first" in out and "give --version one of v2" in out
    code, out = run()
    assert code == 2 and "--config slaplug.yaml" in out
    code, out = run(str(files[0]))
    assert code == 2 and "give both OLD and NEW" in out
    code, out = run(str(files[0]), str(files[1]), "--version", "v2")
    assert code == 2 and "--version compares the rules versions of --config" in out

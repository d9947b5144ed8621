"""The rules compiler: every problem at file:line:col, conditions compiled to the tree."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from slaplug.errors import RuleError
from slaplug.rules.compile import compile_files
from slaplug.rules.conditions import All, AnyOf, Compare, Contains, Exists, In, Not

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return p


def problems(path: Path) -> list[str]:
    with pytest.raises(RuleError) as info:
        compile_files([path])
    return [str(p) for p in info.value.problems]


def test_shipped_pack_compiles() -> None:
    src = compile_files([REPO / "rules" / "default.yaml"])
    assert [p.name for p in src.policies] == ["customer-sla", "second-line-ola"]
    assert {"support-berlin", "second-line", "24x7"} <= set(src.calendars)


def test_conditions_compile_to_the_tree(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        fields: {tier: str, seats: num}
        policies:
          - name: p
            match:
              priority: [urgent, high]
              tags: vip
              fields.seats: {gte: 100}
              not: {status: closed}
              any: [{group: a}, {assignee: {exists: false}}]
            targets: {resolution: {"*": 4h}}
        escalations:
          - name: e
            when: {remaining: {lte: 30m}, tags: {not_contains: [x, y]}, breached: false}
            actions: [{add_tag: t}]
        """,
    )
    src = compile_files([p])
    assert src.policy_match[0] == All(
        (
            In("priority", ("urgent", "high")),
            Contains("tags", "vip"),
            Compare("fields.seats", "ge", 100),
            Not(Compare("status", "eq", "closed")),
            AnyOf((Compare("group", "eq", "a"), Exists("assignee", negate=True))),
        )
    )
    assert src.escalation_levels[0][0] == All(
        (
            Compare("remaining", "le", 1800.0),
            All((Contains("tags", "x", negate=True), Contains("tags", "y", negate=True))),
            Compare("breached", "eq", False),
        )
    )


def test_every_schema_problem_is_reported_with_file_line_col(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        calendars:
          office:
            timezone: Europe/Berln
            hours: {mon-fri: "22:00-06:00"}
        policies:
          - name: all
            targets:
              first_response: {urgent: 1d}
        escalations:
          - name: e
            when: {breached: true}
            actions:
              - add_tag: x
                remove_tag: y
            colour: red
        """,
    )
    found = problems(p)
    f = str(p)
    assert (
        f'{f}:3:15: calendars.office.timezone: "Europe/Berln" is not an IANA time zone; use a name like "Europe/Berlin" or "UTC"'
        in found
    )
    assert any(
        s.startswith(f"{f}:4:22: calendars.office.hours.mon-fri[0]:") and '"22:00-24:00"' in s
        for s in found
    )
    assert any(
        s.startswith(f"{f}:8:32: policies[0].targets.first_response.urgent:") and "ambiguous" in s
        for s in found
    )
    assert any(s.startswith(f"{f}:13:9: escalations[0].actions[0]:") for s in found)
    assert f'{f}:15:5: escalations[0].colour: unknown key "colour"; check its spelling' in found
    assert len(found) == 5


def test_semantic_problems_are_reported_together(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        policies:
          - name: all
            calendar: ofice
            targets: {first_response: {urgent: 1h}}
          - name: never
            match: {priority: urgent}
            targets: {resolution: {"*": 4h}}
        escalations:
          - name: warn
            when: {metric: first_reponse, percnt: {gte: 75}, tags: {gt: 3}}
            actions:
              - comment: "Due {{ measure.dealine }}"
        """,
    )
    found = problems(p)
    f = str(p)
    assert (
        f'{f}:3:15: policies[0].calendar: unknown calendar "ofice"; declare it under calendars: or use one of 24x7'
        in found
    )
    assert any(s.startswith(f"{f}:5:5: policies[1]:") and "can never apply" in s for s in found)
    assert (
        f'{f}:10:20: escalations[0].when.metric.eq: "first_reponse" is not a metric; did you mean "first_response"?'
        in found
    )
    assert (
        f'{f}:10:35: escalations[0].when.percnt: unknown field "percnt"; did you mean "percent"?'
        in found
    )
    assert any(s.startswith(f"{f}:10:65: escalations[0].when.tags.gt:") for s in found)
    assert (
        f'{f}:12:18: escalations[0].actions[0].comment: template names unknown field "measure.dealine"; did you mean "measure.deadline"?'
        in found
    )


def test_yaml_syntax_error_and_duplicate_keys(tmp_path: Path) -> None:
    broken = write(tmp_path, "policies:\n  - name: [unclosed\n", "a.yaml")
    assert problems(broken)[0].startswith(f"{broken}:3:1: YAML syntax:")
    dup = write(tmp_path, "policies: []\npolicies: []\n", "b.yaml")
    assert problems(dup) == [
        f'{dup}:2:1: policies: "policies" is given twice in this mapping; keep one'
    ]


def test_measure_fields_are_not_allowed_in_policy_match(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        policies:
          - name: p
            match: {percent: {gte: 5}}
            targets: {resolution: {"*": 4h}}
        """,
    )
    assert problems(p) == [
        f'{p}:3:13: policies[0].match.percent: "percent" is a measure field; policies match on ticket fields only'
    ]


def test_rules_check_cli_exits_2_with_no_traceback(tmp_path: Path) -> None:
    p = write(tmp_path, "policies:\n  - name: x\n    targets: {resolution: {'*': 4}}\n")
    run = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "rules", "check", str(p)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"{p}:3:33: policies[0].targets.resolution.*: 4 needs a unit" in run.stderr


def test_problems_are_listed_in_reading_order_across_files(tmp_path: Path) -> None:
    # The schema finds the bad duration (line 5) before the unknown key (line 3): the list
    # still reads top to bottom, file by file in the order given.
    first = write(
        tmp_path,
        """
        version: 1
        policies:
          - name: x
            calender: y
            targets: {first_response: {urgent: 1hour}}
        """,
        "a.yaml",
    )
    second = write(tmp_path, "version: 1\nbogus: 1\n", "b.yaml")
    run = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "rules", "check", str(first), str(second)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    located = [line.split(": ", 1)[0] for line in run.stderr.splitlines()[:-1]]
    assert located == [f"{first}:4:5", f"{first}:5:40", f"{second}:2:1"], run.stderr


def test_rules_check_cli_accepts_the_shipped_pack() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaplug.cli",
            "rules",
            "check",
            str(REPO / "rules" / "default.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ok: 2 policies, 6 escalations, 2 calendars, 2 contracts in 1 file\n"


def test_rules_schema_is_json_schema() -> None:
    import json

    run = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "rules", "schema"],
        capture_output=True,
        text=True,
        check=True,
    )
    schema = json.loads(run.stdout)
    assert {"calendars", "policies", "escalations"} <= set(schema["properties"])


def test_problems_after_a_broken_item_name_the_right_index(tmp_path: Path) -> None:
    # The broken policy is left out of the spec; the one after it must still be policies[1].
    p = write(tmp_path, """
        policies:
          - name: broken
            targets: {resolution: {"*": 1d}}
          - name: ok
            calendar: nope
            targets: {resolution: {"*": 4h}}
        """)
    found = problems(p)
    assert found[1] == f'{p}:5:15: policies[1].calendar: unknown calendar "nope"; declare it under calendars: or use one of 24x7'


def test_a_holidays_plugin_replaces_the_country_tables_in_rules_calendars(tmp_path: Path, slaplug_register) -> None:
    from datetime import date

    from slaplug import hookimpl

    class Shutdown:
        @hookimpl
        def holidays(self, calendar_name, country, subdivision, years):  # type: ignore[no-untyped-def]
            return [date(2026, 3, 3)] if calendar_name == "office" else None

    slaplug_register(Shutdown(), name="undo-shutdown")
    p = write(tmp_path, """
        calendars:
          office:
            timezone: Europe/Berlin
            hours: {mon-fri: "09:00-17:00"}
            holidays: {country: DE, dates: [2026-12-24]}
          plain:
            timezone: Europe/Berlin
            hours: {mon-fri: "09:00-17:00"}
            holidays: {country: DE}
        """)
    from slaplug.plugins import holidays_for

    cals = compile_files([p], holiday_provider=holidays_for).calendars
    assert cals["office"].is_holiday(date(2026, 3, 3))        # the plugin's date
    assert not cals["office"].is_holiday(date(2026, 1, 1))    # the DE table is replaced
    assert cals["office"].is_holiday(date(2026, 12, 24))      # the file's own dates still apply
    assert cals["plain"].is_holiday(date(2026, 1, 1))         # no answer: the built-in table


def test_the_runtime_passes_the_holidays_hook_to_the_rules(tmp_path: Path, slaplug_register) -> None:
    # The compiler no longer asks the plugin manager itself: the runner passes the hook in.
    from datetime import date

    from slaplug import hookimpl
    from slaplug.config import load_settings
    from slaplug.runtime import open_runtime

    class Shutdown:
        @hookimpl
        def holidays(self, calendar_name, country, subdivision, years):  # type: ignore[no-untyped-def]
            return [date(2026, 3, 3)] if calendar_name == "office" else None

    slaplug_register(Shutdown(), name="undo-shutdown-runtime")
    write(tmp_path, """
        calendars:
          office:
            timezone: Europe/Berlin
            hours: {mon-fri: "09:00-17:00"}
            holidays: {country: DE}
        policies:
          - name: p
            calendar: office
            targets: {resolution: {"*": 4h}}
        """)
    (tmp_path / "slaplug.yaml").write_text(
        f"store: sqlite:///{tmp_path / 'store.db'}\nrules: [rules.yaml]\nconnectors: {{}}\n"
    )
    with open_runtime(load_settings(tmp_path / "slaplug.yaml")) as rt:
        (version,) = rt.pack.versions  # type: ignore[union-attr]
        assert version.pack.source.calendars["office"].is_holiday(date(2026, 3, 3))

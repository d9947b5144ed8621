"""``slaplug rules``: check, diff, schema and test a rules pack."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from slaplug.cli._common import (
    ENGINE_OPTION,
    friendly_errors,
    parse_time,
)
from slaplug.errors import Problem, ProblemsError

if TYPE_CHECKING:
    from slaplug.config import Settings
    from slaplug.rules.diff import RulesDiff, VersionChange
    from slaplug.rules.pack import RulePack
    from slaplug.rules.versions import VersionedPack


@click.group()
def rules() -> None:
    """Check, test and describe rules files."""


@rules.command("check")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Also check the rules against this slaplug.yaml (every notify channel is served); "
    "without PATHS, check every rules version it configures.",
)
@friendly_errors
def rules_check(paths: tuple[str, ...], config_path: str | None) -> None:
    """Check rules files; print every problem as file:line:col and exit 2 if any."""
    from slaplug.errors import ConfigError
    from slaplug.plugins import holidays_for
    from slaplug.rules.compile import compile_files

    if not paths and config_path is None:
        raise ConfigError(
            "give the rules files to check, or --config slaplug.yaml to check every "
            "configured rules version"
        )
    if config_path is None:
        src = compile_files(paths, holiday_provider=holidays_for)
        click.echo(f"ok: {_checked(src, len(paths))}")
        return
    from slaplug.credits.run import load_offline_settings
    from slaplug.notify.channels import unserved

    # No secret is used: a CI job without the tokens or the notify channels' secrets checks.
    settings = load_offline_settings(config_path)
    versions = (
        [("", tuple(Path(p) for p in paths))]
        if paths
        else [(v.label, v.files) for v in settings.rules_versions]
    )
    if not versions:
        raise ConfigError(f"{settings.path}: no rules files; add them under rules:")
    problems: list[Problem] = []
    lines: list[str] = []
    for label, files in versions:
        # Every version is checked, each one's problems reported with the others'.
        try:
            src = compile_files(files, holiday_provider=holidays_for)
        except ProblemsError as exc:
            problems += exc.problems
            continue
        problems += unserved(src.writes, settings.notify, str(settings.path))
        lines.append("ok: " + (f"rules {label}: " if label else "") + _checked(src, len(files)))
    if problems:
        raise ProblemsError(problems)
    for line in lines:
        click.echo(line)


def _checked(src: Any, files: int) -> str:
    """``2 policies, 1 escalation, 1 calendar, 1 contract in 1 file``."""
    counts = [
        (len(src.policies), "policy", "policies"),
        (len(src.escalations), "escalation", "escalations"),
        (len(src.calendars) - 1, "calendar", "calendars"),  # 24x7 is built in
        (len(src.contracts), "contract", "contracts"),
        (files, "file", "files"),
    ]
    said = [f"{n} {one if n == 1 else many}" for n, one, many in counts]
    return ", ".join(said[:-1]) + " in " + said[-1]


@rules.command("diff")
@click.argument("old", required=False, type=click.Path(exists=True, dir_okay=False))
@click.argument("new", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Also assess the stored tickets under both (snapshots and ledger of this slaplug.yaml). "
    "Without OLD NEW: compare its newest rules version with the one before it.",
)
@click.option(
    "--version",
    "label",
    help="Without OLD NEW: compare this configured rules version (its label) with the one "
    "before it, instead of the newest.",
)
@click.option("--at", "at", help="Assess at this time (ISO 8601 with offset); default now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@friendly_errors
def rules_diff(
    old: str | None,
    new: str | None,
    config_path: str | None,
    label: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """What deploying NEW instead of OLD would change: actions added and removed (by identity,
    not position), levels and policies changed and, with --config, what would newly fire at the
    next sync, what would no longer fire, and which open clocks change.

    Without OLD NEW, --config compares its newest rules version (or --version's) with the one
    before it, as the sync applies them: a clock whose cycle started before the version's
    effective_from stays on the older version and shows no change."""
    from slaplug.errors import ConfigError

    if (old is None) != (new is None):
        raise click.UsageError(
            "give both OLD and NEW rules files, or neither and --config slaplug.yaml to "
            "compare its rules versions"
        )
    if old is not None and label is not None:
        raise click.UsageError(
            "--version compares the rules versions of --config; give it without OLD NEW"
        )
    if old is None:
        if config_path is None:
            raise ConfigError(
                "give the OLD and NEW rules files, or --config slaplug.yaml to compare its "
                "newest rules version with the one before it"
            )
        _diff_versions(config_path, label, at, as_json)
        return
    assert new is not None
    from slaplug.plugins import holidays_for
    from slaplug.rules.diff import diff_packs, render_text
    from slaplug.rules.pack import RulePack

    with (
        RulePack.load([Path(old)], engine="python", holiday_provider=holidays_for) as before,
        RulePack.load([Path(new)], engine="python", holiday_provider=holidays_for) as after,
    ):
        if config_path is None:
            result = diff_packs(before, after)
        else:
            result = _diff_stored(config_path, before, after, at)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(f"rules diff: {old} -> {new}")
        click.echo(render_text(result), nl=False)


def _diff_versions(config_path: str, label: str | None, at: str | None, as_json: bool) -> None:
    """``rules diff --config`` without OLD NEW: a configured version against its predecessor,
    each side the versions up to it, assessed as the sync assesses them (`VersionedPack`)."""
    from contextlib import ExitStack

    from slaplug.credits.run import load_offline_settings
    from slaplug.errors import ConfigError
    from slaplug.plugins import holidays_for
    from slaplug.rules.diff import VersionChange, render_text
    from slaplug.rules.pack import RulePack
    from slaplug.rules.versions import RulesVersion, VersionedPack

    settings = load_offline_settings(config_path)
    configured = settings.rules_versions
    if len(configured) < 2:
        raise ConfigError(
            f"{settings.path}: rules has one version, so there is nothing to compare it with. "
            "Add the change as a dated version, e.g. "
            "rules: [{files: [rules/v1.yaml], label: v1}, "
            "{files: [rules/v2.yaml], label: v2, effective_from: 2026-12-01T00:00:00+01:00}], "
            "or give the OLD and NEW rules files"
        )
    labels = [v.label for v in configured]
    if label is None:
        i = len(configured) - 1
    elif label in labels:
        i = labels.index(label)
    else:
        raise ConfigError(
            f"{settings.path}: no rules version labelled {label!r}; its versions are "
            f"{', '.join(labels)}"
        )
    if i == 0:
        raise ConfigError(
            f"{settings.path}: rules version {label!r} is the first: there is no version "
            f"before it to compare with; give --version one of {', '.join(labels[1:])}"
        )
    target = configured[i]
    assert target.effective_from is not None  # only the first version goes without a date
    with ExitStack() as stack:
        loaded = [
            RulesVersion(
                v.label,
                v.effective_from,
                stack.enter_context(
                    RulePack.load(v.files, engine="python", holiday_provider=holidays_for)
                ),
            )
            for v in configured[: i + 1]
        ]
        change = VersionChange(configured[i - 1].label, target.label, target.effective_from)
        result = _diff_stored(
            config_path,
            VersionedPack(loaded[:i]),
            VersionedPack(loaded),
            at,
            version=change,
            settings=settings,
        )
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(
            f"rules diff: version {change.old} -> {change.new} (in force from "
            f"{change.effective_from.isoformat()}; a clock keeps the version in force when "
            "its cycle started)"
        )
        click.echo(render_text(result), nl=False)


def _diff_stored(
    config_path: str,
    before: RulePack | VersionedPack,
    after: RulePack | VersionedPack,
    at: str | None,
    *,
    version: VersionChange | None = None,
    settings: Settings | None = None,
) -> RulesDiff:
    """`slaplug.rules.diff.diff_store` over the store of ``config_path``."""
    from slaplug.credits.run import load_offline_settings
    from slaplug.rules.diff import diff_store
    from slaplug.store import Store

    if settings is None:
        settings = load_offline_settings(config_path)
    with Store.open(settings.store) as store:
        when = parse_time(at)

        def cutoff(connector: str) -> datetime | None:
            """As `Sync.cutoff`: the explicit one, else the go-live, else now."""
            explicit = settings.escalate_from.get(connector)
            if explicit is not None:
                return explicit
            return store.peek_go_live(connector) or when

        return diff_store(
            before,
            after,
            store.iter_snapshots(),
            when,
            planned_before=lambda keys: {k for k in keys if store.ledger_status(k) is not None},
            cutoff=cutoff,
            version=version,
        )


@rules.command("schema")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown"]),
    default="json",
    help="JSON Schema (for editors) or the Markdown reference page.",
)
def rules_schema(fmt: str) -> None:
    """Print the schema of rules files: JSON Schema for editors, or the Markdown reference."""
    if fmt == "markdown":
        from slaplug.rules.docgen import render_reference

        click.echo(render_reference(), nl=False)
        return
    from slaplug.rules.schema import RulePackSpec

    click.echo(json.dumps(RulePackSpec.model_json_schema(), indent=2))


@rules.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@ENGINE_OPTION
@friendly_errors
def rules_test(paths: tuple[str, ...], engine: str | None) -> None:
    """Run policy tests (YAML cases); exit 1 if any fails."""
    from slaplug.plugins import holidays_for
    from slaplug.rules.policytest import run_policy_tests

    failed = passed = 0
    for p in paths:
        for r in run_policy_tests(Path(p), engine=engine, holiday_provider=holidays_for):
            if r.passed:
                passed += 1
                click.echo(f"PASS {r.file}:{r.line} {r.name}")
            else:
                failed += 1
                click.echo(f"FAIL {r.file}:{r.line} {r.name}")
                for f in r.failures:
                    click.echo(f"    {f}")
    click.echo(f"{passed} passed, {failed} failed")
    if failed:
        sys.exit(1)

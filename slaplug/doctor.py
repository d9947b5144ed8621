"""`slaplug doctor`: check a configuration against the live helpdesks before the first sync.

The configuration and the rules are already valid when this runs (loading them checks that).
What only the live systems can tell is checked here: the store opens, every ``notify`` channel
has a deliverer, webhook secrets are set, and each connector's own `Connector.doctor` checks
(credentials, role and permissions, every field, group, user, status and priority the rules
write). A check never stops the others: a connector that is down fails its own checks only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from slaplug import plugins
from slaplug.config import Settings
from slaplug.connectors.base import Capability, Connector
from slaplug.connectors.checks import Check, CheckStatus, DoctorNeeds
from slaplug.connectors.config import ConnectorConfig
from slaplug.connectors.http import UnreachableError
from slaplug.connectors.redact import scrub
from slaplug.errors import AuthenticationError, RetriableAPIError, SlaplugError
from slaplug.model import ActionKind
from slaplug.notify.channels import Channel, unserved
from slaplug.notify.deliver import usable
from slaplug.rules.compile import compile_files
from slaplug.store import Store

if TYPE_CHECKING:
    from slaplug.rules.writes import RuleWrite

__all__ = ["Check", "CheckStatus", "run_checks"]


def run_checks(
    settings: Settings, *, only: str | None = None, skip: Collection[str] = ()
) -> list[Check]:
    """Every check for ``settings``, in the order they ran.

    Args:
        settings: Validated settings (`slaplug.config.load_settings`).
        only: Check only this configured connector (and the shared parts).
        skip: Connectors not to check (``sync --dry-run``: those whose helpdesk just failed).
    """
    checks = [_store_check(settings)]
    # Every rules version: an older one still escalates the cycles that started under it.
    versions = settings.rules_versions or []
    sources = (
        [compile_files(v.files, holiday_provider=plugins.holidays_for) for v in versions]
        if versions
        else []
    )
    writes = [w for src in sources for w in src.writes]
    files = sum(len(v.files) for v in versions)
    escalations = sum(len(src.escalations) for src in sources)
    named = f" in {len(versions)} versions" if len(versions) > 1 else ""
    checks.append(
        Check(
            "rules",
            CheckStatus.OK,
            f"{files} file(s), {escalations} escalation(s), {len(writes)} named write(s){named}",
            subject="rules",
        )
    )
    checks += _notify_checks(writes, settings.notify)
    needs = DoctorNeeds(
        writes=tuple(w for w in writes if w.kind is not ActionKind.NOTIFY),
        kinds=frozenset(
            ActionKind(a.kind)
            for src in sources
            for esc in src.escalations
            for level in esc.level_specs()
            for a in level.actions
        ),
    )
    classes = plugins.get_connectors()
    for name, cs in settings.connectors.items():
        if (only is not None and name != only) or name in skip:
            continue
        cls = classes[cs.plugin]
        webhooks = Capability.WEBHOOK in cls.capabilities
        checks += [
            _with_subject(c, name)
            for c in _connector_checks(cls, cs.config, name, needs, webhooks=webhooks)
        ]
    return checks


def _store_check(settings: Settings) -> Check:
    try:
        with Store.open(settings.store) as store:
            store.install_secret()
    except SlaplugError as exc:
        return Check(
            "store", CheckStatus.FAIL, str(exc), "fix `store:` in the configuration", "store"
        )
    return Check("store", CheckStatus.OK, "opens, schema current", subject="store")


def _notify_checks(writes: Sequence[RuleWrite], channels: Mapping[str, Channel]) -> Iterator[Check]:
    seen: set[str] = set()
    for w in writes:
        if w.kind is not ActionKind.NOTIFY or w.templated or w.name in seen:
            continue
        seen.add(w.name)
        name = f"notify {w.name}"
        channel = channels.get(w.name)
        if channel is None:
            problems = unserved([w], channels, "slaplug.yaml")
            if problems:
                yield Check(
                    name,
                    CheckStatus.FAIL,
                    str(problems[0]),
                    "add the channel under notify: with its apprise URLs, or install a notifier plugin",
                    "rules",
                )
            else:
                yield Check(
                    name, CheckStatus.OK, "a notifier plugin delivers to it", subject="rules"
                )
            continue
        if not channel.targets:
            yield Check(
                name,
                CheckStatus.WARN,
                "declared with no services: its messages are dropped",
                "add apprise URLs under notify: if someone should get them",
                "rules",
            )
            continue
        for target in channel.targets:
            problem = usable(target)
            if problem is None:
                yield Check(
                    name, CheckStatus.OK, f"{target.scheme}: {target.shown}", subject="rules"
                )
            else:
                yield Check(name, CheckStatus.FAIL, problem, "fix the URL under notify:", "rules")


def _connector_checks(
    cls: type[Connector], config: ConnectorConfig, name: str, needs: DoctorNeeds, *, webhooks: bool
) -> Iterator[Check]:
    if webhooks:
        secrets = set(config.credential_env_vars(webhooks=True)) - set(config.credential_env_vars())
        if secrets:
            yield Check("webhook secret", CheckStatus.OK, f"from {', '.join(sorted(secrets))}")
        else:
            yield Check(
                "webhook secret",
                CheckStatus.WARN,
                "none configured: `slaplug serve` refuses this connector's deliveries",
                "set webhook_secret_env to the variable holding the platform's signing secret",
            )
    needs = DoctorNeeds(writes=needs.writes, kinds=needs.kinds, webhooks=webhooks)
    try:
        with cls(config, instance=name) as conn:
            yield from conn.doctor(needs)
    except SlaplugError as exc:
        name, fix = _what_failed(exc)
        yield Check(name, CheckStatus.FAIL, scrub(str(exc)), fix)
    except Exception as exc:  # a plugin's bug must not hide the other connectors' checks
        yield Check(
            "live checks",
            CheckStatus.FAIL,
            scrub(f"{type(exc).__name__}: {exc}"),
            "the connector plugin failed; report it to its authors with this line",
        )


def _what_failed(exc: SlaplugError) -> tuple[str, str]:
    """The check a connector's error fails, and what to do about it."""
    if isinstance(exc, AuthenticationError):
        return "credentials", "check the credentials' environment variables and the account's role"
    if isinstance(exc, RetriableAPIError | UnreachableError):
        return (
            "reachable",
            "check base_url and that the helpdesk answers from this host, then run again",
        )
    return "live checks", "see the message; fix the connector's configuration"


def _with_subject(check: Check, subject: str) -> Check:
    if check.subject:
        return check
    return Check(check.name, check.status, check.detail, check.fix, subject)


def format_line(check: Check) -> str:
    """One line for a terminal or a log: status, subject, name, what was found, what to do."""
    line = f"{check.status.value:<5} {check.subject:<12} {check.name}: {check.detail}"
    if check.fix and check.status in (CheckStatus.FAIL, CheckStatus.WARN):
        line += f"\n      -> {check.fix}"
    return line

"""Notification channels named in ``slaplug.yaml``, each a list of apprise URLs.

::

    notify:
      team-lead:
        - "mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.acme.example?to=lead@acme.example"
        - "slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/${SLACK_TOKEN_C}/#support-leads"
      pager:
        urls: ["pagerduty://${PD_INTEGRATION_KEY}@${PD_API_KEY}"]
        subject: "[SLA] {{ ticket.id }} {{ measure.metric }}"
      second-line-lead: []        # declared on purpose: its messages are dropped

A URL names its service by its scheme (apprise's: ``mailto``/``mailtos``, ``slack``,
``msteams``/``workflows``, ``pagerduty``, ``opsgenie``, ``json``/``jsons``...). Secrets are never
written in the file: ``${NAME}`` is replaced by the environment variable ``NAME`` when the file
is loaded, and every value substituted is registered for redaction, so it never reaches a
log line or an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slaplug.connectors.redact import add_secret, scrub
from slaplug.errors import PluginError, Problem
from slaplug.model import ActionKind

if TYPE_CHECKING:
    from slaplug.rules.writes import RuleWrite

__all__ = ["Channel", "ChannelTarget", "parse_channels", "unserved"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.I)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:#@-]{0,99}$")
#: Services that take a de-duplication key, and the apprise URL argument that carries it.
DEDUP_ARGUMENT = {"pagerduty": "dedup", "opsgenie": "alias"}


@dataclass(frozen=True)
class ChannelTarget:
    """One service a channel delivers to.

    Attributes:
        url: The apprise URL with its secrets substituted (never print it: `shown`).
        shown: The URL with every substituted value masked, for logs and errors.
        scheme: Its scheme (``mailtos``, ``slack``...), lower case.
    """

    url: str
    shown: str
    scheme: str

    def __repr__(self) -> str:
        return f"ChannelTarget({self.shown!r})"


@dataclass(frozen=True)
class Channel:
    """A named channel: where a rule's ``notify: {channel: NAME}`` goes.

    Attributes:
        name: The name the rules use.
        targets: The services, each sent to once per notification. Empty when the channel
            is declared to drop its messages (``team-lead: []``): declared, so not a surprise.
        subject: The subject template (e-mail subject, chat title); None for the default.
    """

    name: str
    targets: tuple[ChannelTarget, ...]
    subject: str | None = None


def parse_channels(
    data: Any, environ: Mapping[str, str]
) -> tuple[dict[str, Channel], list[tuple[tuple[str | int, ...], str]]]:
    """Read the ``notify:`` section.

    Returns:
        The channels, and the problems as ``(path below notify, message)`` pairs.
    """
    channels: dict[str, Channel] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if data is None:
        return channels, problems
    if not isinstance(data, Mapping):
        return channels, [((), "notify maps channel names to lists of apprise URLs")]
    for name, spec in data.items():
        where: tuple[str | int, ...] = (str(name),)
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append((where, f"channel name {name!r}: use letters, digits and - _ . : # @"))
            continue
        subject: str | None = None
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"urls", "subject"}
            if unknown:
                problems.append(
                    ((*where, sorted(unknown)[0]), "unknown key; a channel has urls and subject")
                )
                continue
            subject = spec.get("subject")
            if subject is not None and not isinstance(subject, str):
                problems.append(((*where, "subject"), "subject is a text template"))
                continue
            urls, where = spec.get("urls"), (*where, "urls")
        else:
            urls = spec
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list):
            problems.append(
                (where, "give a channel a list of apprise URLs ([] to drop its messages)")
            )
            continue
        targets = []
        for i, url in enumerate(urls):
            target = _target(url, environ)
            if isinstance(target, str):
                problems.append(((*where, i), target))
            else:
                targets.append(target)
        if len(targets) == len(urls):
            channels[name] = Channel(name, tuple(targets), subject)
    return channels, problems


def _target(url: Any, environ: Mapping[str, str]) -> ChannelTarget | str:
    """The target, or a problem's message."""
    if not isinstance(url, str):
        return "an apprise URL is text, e.g. mailtos://user:${SMTP_PASSWORD}@host?to=a@b.example"
    missing = [v for v in _VAR.findall(url) if not environ.get(v)]
    if missing:
        return f"environment variable {missing[0]} is not set; set it to the secret this URL needs"
    values = [environ[v] for v in _VAR.findall(url)]
    for value in values:
        add_secret(value)
    resolved = _VAR.sub(lambda m: environ[m.group(1)], url)
    shown = _VAR.sub(lambda m: "${" + m.group(1) + "}", url)
    match = _SCHEME.match(resolved)
    if match is None:
        return f"{scrub(shown)!r} is not a URL; apprise URLs start with a scheme, e.g. mailtos://"
    return ChannelTarget(resolved, scrub(shown), match.group(1).lower())


def unserved(
    writes: Iterable[RuleWrite], channels: Mapping[str, Channel], config: str
) -> list[Problem]:
    """A problem at each rule whose ``notify`` channel nothing delivers to.

    A channel is served when ``slaplug.yaml`` declares it under ``notify:`` (even as ``[]``) or
    a notifier plugin registers it. ``config`` names the configuration file in the message.
    """
    from slaplug import plugins  # noqa: PLC0415 - the plugin manager loads entry points

    notifiers = None
    problems = []
    for w in writes:
        if w.kind is not ActionKind.NOTIFY or w.templated or w.name in channels:
            continue
        notifiers = plugins.get_notifiers() if notifiers is None else notifiers
        try:
            plugins.notifier_for(w.name, notifiers)
        except PluginError:
            problems.append(
                w.problem(
                    f"nothing delivers to channel {w.name!r}: add it under notify: in {config} "
                    f"(apprise URLs, or [] to drop its messages on purpose)"
                )
            )
    return problems

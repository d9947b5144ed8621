"""`slaplug new-connector NAME`: the starting point of a connector plugin, in a new folder.

The generated project is the one docs/plugins/tutorial.md builds step by step for the toy
helpdesk "Tinydesk" (a test holds the two equal): a ``pyproject.toml`` with the ``slaplug``
entry point, a package with a working connector for a Tinydesk-shaped API and a small
fake server of that API on 127.0.0.1 (built on `slaplug.testing.fakeserver`, offered as
``slaplug fake NAME``), and tests that run `slaplug.testing.ConnectorSuite` against it.
Replace the Tinydesk API calls with your helpdesk's, keeping the suite green.

The templates are Python strings rather than package data: they are short, and a string
in the module is one less thing a packaging mistake can leave out of the wheel.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from string import Template

from slaplug.errors import ConfigError

__all__ = ["check_name_is_free", "files", "generate", "validate_name"]

_NAME = re.compile(r"^[a-z][a-z0-9]*$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "slaplug-${name}"
version = "0.1.0"
description = "A slaplug connector for ${Name}."
requires-python = ">=3.11"
dependencies = ["slaplug"]

# slaplug finds plugins in this entry-point group; the name must equal Connector.name.
[project.entry-points.slaplug]
${name} = "slaplug_${name}"

[tool.setuptools.packages.find]
include = ["slaplug_${name}*"]

# The tests import the package from this folder, before (or without) pip install -e .
[tool.pytest.ini_options]
pythonpath = ["."]
"""

INIT = '''\
"""slaplug-${name}: a slaplug connector for ${Name}."""

from __future__ import annotations

from collections.abc import Callable

from slaplug import hookimpl
from slaplug.connectors import Connector
from slaplug.hookspecs import FakeRunner
from slaplug_${name}.connector import ${Name}Config, ${Name}Connector

__all__ = ["${Name}Config", "${Name}Connector", "register_connectors", "register_fakes"]


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register `${Name}Connector` under the name ``${name}``."""
    register(${Name}Connector)


def _run_fake(argv: list[str]) -> int:
    """Serve a fake ${Name} on 127.0.0.1."""
    # Imported when run, so that listing the fakes stays cheap.
    from slaplug_${name}.fake import main  # noqa: PLC0415

    return main(argv)


@hookimpl
def register_fakes(register: Callable[[str, FakeRunner], None]) -> None:
    """Register the fake ${Name} (`slaplug_${name}.fake`) as ``slaplug fake ${name}``."""
    register("${name}", _run_fake)
'''

CONNECTOR = '''\
"""The ${Name} connector: reads changed tickets, writes tags and internal notes back, takes
webhooks.

The API it talks to (a toy: replace these calls with your helpdesk's):

- ``GET /api/tickets?updated_since=<ISO 8601>&page=N``:
  ``{"tickets": [...], "next_page": N + 1}``, ``next_page`` null on the last page.
- ``GET /api/tickets/<id>`` and ``GET /api/tickets/<id>/notes``.
- ``POST /api/tickets/<id>/tags`` ``{"tag": ...}``, ``POST /api/tickets/<id>/notes``
  ``{"body": ...}``.
- Every call carries ``Authorization: Bearer <token>``.
- Webhooks: ``{"id", "ticket_id", "type"}``, with ``X-${Name}-Timestamp`` (Unix seconds) and
  ``X-${Name}-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from slaplug.connectors import (
    NOTHING_TO_SEND,
    AlreadySent,
    ApplyResult,
    ApplyStatus,
    BearerAuth,
    Capability,
    Connector,
    ConnectorConfig,
    CursorPaginator,
    LostAnswer,
    TicketPage,
    WebhookEvent,
    paginate,
    verify_signature,
)
from slaplug.errors import SkippableAPIError, WebhookError
from slaplug.model import Action, ActionKind, EventKind, Ticket, TicketEvent

#: A first read asks for everything changed since this instant.
EPOCH = "1970-01-01T00:00:00Z"
#: A webhook's signature header, and the signed timestamp's.
SIGNATURE = "X-${Name}-Signature"
TIMESTAMP = "X-${Name}-Timestamp"
#: Seconds a delivery's signed timestamp may be from now: an older one is a replay.
TOLERANCE = 300


class ${Name}Config(ConnectorConfig):
    """Settings of one ${Name} account.

    Attributes:
        api_token_env: The environment variable holding the API token (never the token).
        webhook_secret_env: The environment variable holding the webhooks' signing secret;
            without it the connector refuses webhooks (step 7).
    """

    connector_name: ClassVar[str] = "${name}"

    api_token_env: str
    webhook_secret_env: str | None = None


class ${Name}Connector(Connector):
    """Reads ${Name} tickets changed since a cursor; writes tags and notes back."""

    name: ClassVar[str] = "${name}"
    Config = ${Name}Config
    capabilities = frozenset({Capability.READ, Capability.WRITE_BACK, Capability.WEBHOOK})

    config: ${Name}Config

    def auth(self) -> BearerAuth:
        """``Authorization: Bearer`` with the token from the ``api_token_env`` variable."""
        return BearerAuth.from_config(self.config, "api_token")

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        """Yield the tickets changed since ``cursor`` (an ``updated_at``), page by page."""
        since = cursor or EPOCH

        def fetch(page: str | None) -> Any:
            params = {"updated_since": since, "page": page or "1"}
            return self.http.get_json("api/tickets", params=params)

        watermark = cursor
        for page in paginate(fetch, CursorPaginator("next_page")):
            raw_tickets = page.data["tickets"]
            for raw in raw_tickets:
                # The newest change read so far is where the next sync starts.
                if watermark is None or _time(raw["updated_at"]) > _time(watermark):
                    watermark = raw["updated_at"]
            yield TicketPage([self._ticket(raw) for raw in raw_tickets], watermark)

    def read_ticket(self, ticket_id: str) -> Ticket:
        """Read one ticket with its history."""
        return self._ticket(self.http.get_json(f"api/tickets/{ticket_id}"))

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        """Apply each action once: applying the same actions again writes nothing."""
        return [self._apply_one(a, fresh) for a in actions]

    def _apply_one(self, action: Action, fresh: Collection[str]) -> ApplyResult:
        path = f"api/tickets/{action.ticket_id}"
        try:
            if action.kind is ActionKind.ADD_TAG:
                tag = action.params["tag"]
                # Tags are a set: look first, so that a retry writes nothing.
                if tag in self.http.get_json(path)["tags"]:
                    return ApplyResult(action.key, ApplyStatus.ALREADY)
                self.http.request("POST", f"{path}/tags", json={"tag": tag})
            elif action.kind is ActionKind.COMMENT:
                # Notes are not idempotent: each carries its action's key, so that a retry
                # finds it. A fresh key was never tried, so there is nothing to look for.
                marker = f"[slaplug {action.key}]"
                if action.key not in fresh and self._posted(path, marker):
                    return ApplyResult(action.key, ApplyStatus.ALREADY)
                body = f"{action.params['body']}\\n\\n{marker}"

                def unless_posted(lost: LostAnswer) -> Any:
                    # The answer was lost (5xx, timeout): the note may be there already.
                    return NOTHING_TO_SEND if self._posted(path, marker) else lost.json

                try:
                    self.http.request(
                        "POST", f"{path}/notes", json={"body": body}, before_retry=unless_posted
                    )
                except AlreadySent:
                    return ApplyResult(action.key, ApplyStatus.ALREADY)
            else:
                detail = f"${name} cannot {action.kind}"
                return ApplyResult(action.key, ApplyStatus.SKIPPED, detail)
        except SkippableAPIError as exc:  # 404, 422: this ticket only
            return ApplyResult(action.key, ApplyStatus.FAILED, str(exc))
        return ApplyResult(action.key, ApplyStatus.APPLIED)

    def _posted(self, path: str, marker: str) -> bool:
        """Whether a note carrying ``marker`` is on the ticket at ``path``."""
        return any(marker in note["body"] for note in self.http.get_json(f"{path}/notes"))

    def _ticket(self, raw: Mapping[str, Any]) -> Ticket:
        return Ticket(
            id=str(raw["id"]),
            connector=self.instance,
            platform=self.name,
            created_at=_time(raw["created_at"]),
            updated_at=_time(raw["updated_at"]),
            status=raw["status"],
            priority=raw.get("priority"),
            tags=frozenset(raw["tags"]),
            events=tuple(
                TicketEvent(EventKind(e["kind"]), _time(e["at"]), e.get("value"))
                for e in raw["events"]
            ),
        )

    # -- webhooks (step 7) ----------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Refuse (401) a delivery unless it is signed with the secret over a fresh timestamp."""
        if not self.config.webhook_secret_env:
            message = f"connector {self.instance!r} takes no webhooks: set webhook_secret_env"
            raise WebhookError(message, status=404)
        stamp = _header(headers, TIMESTAMP) or ""
        if not (stamp.isascii() and stamp.isdigit()):
            raise WebhookError(f"webhook refused: no {TIMESTAMP} header", status=401)
        age = self.now().timestamp() - int(stamp)
        if abs(age) > TOLERANCE:
            raise WebhookError(f"webhook refused: signed {age:.0f}s ago; a replay?", status=401)
        # The signature covers the timestamp, so an old delivery cannot be sent with a new one.
        verify_signature(
            _header(headers, SIGNATURE),
            f"{stamp}.".encode() + body,
            self.config.secrets("webhook_secret"),
            encoding="hex",
            prefix="sha256=",
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """A verified delivery; its ``id`` is the same on the platform's retries."""
        try:
            doc = json.loads(body)
            return WebhookEvent(
                delivery_id=str(doc["id"]),
                ticket_id=str(doc["ticket_id"]),
                kind=str(doc["type"]),
                received_at=self.now(),
            )
        except (ValueError, KeyError, TypeError):
            raise WebhookError("malformed ${name} webhook", status=400) from None

    def now(self) -> datetime:
        """The current time, for the webhooks' freshness (the tests pin it)."""
        return datetime.now(UTC)


def _time(value: str) -> datetime:
    """An ISO 8601 time with its offset (``Z`` included) as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever case the web framework gave its name."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)
'''

FAKE = '''\
"""A fake ${Name} on 127.0.0.1: five tickets in memory, real HTTP.

Built on `slaplug.testing.fakeserver.FakeHelpdesk`, which makes it what
`slaplug.testing.ConnectorSuite` drives (`FakeControl`): ``inject`` answers the next requests
with a fault, ``request_count`` and ``write_count`` count. ``slaplug fake ${name}`` serves it
(``__init__.py`` registers it).
"""

from __future__ import annotations

from typing import Any

from slaplug.testing.fakeserver import FakeHelpdesk, Request, Response, serve_helpdesk

TOKEN = "${name}-test-token-0042"
PER_PAGE = 2


class Fake${Name}(FakeHelpdesk):
    """The ${Name} API of connector.py, from memory. Use as a context manager."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.tickets: dict[str, dict[str, Any]] = {
            str(i): {
                "id": i,
                "created_at": f"2026-03-0{i}T08:00:00Z",
                "updated_at": f"2026-03-0{i}T12:00:00Z",
                "status": "open",
                "priority": "normal",
                "tags": [],
                "notes": [],
                "events": [
                    {"kind": "created", "at": f"2026-03-0{i}T08:00:00Z"},
                    {"kind": "agent_reply", "at": f"2026-03-0{i}T11:00:00Z"},
                ],
            }
            for i in range(1, 6)
        }

    def handle(self, request: Request) -> Response:
        """Answer one request (the base answers injected faults before this)."""
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Response(401, {"error": "invalid token"})
        path = request.path.strip("/").split("/")
        if path == ["api", "tickets"] and request.method == "GET":
            since = request.query["updated_since"]
            changed = [t for t in self.tickets.values() if t["updated_at"] >= since]
            changed.sort(key=lambda t: t["updated_at"])
            page = int(request.query.get("page", "1"))
            more = page * PER_PAGE < len(changed)
            shown = changed[(page - 1) * PER_PAGE : page * PER_PAGE]
            return Response(200, {"tickets": shown, "next_page": page + 1 if more else None})
        ticket = self.tickets.get(path[2]) if path[:2] == ["api", "tickets"] else None
        if ticket is None:
            return Response(404, {"error": "no such ticket"})
        if path[3:] == [] and request.method == "GET":
            return Response(200, ticket)
        if path[3:] == ["notes"] and request.method == "GET":
            return Response(200, ticket["notes"])
        if path[3:] == ["tags"] and request.method == "POST":
            ticket["tags"].append(request.json()["tag"])
            return Response(201, {})
        if path[3:] == ["notes"] and request.method == "POST":
            ticket["notes"].append({"body": request.json()["body"]})
            return Response(201, {})
        return Response(404, {"error": "no such route"})


def main(argv: list[str]) -> int:
    """Serve a fake ${Name} on 127.0.0.1 until stopped (``slaplug fake ${name} --port N``)."""
    return serve_helpdesk(Fake${Name}, argv, "${name}")
'''

CONFORMANCE = '''\
"""slaplug's conformance suite, run against the fake ${Name}."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest
from slaplug_${name} import ${Name}Config, ${Name}Connector
from slaplug_${name}.connector import SIGNATURE, TIMESTAMP
from slaplug_${name}.fake import TOKEN, Fake${Name}

from slaplug.connectors import sign
from slaplug.model import Action, ActionKind, Metric
from slaplug.testing import ConnectorSuite, Scenario, WebhookSample

HOOK_SECRET = "${name}-webhook-secret-0042"
#: The connector's clock in these tests: webhook freshness is measured against it.
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


def action(kind: ActionKind, params: dict[str, object], ticket_id: str) -> Action:
    """An action as slaplug's rules would plan it."""
    return Action(
        kind=kind,
        params=params,
        connector="${name}",
        ticket_id=ticket_id,
        key=f"${name}:{ticket_id}:p:first_response:1:warn:1:{kind}",
        escalation="warn",
        level=1,
        policy="p",
        metric=Metric.FIRST_RESPONSE,
        cycle=1,
    )


def signed(body: bytes, *, secret: str | None = None, age: float = 0.0) -> Mapping[str, str]:
    """The headers ${Name} sends with ``body``, signed ``age`` seconds before `NOW`."""
    stamp = str(int(NOW.timestamp() - age))
    signature = sign(secret or HOOK_SECRET, f"{stamp}.".encode() + body, encoding="hex")
    return {SIGNATURE: f"sha256={signature}", TIMESTAMP: stamp}


class Test${Name}Connector(ConnectorSuite):
    connector = ${Name}Connector

    @pytest.fixture
    def scenario(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scenario]:
        monkeypatch.setenv("${NAME}_TOKEN", TOKEN)
        monkeypatch.setenv("${NAME}_WEBHOOK_SECRET", HOOK_SECRET)
        body = json.dumps({"id": "d-1", "ticket_id": "3", "type": "ticket.updated"}).encode()
        with Fake${Name}() as fake:
            config = ${Name}Config(
                base_url=fake.base_url,
                api_token_env="${NAME}_TOKEN",
                webhook_secret_env="${NAME}_WEBHOOK_SECRET",
                retry={"jitter": 0},
            )
            with ${Name}Connector(config) as connector:
                monkeypatch.setattr(connector, "now", lambda: NOW)
                yield Scenario(
                    connector=connector,
                    control=fake,
                    ticket_id="1",
                    actions=[
                        action(ActionKind.ADD_TAG, {"tag": "sla_warn"}, "1"),
                        action(ActionKind.COMMENT, {"body": "SLA at 75 %"}, "2"),
                    ],
                    ticket_ids=list(fake.tickets),
                    webhook=WebhookSample(
                        signed(body),
                        body,
                        ticket_id="3",
                        signature_header=SIGNATURE,
                        sign=signed,
                        timestamp_header=TIMESTAMP,
                    ),
                )
'''


def validate_name(name: str) -> str:
    """Check a connector name: lower-case letters and digits, starting with a letter.

    It becomes the entry-point name, ``Connector.name``, the module ``slaplug_<name>`` and
    the distribution ``slaplug-<name>``, so it must be valid as all four.

    Raises:
        ConfigError: The name is not usable; the message says what is.
    """
    if not _NAME.match(name):
        raise ConfigError(
            f"connector name {name!r} must be lower-case letters and digits, starting with "
            "a letter (e.g. tinydesk): it names the module slaplug_<name>"
        )
    return name


def check_name_is_free(name: str) -> None:
    """Refuse the name of an installed connector, or of an installed ``slaplug_<name>``.

    slaplug refuses to start with two connectors of one name, and the new project's package
    ``slaplug_<name>`` would clash with the installed one (``slaplug new-connector zendesk``
    next to the built-in Zendesk connector).

    Raises:
        ConfigError: The name is taken; the message says by what.
    """
    from slaplug.errors import SlaplugError  # noqa: PLC0415 - only the CLI needs it
    from slaplug.plugins import get_connectors  # noqa: PLC0415 - loads every plugin

    try:
        taken = get_connectors().get(name)
    except SlaplugError:  # a broken plugin elsewhere: `slaplug plugins` says which
        taken = None
    if taken is not None:
        raise ConfigError(
            f"connector name {name!r} is taken: the installed {taken.__module__}."
            f"{taken.__qualname__} registers it, and slaplug refuses two connectors of one "
            "name; choose your platform's own name"
        )
    module = f"slaplug_{name}"
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is not None:
        where = found.origin or ", ".join(found.submodule_search_locations or ())
        raise ConfigError(
            f"a module {module} is already installed ({where}): the new project's package "
            "would clash with it; choose another name"
        )


def files(name: str) -> dict[str, str]:
    """The generated project's files: relative path -> content.

    Args:
        name: The connector's name (see `validate_name`).
    """
    validate_name(name)
    values = {"name": name, "Name": name.capitalize(), "NAME": name.upper()}
    templates = {
        "pyproject.toml": PYPROJECT,
        f"slaplug_{name}/__init__.py": INIT,
        f"slaplug_{name}/connector.py": CONNECTOR,
        f"slaplug_{name}/py.typed": "",
        f"slaplug_{name}/fake.py": FAKE,
        f"tests/test_{name}_conformance.py": CONFORMANCE,
    }
    return {path: Template(text).substitute(values) for path, text in templates.items()}


def generate(name: str, directory: Path) -> list[Path]:
    """Write the project for connector ``name`` into ``directory``.

    Args:
        name: The connector's name (see `validate_name`).
        directory: Where to write; created if missing, and must be empty if it exists.

    Returns:
        The files written.

    Raises:
        ConfigError: A bad name, or ``directory`` is not empty (nothing is overwritten).
    """
    content = files(name)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ConfigError(f"{directory} exists and is not empty; choose another --dir")
    written = []
    for relative, text in content.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written

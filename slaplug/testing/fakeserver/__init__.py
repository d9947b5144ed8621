"""The one base of every fake helpdesk server: real HTTP on 127.0.0.1, from memory.

Each platform's fake lives with its connector (``slaplug_zendesk.fake``,
``slaplug_jira.fake``, ``slaplug_freshdesk.fake``, and the fake ``slaplug new-connector``
generates) and is built from these parts, none of which knows a platform:

* `server`: `Request`, `Response`, `HttpError`, `Router`, `FakeClock`, `ServerThread`, and
  small value checks (`is_calendar_date`).
* `faults`: `FaultPolicy` (a seeded fraction of requests) and the queue of one-off faults,
  both answered by one `FaultInjector`.
* `webhooks`: `WebhookSender`, signed at-least-once deliveries.
* `admin`: `WriteRecord`, `RequestCounter` and the ``/_fake/...`` admin routes (`FakeAdmin`).
* `command`: `run_command`, `serve_until_stopped` and `serve_helpdesk` for
  ``slaplug fake NAME``.
* `running`: `RunningFake`, the test-facing side (life cycle, clock, writes, faults), which
  is the conformance suite's `FakeControl` itself (``inject``, ``request_count``,
  ``write_count``).
* `helpdesk`: `FakeHelpdesk`, a whole small fake to subclass with one ``handle``.
"""

from __future__ import annotations

from slaplug.testing.fakeserver.admin import (
    AdminApp,
    FakeAdmin,
    RequestCounter,
    WriteRecord,
    write_record,
)
from slaplug.testing.fakeserver.command import run_command, serve_helpdesk, serve_until_stopped
from slaplug.testing.fakeserver.faults import FaultInjector, FaultPolicy
from slaplug.testing.fakeserver.helpdesk import FakeHelpdesk
from slaplug.testing.fakeserver.running import RunningApp, RunningFake
from slaplug.testing.fakeserver.server import (
    App,
    FakeClock,
    HttpError,
    Request,
    Response,
    Router,
    ServerThread,
    is_calendar_date,
    iso_z,
    parse_iso_z,
)
from slaplug.testing.fakeserver.webhooks import AttemptHeaders, Delivery, Signer, WebhookSender

__all__ = [
    "AdminApp",
    "App",
    "AttemptHeaders",
    "Delivery",
    "FakeAdmin",
    "FakeClock",
    "FakeHelpdesk",
    "FaultInjector",
    "FaultPolicy",
    "HttpError",
    "Request",
    "RequestCounter",
    "Response",
    "Router",
    "RunningApp",
    "RunningFake",
    "ServerThread",
    "Signer",
    "WebhookSender",
    "WriteRecord",
    "is_calendar_date",
    "iso_z",
    "parse_iso_z",
    "run_command",
    "serve_helpdesk",
    "serve_until_stopped",
    "write_record",
]

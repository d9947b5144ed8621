"""The fake Zendesk's event webhooks: one signed envelope per change (reference §4).

The signature is ``base64(HMAC-SHA256(key=secret as UTF-8, msg=timestamp + body))`` with an
ISO 8601 timestamp, as the current Zendesk page documents; docs/testing/fake-zendesk.md
describes the older page's body+timestamp anomaly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slaplug.testing.fakeserver import WebhookSender, iso_z
from slaplug_zendesk.fake.data import Audit, Ticket
from slaplug_zendesk.fake.render import J, ZendeskRendering


@dataclass
class WebhookConfig:
    """Where and how to send event webhooks."""

    url: str
    secret: str
    webhook_id: str = "01HFAKEZENDESKWEBHOOK00001"
    duplicate_rate: float = 0.0
    seed: int = 0


class ZendeskWebhooks(ZendeskRendering):
    """Builds, signs and queues event webhooks (a base of :class:`ZendeskApp`)."""

    webhook: WebhookConfig | None = None
    sender: WebhookSender | None = None

    def configure_webhook(self, config: WebhookConfig | None) -> None:
        """Send event webhooks to ``config.url`` (None stops sending)."""
        if self.sender is not None:
            self.sender.stop()
            self.sender = None
        self.webhook = config
        if config is not None:
            self.sender = WebhookSender(
                config.url,
                self._signer(config),
                duplicate_rate=config.duplicate_rate,
                seed=config.seed,
                attempt_headers=_invocation_headers,
            )

    @staticmethod
    def _signer(config: WebhookConfig) -> Callable[[bytes], dict[str, str]]:
        key = config.secret.encode()  # the secret as-is, UTF-8: not base64-decoded (§4)

        def sign(body: bytes) -> dict[str, str]:
            ts = iso_z(time.time())  # real time: receivers check freshness on their clock
            digest = hmac.new(key, ts.encode() + body, hashlib.sha256).digest()
            return {
                "User-Agent": "Zendesk Webhook",  # as in a recorded delivery (Prismatic sample)
                "X-Zendesk-Webhook-Id": config.webhook_id,
                "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
                "X-Zendesk-Webhook-Signature-Timestamp": ts,
            }

        return sign

    def _notify(self, t: Ticket, audit: Audit) -> None:
        if self.sender is None:
            return
        seq = uuid.uuid4().hex.upper()
        envelopes = list(self._events(t, audit))
        for pos, (kind, event) in enumerate(envelopes, start=1):
            event["meta"] = {"sequence": {"id": seq, "position": pos, "total": len(envelopes)}}
            event_id = str(uuid.uuid4())
            envelope = {
                "type": f"zen:event-type:ticket.{kind}",
                "account_id": self.config.account_id,
                "id": event_id,
                "time": iso_z(audit.created_at),
                "zendesk_event_version": "2022-11-06",
                "subject": f"zen:ticket:{t.id}",
                "detail": self._detail(t, audit.author_id),
                "event": event,
            }
            self.sender.send(event_id, json.dumps(envelope).encode())

    def _events(self, t: Ticket, audit: Audit) -> Iterable[tuple[str, J]]:
        names = {
            "status": "status_changed",
            "priority": "priority_changed",
            "assignee_id": "agent_assignment_changed",
            "group_id": "group_assignment_changed",
            "subject": "subject_changed",
            "type": "type_changed",
        }
        for e in audit.events:
            if e.type == "Create":
                if e.field_name == "status":
                    yield "created", {}
            elif e.type == "Comment":
                author = self.store.users.get(e.author_id or 0)
                yield (
                    "comment_added",
                    {
                        "comment": {
                            "id": str(audit.id),
                            "body": e.body,
                            "is_public": e.public,
                            "author": {
                                "id": str(e.author_id),
                                "name": author.name if author else "",
                                "is_staff": bool(author and author.role != "end-user"),
                            },
                        }
                    },
                )
            elif e.field_name == "tags":
                old, new = set(e.previous_value or []), set(e.value or [])
                yield (
                    "tags_changed",
                    {"tags_added": sorted(new - old), "tags_removed": sorted(old - new)},
                )
            elif e.field_name and e.field_name.isdigit():
                f = self.store.field_by_id(int(e.field_name))
                yield (
                    "custom_field_changed",
                    {
                        "current": e.value,
                        "previous": e.previous_value,
                        "custom_field": {
                            "id": e.field_name,
                            "title": f.title if f else "",
                            "type": f.type if f else "",
                        },
                    },
                )
            elif e.field_name in names:
                yield (
                    names[e.field_name],
                    {"current": _wh(e.value), "previous": _wh(e.previous_value)},
                )

    def _detail(self, t: Ticket, actor: int) -> J:
        # Event payloads give ids as strings and enum values in upper case.
        return {
            "actor_id": str(actor),
            "assignee_id": _wh(t.assignee_id),
            "brand_id": "360000000001",
            "created_at": iso_z(t.created_at),
            "custom_status": _wh(t.status),
            "description": t.description,
            "external_id": None,
            "form_id": "360000000001",
            "group_id": _wh(t.group_id),
            "id": str(t.id),
            "is_public": True,
            "organization_id": _wh(t.organization_id),
            "priority": _wh(t.priority),
            "requester_id": str(t.requester_id),
            "status": _wh(t.status),
            "subject": t.subject,
            "submitter_id": str(t.submitter_id),
            "tags": list(t.tags),
            "type": _wh(t.type),
            "updated_at": iso_z(t.updated_at),
            "via": {"channel": t.via},
        }


def _invocation_headers(event_id: str, attempt: int) -> dict[str, str]:
    """``X-Zendesk-Webhook-Invocation-Id``: one per invocation, the same on its retries and
    on a duplicate delivery (developer.zendesk.com, "Anatomy of a webhook request"; reference,
    corrections 2026-12). A number, derived from the event id so it is stable."""
    digest = hashlib.sha256(event_id.encode()).digest()
    return {"X-Zendesk-Webhook-Invocation-Id": str(int.from_bytes(digest[:5], "big"))}


def _wh(value: Any) -> str | None:
    """A value as webhook event payloads show it: ids as strings, enums upper-cased."""
    if value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return str(value).upper()

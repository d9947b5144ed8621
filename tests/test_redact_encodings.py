"""Every encoding of a secret is scrubbed: plain, URL-encoded, hex, and base64 at any alignment.

Issue 14.5: an error body echoing the ``Authorization: Basic`` value reached
``outbox.last_error`` unmasked unless the e-mail's length aligned the token inside the base64.
Servers and proxies that echo the credential are a known pattern: OpenSearch's 403 message
carried the base64 credentials (opensearch-project/opensearch-java#1218), a gateway's 502 put
``authorization: Basic ...`` in an error (xmidt-org/webpa-common#464), a request dump listed
``HTTP_AUTHORIZATION: Basic dXNl...`` (Kozea/Radicale#309).
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
import responses
from sqlalchemy import select

from slaplug.connectors import (
    ApiClient,
    ApplyResult,
    ApplyStatus,
    CallStats,
    Capability,
    RetryPolicy,
)
from slaplug.connectors.redact import (
    REDACTED,
    RedactingFilter,
    add_basic_credentials,
    add_secret,
    scrub,
)
from slaplug.errors import AuthenticationError, RetriableAPIError
from slaplug.model import Action, ActionKind, Metric
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.store.schema import ledger
from slaplug.sync import Sync

REPO = Path(__file__).resolve().parent.parent

BASE = "https://acme.example.com/api/v2"
URL = f"{BASE}/tickets/1.json"
TOKEN = "Zq8-redact-canary-tok3n-5e1f"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Zendesk's Basic pair is "{email}/token:{token}"; these e-mails put the token at each of the
# three byte offsets (mod 3) inside the pair's base64.
EMAILS = ["ab@x.io", "abc@x.io", "abcd@x.io"]


def test_the_emails_cover_every_alignment() -> None:
    assert sorted(len(f"{e}/token:") % 3 for e in EMAILS) == [0, 1, 2]


@pytest.mark.parametrize("email", EMAILS)
def test_base64_of_the_basic_pair_is_masked_at_every_alignment(email: str) -> None:
    add_secret(TOKEN)  # what the connector's configuration registers
    echoed = _b64(f"{email}/token:{TOKEN}")
    # No "Basic " before it: the scheme rule cannot help; only knowing the secret can.
    text = scrub(f'{{"error": "invalid credentials", "received": "{echoed}"}}')
    assert echoed not in text and REDACTED in text
    assert _b64(TOKEN)[4:-4] not in text


@pytest.mark.parametrize("prefix", ["", "x", "xy", "user@example.com:", "someone/token:"])
def test_any_base64_containing_the_secret_is_masked_whole(prefix: str) -> None:
    add_secret(TOKEN)
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        echoed = encode(f"{prefix}{TOKEN}-and-after".encode()).decode()
        out = scrub(f"proxy said: {echoed} (end)")
        assert out == f"proxy said: {REDACTED} (end)", (prefix, out)


def test_url_encoded_and_hex_forms_are_masked() -> None:
    secret = "p@ss/w0rd+with spaces&more"
    add_secret(secret)
    for form in (
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote(secret, safe="").lower(),  # percent-escapes are case-insensitive (RFC 3986 2.1)
        secret.encode().hex(),
        secret.encode().hex().upper(),
    ):
        assert form not in scrub(f"GET /x?auth={form}&y=1"), form


def test_plain_words_and_ids_are_left_alone() -> None:
    add_secret(TOKEN)
    text = "ticket 1234 answered 403: Forbidden ZW1haWw= aGVsbG8gd29ybGQ="
    assert scrub(text) == text


@responses.activate
@pytest.mark.parametrize("email", EMAILS)
def test_api_errors_echoing_the_basic_value_carry_no_credential(email: str) -> None:
    """Through ApiClient: the pair is registered from the Basic auth itself."""
    token = f"{TOKEN}-{len(email)}"  # one not registered by add_secret: only the auth knows it
    pair = f"{email}/token:{token}"
    client = ApiClient(
        BASE,
        connector="zendesk",
        auth=requests.auth.HTTPBasicAuth(f"{email}/token", token),
        retry=RetryPolicy(max_attempts=2, max_wait=10, backoff_initial=0, jitter=0),
    )
    client.sleep = lambda s: None
    echoed = _b64(pair)
    responses.get(URL, status=401, json={"error": f"Couldn't authenticate you: {echoed}"})
    with pytest.raises(AuthenticationError) as auth_error:
        client.get_json("tickets/1.json")
    # A proxy's 502 whose body is long: the echo sits across the detail's cut-off.
    filler = "x" * 180
    responses.get(URL, status=502, body=f"<html>{filler} Authorization=Basic%20{echoed}</html>")
    with pytest.raises(RetriableAPIError) as retriable:
        client.get_json("tickets/1.json")
    for text in (str(auth_error.value), repr(auth_error.value), str(retriable.value)):
        assert echoed not in text
        assert token not in text
        for start in range(len(echoed) - 12):  # no stretch of 12 chars of the echo survives
            piece = echoed[start : start + 12]
            if any(c in piece for c in "+/="):
                continue
            assert piece not in text or piece in _b64(f"{email}/token:")[:-4], (piece, text)


def test_the_logging_filter_masks_base64_echoes(caplog: pytest.LogCaptureFixture) -> None:
    add_secret(TOKEN)
    logger = logging.getLogger("slaplug.test.redact")
    logger.addFilter(RedactingFilter())
    echoed = _b64(f"abcd@x.io/token:{TOKEN}")
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.warning("helpdesk answered %s", {"echo": echoed})
    assert echoed not in caplog.text and REDACTED in caplog.text


def test_a_failed_actions_detail_is_scrubbed_in_the_ledger_and_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A connector that puts the helpdesk's answer in `ApplyResult.detail` leaks nothing."""
    token = f"{TOKEN}-detail"
    add_basic_credentials("abc@x.io/token", token)
    echoed = _b64(f"abc@x.io/token:{token}")

    class Refusing:
        http = SimpleNamespace(stats=CallStats())
        capabilities = frozenset({Capability.WRITE_BACK})  # the sync applies only with it

        def apply(self, actions: Any, *, fresh: Any = ()) -> list[ApplyResult]:
            return [ApplyResult(a.key, ApplyStatus.FAILED, f"422: bad auth {echoed}") for a in actions]

    action = Action(kind=ActionKind.ADD_TAG, params={"tag": "t"}, connector="z", ticket_id="1",
                    key="z:1:k", escalation="e", level=1, policy="p",
                    metric=Metric.FIRST_RESPONSE, cycle=1)
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
            RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as pack:
        store.plan([action])
        with caplog.at_level(logging.DEBUG):
            assert Sync(store, pack, {"z": Refusing()}).process("z", []).failed == 1  # type: ignore[dict-item]
        with store.engine.connect() as conn:
            detail = conn.execute(select(ledger.c.detail)).scalar_one()
    assert "failed for good" in caplog.text
    for text in (detail, caplog.text):
        assert echoed not in text and token not in text and REDACTED in text

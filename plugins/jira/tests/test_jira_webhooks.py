"""Webhooks (signatures, rotation, parsing), secrets kept out of logs, plugin loading."""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import json
import logging

import pytest
from jira_support import API, HOOK, HOOK_OLD, TOKEN, issue, make_connector
from slaplug_jira import JiraConfig

from slaplug.errors import AuthenticationError, ConfigError, WebhookError

BODY = json.dumps(
    {
        "timestamp": 1772445600000,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "5b10a2844c20165700ede21g"},
        "issue": {"id": "10001", "key": "SUP-1", "self": f"{API}/issue/10001", "fields": {}},
        "changelog": {
            "id": "10500",
            "items": [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "from": "1",
                    "fromString": "Open",
                    "to": "3",
                    "toString": "Waiting for customer",
                }
            ],
        },
    }
).encode()


def signed(body: bytes, secret: str, **headers: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature": f"sha256={digest}",
        "X-Atlassian-Webhook-Identifier": "d-42",
        **headers,
    }


@pytest.mark.parametrize("secret", [HOOK, HOOK_OLD], ids=["current", "rotated-out"])
def test_a_delivery_signed_with_any_active_secret_is_accepted(jira, secret) -> None:
    headers = signed(BODY, secret)
    jira.verify_webhook(headers, BODY)
    event = jira.parse_webhook(headers, BODY)
    assert (event.delivery_id, event.ticket_id, event.kind) == (
        "d-42",
        "SUP-1",
        "jira:issue_updated",
    )
    assert event.received_at.tzinfo is not None


def test_header_names_are_case_insensitive(jira) -> None:
    headers = {k.lower(): v for k, v in signed(BODY, HOOK).items()}
    jira.verify_webhook(headers, BODY)
    assert jira.parse_webhook(headers, BODY).delivery_id == "d-42"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "sha256=whatever"},  # GitHub's header, not Jira's
        {},
    ],
    ids=["wrong", "other-header", "missing"],
)
def test_a_wrong_or_missing_signature_is_401(jira, headers) -> None:
    with pytest.raises(WebhookError) as excinfo:
        jira.verify_webhook(headers, BODY)
    assert excinfo.value.status == 401


def test_a_signature_over_other_bytes_is_rejected(jira) -> None:
    with pytest.raises(WebhookError):
        jira.verify_webhook(signed(BODY, HOOK), BODY + b" ")


def test_without_secrets_the_connector_takes_no_webhooks() -> None:
    jira = make_connector(webhook_secret_env=None)
    with pytest.raises(WebhookError) as excinfo:
        jira.verify_webhook(signed(BODY, HOOK), BODY)
    assert excinfo.value.status == 404


def test_comment_events_name_their_issue_and_no_identifier_falls_back_to_a_body_hash(jira) -> None:
    body = json.dumps(
        {
            "webhookEvent": "comment_created",
            "comment": {"id": "1"},
            "issue": {"id": "10002", "key": "SUP-2"},
        }
    ).encode()
    event = jira.parse_webhook({}, body)
    assert (event.ticket_id, event.kind) == ("SUP-2", "comment_created")
    assert event.delivery_id == "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"issue": {}}'])
def test_a_malformed_body_is_400(jira, body) -> None:
    with pytest.raises(WebhookError) as excinfo:
        jira.parse_webhook({}, body)
    assert excinfo.value.status == 400


def test_secrets_never_reach_logs_errors_or_reprs(rsps, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    jira = make_connector()
    rsps.get(f"{API}/issue/SUP-1", status=429, headers={"Retry-After": "1"})
    rsps.get(
        f"{API}/issue/SUP-1",
        json={**issue("SUP-1", "10001"), "changelog": {"total": 0, "histories": []}},
    )
    jira.read_ticket("SUP-1")
    rsps.get(f"{API}/issue/SUP-2", status=401, json={"errorMessages": [f"bad token {TOKEN}"]})
    with pytest.raises(AuthenticationError) as excinfo:
        jira.read_ticket("SUP-2")
    message = str(excinfo.value)
    assert "JIRA_TEST_TOKEN" in message  # says which variable to check
    with pytest.raises(WebhookError) as bad:
        jira.verify_webhook({"X-Hub-Signature": "sha256=00"}, BODY)
    seen = (
        caplog.text
        + message
        + repr(excinfo.value)
        + str(bad.value)
        + repr(jira)
        + repr(jira.config)
    )
    seen += repr(jira.http.auth)
    for secret in (TOKEN, HOOK, HOOK_OLD):
        assert secret not in seen
    assert "retrying" in caplog.text  # the 429 was logged, without the token


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"email": "a@b.c"}, "needs both email and api_token_env"),
        ({"email": "a@b.c", "api_token_env": "T", "pat_env": "T"}, "exactly one of"),
        ({}, "exactly one of"),
        ({"pat_env": "T", "fields": {"x": "10050"}}, "customfield_10050"),
        ({"pat_env": "T", "jql_timezone": "Mars/Olympus"}, "IANA time zone"),
        ({"pat_env": "T", "no_such_setting": 1}, 'unknown key "no_such_setting"; check its'),
    ],
)
def test_config_problems_are_reported_before_any_call(settings, problem) -> None:
    with pytest.raises(ConfigError, match=problem):
        JiraConfig.load(
            {"base_url": "https://a.atlassian.net", **settings},
            connector="jira",
            environ={"T": "a-long-token-value"},
        )


@pytest.mark.parametrize("kind", ["oauth_token_env", "pat_env"])
def test_bearer_auth_for_oauth_and_data_center_tokens(rsps, kind) -> None:
    jira = make_connector(email=None, api_token_env=None, **{kind: "JIRA_TEST_TOKEN"})
    rsps.get(f"{API}/issue/SUP-1", json={**issue("SUP-1", "10001"), "changelog": {"total": 0}})
    jira.read_ticket("SUP-1")
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_the_plugin_is_found_through_its_entry_point_and_registers_the_connector() -> None:
    (ep,) = [e for e in importlib.metadata.entry_points(group="slaplug") if e.name == "jira"]
    assert ep.value == "slaplug_jira" and ep.dist is not None and ep.dist.name == "slaplug-jira"
    registered = []
    ep.load().register_connectors(registered.append)
    assert [c.name for c in registered] == ["jira"]

"""`CursorCodec`: round trips, the exact format, and one clear error for anything unreadable."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from slaplug.connectors import MAX_CURSOR_CHARS, CursorCodec
from slaplug.errors import ConfigError

CODEC = CursorCodec("desk1.", connector="Desk")


def b64(doc: Any) -> str:
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"t": None, "e": 0, "s": []},
        {"t": "MTY5NTA2MjcyNC4wfHwxNTcxfA==", "e": 1772441000, "s": [1, 2, 3]},
        {"w": 1772445600000, "s": ["SUP-2@1772445600000"], "note": "ünïcode ✓"},
    ],
)
def test_round_trip(doc: dict[str, Any]) -> None:
    text = CODEC.encode(doc)
    assert CODEC.decode(text) == doc
    assert CODEC.decode(text, dict) == doc


def test_format_is_prefix_and_unpadded_base64url_of_compact_json() -> None:
    # The format the Zendesk and Jira cursors had before the codec: stored cursors depend on it.
    doc = {"t": "a/b+c?", "e": 7, "s": [1]}  # '?' and '/' give '-' / '_' in base64url
    text = CODEC.encode(doc)
    assert text == "desk1." + b64(doc)
    assert "=" not in text and "+" not in text and "/" not in text


def test_decode_accepts_padding_left_on() -> None:
    body = base64.urlsafe_b64encode(b'{"w":1}').decode()
    assert body.endswith("=")
    assert CODEC.decode("desk1." + body) == {"w": 1}


def test_build_makes_the_connectors_type() -> None:
    text = CODEC.encode({"w": 5})
    assert CODEC.decode(text, lambda d: int(d["w"]) * 2) == 10


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("zd1." + b64({"w": 1}), "no desk1. prefix"),
        ("desk1.!!!", "not"),
        ("desk1.abc", "not"),
        ("desk1." + b64([1, 2]), "JSON list, not an object"),
        ("desk1." + base64.urlsafe_b64encode(b"\xff\xfe").decode(), ""),
        ("", "no desk1. prefix"),
    ],
)
def test_unreadable_text_is_one_config_error_saying_to_reset(text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as exc:
        CODEC.decode(text)
    message = str(exc.value)
    assert message.startswith(f"stored Desk cursor {text[:40]!r} is not readable (")
    assert reason in message
    assert message.endswith("reset the connector's cursor to read everything again")
    assert exc.value.__cause__ is None  # `from None`: no traceback of base64 internals


@pytest.mark.parametrize("error", [KeyError("w"), ValueError("w is not an integer"), TypeError])
def test_a_shape_the_build_refuses_is_the_same_error(error: BaseException | type) -> None:
    def build(doc: dict[str, Any]) -> None:
        raise error  # type: ignore[misc]

    with pytest.raises(ConfigError, match="reset the connector's cursor"):
        CODEC.decode(CODEC.encode({"w": "x"}), build)


def test_a_non_string_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="a cursor is a string, not int"):
        CODEC.decode(42)  # type: ignore[arg-type]


def test_size_is_bounded_both_ways() -> None:
    small = CursorCodec("desk1.", connector="Desk", max_chars=64)
    with pytest.raises(ValueError, match="keep fewer entries"):
        small.encode({"s": list(range(100))})
    long = CODEC.encode({"s": list(range(100))})
    with pytest.raises(ConfigError, match="longer than 64 characters"):
        small.decode(long)
    assert MAX_CURSOR_CHARS >= 1_000_000


def test_the_message_quotes_only_the_start_of_a_long_cursor() -> None:
    text = "x" * 5000
    with pytest.raises(ConfigError) as exc:
        CODEC.decode(text)
    assert len(str(exc.value)) < 200


@pytest.mark.parametrize("prefix", ["zd1", "zd 1.", ".", "zd1/", "ž1."])
def test_a_prefix_must_be_letters_and_digits_then_a_dot(prefix: str) -> None:
    with pytest.raises(ValueError, match="letters and digits then a dot"):
        CursorCodec(prefix, connector="Desk")


def test_non_finite_numbers_are_not_written() -> None:
    # JSON has no NaN: a cursor holding one could not be read back by a strict reader.
    with pytest.raises(ValueError):
        CODEC.encode({"e": float("nan")})

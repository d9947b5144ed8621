"""Keep secrets out of logs, error messages, reprs and stored error texts.

Two layers, because either alone leaks:

* `scrub` replaces every *known* secret value (registered with `add_secret` when a
  connector's configuration resolves its credentials, and `add_basic_credentials` when a
  connector authenticates with HTTP Basic) in every encoding it may travel in, and the value
  of any ``Authorization``-like header or ``Bearer``/``Basic`` credential it can recognise.
* `RedactingFilter` runs `scrub` over every log record passing through a logger or handler,
  so a plugin that logs a request by mistake still logs no token.

The encodings of a secret ``s`` that `scrub` masks:

* ``s`` itself, its URL-encoded forms (``quote``/``quote_plus``) and its hex (both cases);
* base64 (standard and URL-safe alphabets) of *any* text containing ``s``: a proxy or a
  helpdesk that echoes the ``Authorization: Basic`` value echoes base64 of
  ``email/token:TOKEN``, and where the token starts inside that base64 depends on the length
  of what precedes it (three alignments). For each alignment the part of the base64 that
  only the secret's bytes determine is known in advance; wherever it appears, the whole
  base64 run around it is masked (the rest of the run is the e-mail, or padding, and
  decoding it would still reveal the secret's first and last bytes).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "add_basic_credentials",
    "add_secret",
    "known_secrets",
    "redact_headers",
    "scrub",
    "secret_encodings",
]

#: What a secret is replaced with; the same mask pydantic's ``SecretStr`` prints.
REDACTED = "**********"

#: Headers whose values are credentials whatever they contain.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)

# Shorter values would mask ordinary words ("abc" inside "abcdef"); real tokens are longer.
_MIN_SECRET_LENGTH = 4
# A base64 fragment shorter than this (6 bytes) would match ordinary words and ids.
_MIN_BASE64_CORE = 8
# The characters of a base64 run, both alphabets (RFC 4648 sections 4 and 5).
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")

_lock = threading.Lock()
_secrets: set[str] = set()  # plain values, as registered
_literals: set[str] = set()  # every literal form of them that scrub replaces
# Compiled patterns by the extra secrets they add; emptied whenever a secret is registered.
_patterns: dict[frozenset[str], _Matcher | None] = {}

# "Authorization: Basic abc", "'authorization': 'Bearer abc'", "Bearer abc" in free text.
_HEADER_VALUE = re.compile(
    r"(?i)(?P<name>(?:proxy-)?authorization|x-api-key|x-auth-token|cookie)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^'\"\r\n,}]+)"
)
_SCHEME_VALUE = re.compile(
    r"(?i)\b(?P<scheme>bearer|basic|token)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})"
)


def _base64_cores(value: str) -> set[str]:
    """The base64 fragments that any base64 text containing ``value`` contains.

    Base64 turns each 3 bytes into 4 characters. Where ``value`` starts at a byte offset
    ``k`` (mod 3) of the encoded text, the groups that hold only its bytes encode the same
    way whatever surrounds them; the first group (shared with the prefix) and the last
    partial one are left out. One fragment per alignment and alphabet.
    """
    raw = value.encode("utf-8", "surrogatepass")
    cores: set[str] = set()
    for k in range(3):
        lead = (3 - k) % 3  # the secret's bytes that share a group with the prefix
        groups = (len(raw) - lead) // 3
        if groups <= 0:
            continue
        chunk = raw[lead : lead + 3 * groups]
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(chunk).decode()
            if len(core) >= _MIN_BASE64_CORE:
                cores.add(core)
    return cores


def secret_encodings(value: str) -> set[str]:
    """Literal forms of ``value`` that `scrub` replaces: plain, URL-encoded, hex, base64.

    Base64 of text that merely *contains* ``value`` is matched by `scrub` through the
    alignment fragments (`_base64_cores`), not listed here.
    """
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    forms.add(binascii.hexlify(raw).decode())
    forms.add(binascii.hexlify(raw).decode().upper())
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        full = encode(raw).decode()
        forms.update({full, full.rstrip("=")})
    return {f for f in forms if len(f) >= _MIN_SECRET_LENGTH}


def add_secret(value: str) -> None:
    """Register a secret value so that `scrub` masks it, in every encoding, from now on.

    Args:
        value: The secret (an API token, a webhook signing secret). Values shorter than
            4 characters are ignored: masking them would mangle ordinary text.
    """
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        _literals.update(secret_encodings(value))
        _patterns.clear()


def add_basic_credentials(username: str, password: str) -> None:
    """Register an HTTP Basic credential pair (RFC 7617): the secret half and the pair.

    Zendesk sends ``{email}/token:{token}``, Freshdesk ``{api_key}:X``, Jira
    ``{email}:{token}``. Which half is secret differs, so both halves of at least 4
    characters are registered, and the pair itself with its base64 (the exact
    ``Authorization: Basic`` value), which also covers a password too short for the
    alignment fragments.

    Args:
        username: The user half (an e-mail, or Freshdesk's API key).
        password: The password half (a token, or Freshdesk's ``X``).
    """
    pair = f"{username}:{password}"
    secret_halves = [password] if "@" in username else [username, password]
    for half in secret_halves:
        add_secret(half)
    add_secret(pair)
    # The header's value itself, so its own hex and URL-encoded forms are known too.
    add_secret(base64.b64encode(pair.encode("utf-8", "surrogatepass")).decode())


def known_secrets() -> frozenset[str]:
    """The literal secret forms registered so far (for tests that check nothing leaked)."""
    with _lock:
        return frozenset(_literals)


@dataclass(frozen=True)
class _Matcher:
    """The compiled regex, and the plain strings whose absence proves it cannot match.

    Most text scrubbed (every log record) holds no secret; substring tests in C are far
    cheaper than a regex of many alternatives, so the regex runs only after one hits.
    """

    pattern: re.Pattern[str]
    exact: tuple[str, ...]  # in the text as they are
    folded: tuple[str, ...]  # in the lower-cased text (forms with percent-escapes)

    def may_match(self, text: str) -> bool:
        if any(f in text for f in self.exact):
            return True
        if self.folded:
            lowered = text.lower()
            return any(f in lowered for f in self.folded)
        return False


def _compiled(extra: frozenset[str]) -> _Matcher | None:
    """One regex for every registered secret (and ``extra``): literals and base64 runs."""
    with _lock:
        if extra not in _patterns:
            if len(_patterns) > 64:  # per-client extras are few; never let this grow
                _patterns.clear()
            _patterns[extra] = _build(_secrets | extra)
        return _patterns[extra]


def _build(values: Iterable[str]) -> _Matcher | None:
    literals: set[str] = set()
    cores: set[str] = set()
    for v in values:
        literals |= secret_encodings(v)
        cores |= _base64_cores(v)
    if not literals and not cores:
        return None
    parts = []
    if cores:
        # The fragment only; `scrub` widens a match to the base64 run around it by hand, as
        # ``[...]*(?:fragment)[...]*`` would backtrack quadratically over a long run.
        alternatives = "|".join(re.escape(c) for c in sorted(cores, key=len, reverse=True))
        parts.append(f"(?P<core>{alternatives})")
    # Longest first, so a secret containing another is masked whole.
    parts.extend(_literal(x) for x in sorted(literals, key=len, reverse=True))
    folded = tuple(sorted(x.lower() for x in literals if "%" in x))
    exact = tuple(sorted(cores | {x for x in literals if "%" not in x}))
    return _Matcher(re.compile("|".join(parts)), exact, folded)


def _literal(form: str) -> str:
    """A regex for one literal form; its percent-escapes match in either case (RFC 3986 2.1)."""
    pieces = re.split(r"(%[0-9A-F]{2})", form)
    return "".join(
        f"%[{p[1]}{p[1].lower()}][{p[2]}{p[2].lower()}]" if i % 2 else re.escape(p)
        for i, p in enumerate(pieces)
    )


def _mask(pattern: re.Pattern[str], text: str) -> str:
    """Replace each match; a base64 fragment's match is widened to its whole run first."""
    out: list[str] = []
    done = 0  # text[:done] is already in out
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        start, end = m.span()
        if "core" in pattern.groupindex and m.group("core") is not None:
            while start > done and text[start - 1] in _B64_CHARS:
                start -= 1
            while end < len(text) and text[end] in _B64_CHARS:
                end += 1
            while end < len(text) and text[end] == "=":
                end += 1
        out.append(text[done:start])
        out.append(REDACTED)
        done = pos = end
    out.append(text[done:])
    return "".join(out)


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """Return ``text`` with every secret replaced by `REDACTED`.

    Args:
        text: Any text about to be logged, raised, stored or shown.
        extra: Secret values to mask in addition to the registered ones.

    Returns:
        The text with known secret values (in every encoding, see the module's docstring),
        credential header values and ``Bearer``/``Basic``/``Token`` credentials masked.

    Example:
        >>> scrub("GET /x Authorization: Bearer abcdefgh12345678")
        'GET /x Authorization: **********'
    """
    matcher = _compiled(frozenset(v for v in extra if len(v) >= _MIN_SECRET_LENGTH))
    if matcher is not None and matcher.may_match(text):
        text = _mask(matcher.pattern, text)
    text = _HEADER_VALUE.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
    return _SCHEME_VALUE.sub(lambda m: f"{m['scheme']} {REDACTED}", text)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``headers`` with credential headers masked, for logs and errors.

    Args:
        headers: Request or response headers.

    Returns:
        A plain dict; sensitive headers (``Authorization``, ``Cookie``, ...) show `REDACTED`.
    """
    return {
        k: REDACTED if k.lower() in SENSITIVE_HEADERS else scrub(str(v)) for k, v in headers.items()
    }


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record it sees.

    Attach it to a handler (it then covers every logger writing there) or to a logger
    (records logged directly through it). It never drops a record.

    Args:
        extra: Secret values to mask in addition to the registered ones.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        super().__init__()
        self._extra = tuple(extra)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the record's message, scrub it, and keep the record."""
        # Render first: a secret can hide in the args as well as in the format string.
        message = record.getMessage()
        cleaned = scrub(message, self._extra)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters cache the traceback here; format it now so it is scrubbed too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self._extra)
        return True

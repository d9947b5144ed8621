"""Fuzzing rules and configuration files: every outcome is data or slaplug's own problems.

Issue 14 (item 7) found 25 malformed files that ended in a traceback and one that hung. Here
hypothesis mutates valid files (the shipped pack, the file `slaplug init` writes) with the
kinds of damage those were made of, re-encodes some, and writes random YAML built from the
languages' own keys. Whatever it makes, loading must end, within a bound, in success or in
`ProblemsError` whose every problem names this file, a line and a column; any other exception
is a failure. Derandomized, so the suite runs the same few hundred files every time.
"""

from __future__ import annotations

import signal
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaplug.config import load_settings, starter_config
from slaplug.errors import ProblemsError
from slaplug.model import Ticket
from slaplug.rules.compile import compile_files
from slaplug.rules.pack import RulePack

REPO = Path(__file__).resolve().parent.parent
SHIPPED_PACK = (REPO / "rules" / "default.yaml").read_bytes()
STARTER_CONFIG = starter_config().encode()

#: One file may take this long on a loaded machine; past it, it is a hang.
HANG_SECONDS = 20
FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: What the malformed files of issue 14 were made of, plus YAML's own sharp edges.
DAMAGE = [
    "!!int abc",
    "!!timestamp abc",
    "!tz Europe/Berlin",
    "!!python/object:os.system x",
    "!!binary aGk=",
    "!!set {a, b}",
    "2026-02-30",
    "2026-13-01T25:61:00",
    "&a [*a]",
    "&a {x: *a}",
    "*a",
    "&a",
    "<<: *a",
    "<<: [1, 2]",
    "[" * 300,
    "{a: " * 120,
    "- " * 200,
    "9" * 5000,
    "-" + "9" * 30,
    ".nan",
    "-.inf",
    "1.0e+400",
    "0h",
    "0s",
    "-5m",
    "99999999999999h",
    "9" * 400 + "h",
    "soon",
    "urgnet",
    "../x",
    "\x00",
    "\x1b[31m",
    "\ufeff",
    "\t",
    "~",
    "? ",
    ": ",
    "- ",
    "\n  ",
    "\n",
    "'",
    '"',
    "#",
    "|",
    ">",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "a: &l [l, l, l, l, l, l, l, l, l]\nb: &m [*l, *l, *l, *l, *l, *l, *l, *l, *l]\n"
    "c: &n [*m, *m, *m, *m, *m, *m, *m, *m, *m]\nd: &o [*n, *n, *n, *n, *n, *n, *n, *n, *n]\n"
    "e: [*o, *o, *o, *o, *o, *o, *o, *o, *o, *o, *o, *o, *o, *o, *o, *o, *o, *o]\n",
]


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with one to four cuts, copies, insertions or byte changes, some re-encoded."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "insert", "delete", "copy", "byte"]))
        if op == "insert":
            text = draw(st.sampled_from(DAMAGE) | st.text(max_size=6))
            data[at:at] = text.encode("utf-8", errors="surrogatepass")
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        elif op == "copy":
            start = draw(st.integers(0, len(data)))
            data[at:at] = data[start : start + draw(st.integers(1, 400))]
        elif data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
    out = bytes(data)
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-16", "latin-1", "utf-8-sig"]))
    if encoding != "utf-8":
        out = out.decode("utf-8", errors="replace").encode(encoding, errors="replace")
    return out


#: Keys of the rules language and of slaplug.yaml, so random documents get past the first check.
KEYS = [
    "version", "engine", "shadow", "fields", "priorities", "calendars", "policies",
    "escalations", "contracts", "name", "kind", "match", "calendar", "pause_statuses",
    "targets", "resolution", "first_response", "urgent", "high", "*", "stop_when", "when",
    "actions", "levels", "add_tag", "comment", "notify", "assign", "percent", "remaining",
    "state", "all", "any", "not", "gte", "lt", "in", "timezone", "hours", "mon-fri", "holidays",
    "dates", "country", "objectives", "tiers", "severity", "metric", "target", "below",
    "credit", "fee", "cap", "exclusions", "maintenance", "start", "end", "freeze_after",
    "store", "rules", "connectors", "plugin", "base_url", "api_token_env", "sync", "every",
    "batch", "outbox", "lease", "max_attempts", "<<",
]  # fmt: skip
SCALARS = (
    st.sampled_from(["4h", "0h", "1h30m", "99999999999999h", "09:00-17:00", "UTC", "DE", "zendesk"])
    | st.text(max_size=12)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.booleans()
    | st.none()
    | st.dates(min_value=date(1, 1, 1))
    | st.datetimes(min_value=datetime(1, 1, 1))
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=30,
)
#: Short texts over YAML's punctuation: the syntax's corners rather than the schema's.
YAMLISH = st.text(alphabet=st.sampled_from(list("ab0:-[]{}&*!<>|'\"#%@`?,.~\n \t\\")), max_size=120)


@contextmanager
def bounded(seconds: int) -> Iterator[None]:
    """Raise in this thread if the body runs longer than ``seconds``: a hang is a failure."""

    def alarm(signum: int, frame: types.FrameType | None) -> None:
        raise TimeoutError(f"still loading after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def only_positioned_problems(path: Path, load: Callable[[], Any]) -> Any:
    """Run ``load``; it succeeds, or raises problems each at ``path``:line:col."""
    try:
        with bounded(HANG_SECONDS):
            return load()
    except ProblemsError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.file == str(path) and p.line and p.column and p.line >= 1, str(p)
            assert str(p).isprintable(), repr(str(p))
        return None


def check_rules(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    src = only_positioned_problems(path, lambda: compile_files([path]))
    if src is None:
        return
    # What checks clean also runs: a value that passed the check must not fail later, when a
    # ticket is measured against it (as 1e300 percent did, once a clock was breached).
    with bounded(HANG_SECONDS), RulePack(src, engine="python") as pack:
        for now in (OPENED + timedelta(minutes=30), OPENED + timedelta(days=400)):
            for assessment in pack.assess_many(TICKETS, now):
                pack.next_due(assessment.measures, now)


OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: One ticket per built-in priority, plus one without: every target of a mutated pack applies.
TICKETS = [
    Ticket(
        connector="desk",
        id=str(i),
        status="open",
        priority=priority,
        created_at=OPENED,
        updated_at=OPENED,
        tags=("vip",),
    )
    for i, priority in enumerate(["urgent", "high", "normal", "low", None])
]


@pytest.fixture
def zendesk(slaplug_register: Callable[..., str]) -> None:
    """The Zendesk connector plugin, so `slaplug init`'s file gets past the plugin check."""
    plugin = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
    slaplug_register(plugin, name="fuzz-zendesk")


def check_config(folder: Path, data: bytes) -> None:
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "rules" / "default.yaml").write_bytes(SHIPPED_PACK)
    path = folder / "slaplug.yaml"
    path.write_bytes(data)
    only_positioned_problems(
        path, lambda: load_settings(path, environ={"ZENDESK_API_TOKEN": "fuzz-token-7d1c0a"})
    )


def test_the_unmutated_files_load(tmp_path: Path, zendesk: None) -> None:
    # The starting points are valid, so a problem found below is the mutation's.
    assert compile_files([REPO / "rules" / "default.yaml"]).policies
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "default.yaml").write_bytes(SHIPPED_PACK)
    (tmp_path / "slaplug.yaml").write_bytes(STARTER_CONFIG)
    assert load_settings(tmp_path / "slaplug.yaml", environ={"ZENDESK_API_TOKEN": "t"})


@FUZZ
@given(data=mutated(SHIPPED_PACK))
def test_mutated_rules_files(tmp_path: Path, data: bytes) -> None:
    check_rules(tmp_path / "rules.yaml", data)


@FUZZ
@given(data=mutated(STARTER_CONFIG))
def test_mutated_config_files(tmp_path: Path, zendesk: None, data: bytes) -> None:
    check_config(tmp_path, data)


@FUZZ
@given(doc=DOCUMENTS, text=YAMLISH)
def test_random_yaml_as_rules_and_config(
    tmp_path: Path, zendesk: None, doc: Any, text: str
) -> None:
    try:
        dumped = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", errors="surrogatepass")
    except (yaml.YAMLError, UnicodeEncodeError):  # nothing YAML can say; the text still runs
        dumped = b""
    for data in (dumped, text.encode("utf-8", errors="surrogatepass")):
        check_rules(tmp_path / "rules.yaml", data)
        check_config(tmp_path, data)

"""slaplug.yaml: validated at start, every problem at file:line:col, secrets only by name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from tinydesk import TinyConnector

from slaplug import hookimpl
from slaplug.config import load_settings, starter_config
from slaplug.errors import ConfigError, ProblemsError


class _TinyPlugin:
    @hookimpl
    def register_connectors(self, register):  # type: ignore[no-untyped-def]
        register(TinyConnector)


@pytest.fixture
def tiny(slaplug_register) -> None:
    slaplug_register(_TinyPlugin(), name="undo-tiny")


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rules.yaml").write_text("policies: []\n", encoding="utf-8")
    p = tmp_path / "slaplug.yaml"
    p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return p


def test_valid_file_resolves_paths_and_credentials(tmp_path: Path, tiny: None) -> None:
    p = write(
        tmp_path,
        f"""
        store: sqlite:///state/slaplug.db
        rules: [rules.yaml]
        connectors:
          desk-eu:
            plugin: {TinyConnector.name}
            base_url: http://127.0.0.1:9
            api_token_env: TINY_TOKEN
        sync: {{every: 5m}}
        """,
    )
    s = load_settings(p, environ={"TINY_TOKEN": "s3cret-value"})
    assert s.store == f"sqlite:///{tmp_path.resolve()}/state/slaplug.db"
    assert s.rules == [tmp_path / "rules.yaml"]
    assert s.sync.interval_seconds() == 300
    conn = s.connectors["desk-eu"]
    assert conn.plugin == TinyConnector.name
    assert conn.config.secret("api_token").get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(s)


def test_every_problem_is_reported_at_once_with_positions(tmp_path: Path, tiny: None) -> None:
    p = write(
        tmp_path,
        """
        rules: [missing.yaml]
        stor: sqlite:///x.db
        """,
    )
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={})
    assert [str(x) for x in info.value.problems] == [
        f'{p}:2:1: stor: unknown key "stor"; check its spelling'
    ]
    p = write(
        tmp_path,
        f"""
        rules: [missing.yaml]
        connectors:
          a: {{base_url: http://x}}
          b: {{plugin: nosuch}}
          c:
            plugin: {TinyConnector.name}
            base_url: http://127.0.0.1:9
            api_token_env: NOT_SET_ANYWHERE
        """,
    )
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={})
    found = [str(x) for x in info.value.problems]
    assert found[0] == f"{p}:1:9: rules[0]: rules file {tmp_path / 'missing.yaml'} does not exist"
    assert found[1].startswith(f'{p}:3:6: connectors.a: connector "a" needs plugin:')
    assert found[2].startswith(
        f'{p}:4:15: connectors.b.plugin: no connector plugin "nosuch"; installed:'
    )
    # An unset credential is not a problem of the file: it is raised where it is needed
    # (tests/test_credentials_when_needed.py).
    assert not any("NOT_SET_ANYWHERE" in f for f in found)
    assert len(found) == 3


def test_settings_errors_say_what_was_written_and_what_is_expected(
    tmp_path: Path, tiny: None
) -> None:
    # pydantic's own texts ("Extra inputs are not permitted", "Input should be a valid
    # number...") in slaplug's words, each at its file:line:col (QA #8).
    p = write(
        tmp_path,
        f"""
        rules: [rules.yaml]
        outbox:
          max_attempts: eight
        connectors:
          desk:
            plugin: {TinyConnector.name}
            base_url: http://127.0.0.1:9
            api_token_env: TINY_TOKEN
            timeout: abc
            fieldz: {{a: 1}}
            retry: {{max_attempts: 0}}
        """,
    )
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={"TINY_TOKEN": "s3cret-value"})
    assert [str(x) for x in info.value.problems] == [
        f'{p}:3:17: outbox.max_attempts: "eight" is not a whole number, e.g. 8',
    ]
    p.write_text(p.read_text().replace("eight", "8"))
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={"TINY_TOKEN": "s3cret-value"})
    desk = "connectors.desk"
    assert [str(x) for x in info.value.problems] == [
        f"{p}:9:14: {desk}.timeout: connector 'desk': \"abc\" is not a number of seconds, e.g. 30",
        f"{p}:10:5: {desk}.fieldz: connector 'desk': unknown key \"fieldz\"; check its spelling",
        f"{p}:11:27: {desk}.retry.max_attempts: connector 'desk': 0 is too small: it must be at "
        "least 1",
    ]


def test_a_base_url_with_credentials_is_refused_without_echoing_them(
    tmp_path: Path, tiny: None
) -> None:
    p = write(
        tmp_path,
        f"""
        rules: [rules.yaml]
        connectors:
          desk:
            plugin: {TinyConnector.name}
            base_url: http://admin:urlpass-LEAK-42@127.0.0.1:18999
            api_token_env: TINY_TOKEN
        """,
    )
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={"TINY_TOKEN": "s3cret-value"})
    (found,) = [str(x) for x in info.value.problems]
    assert found.startswith(f"{p}:5:15: connectors.desk.base_url: connector 'desk': ")
    assert "urlpass-LEAK-42" not in found and "admin" not in found
    assert "http://...@127.0.0.1:18999 holds credentials" in found
    assert "name that variable in api_token_env" in found


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="slaplug init"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_starter_config_is_valid_yaml_with_commented_sections() -> None:
    import yaml

    doc = yaml.safe_load(starter_config())
    assert doc["store"] == "sqlite:///slaplug.db"
    assert doc["connectors"]["zendesk"]["api_token_env"] == "ZENDESK_API_TOKEN"


#: The first line of a commented example in the starter file: ``# key:`` (or ``# key: value``)
#: at any indent, where prose never starts with a lower-case key and a colon.
_EXAMPLE_START = re.compile(r"^(?P<indent> *)# (?P<key>[a-z_]+):(?: |$)")


def commented_examples(text: str) -> list[tuple[int, int]]:
    """The commented example blocks of ``text`` as (first line, end) index ranges: a line
    ``# key:`` and the lines after it at the same ``#`` that go on deeper (``#   ...``)."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        m = _EXAMPLE_START.match(lines[i])
        if not m:
            i += 1
            continue
        start, prefix = i, m["indent"] + "#   "
        i += 1
        while i < len(lines) and lines[i].startswith(prefix):
            i += 1
        blocks.append((start, i))
    return blocks


def uncommented(text: str, block: tuple[int, int]) -> str:
    """``text`` with the ``# `` of one example block removed; a top-level key the example
    sets again (``store:``, ``rules:``) is taken out, as the file says to (in place of)."""
    lines = text.splitlines()
    start, end = block
    example = [line.replace("# ", "", 1) for line in lines[start:end]]
    key = example[0].split(":")[0]
    if not key.startswith(" "):
        at = next((j for j, line in enumerate(lines) if line.startswith(key + ":")), None)
        if at is not None:
            stop = at + 1
            while stop < len(lines) and lines[stop].startswith((" ", "-")):
                stop += 1
            cut = stop - at
            lines[at:stop] = []
            if at < start:
                start, end = start - cut, end - cut
    lines[start:end] = example
    return "\n".join(lines) + "\n"


class _EveryCredential(Mapping[str, str]):
    """An environment with every credential the examples name set (slaplug's own variables,
    ``SLAPLUG_*``, stay unset)."""

    def __getitem__(self, key: str) -> str:
        if key.startswith("SLAPLUG_"):
            raise KeyError(key)
        return "starter-secret-0123456789abcdef"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_each_commented_example_of_the_starter_file_uncomments_into_a_valid_file(
    tmp_path: Path, slaplug_register: Callable[..., str]
) -> None:
    """QA #7: the `# jira:` block sat at column 0, so uncommenting it gave `jira: unknown key`."""
    for module in ("slaplug_zendesk", "slaplug_jira"):
        slaplug_register(pytest.importorskip(module), name=f"starter-{module}")
    (tmp_path / "rules").mkdir()
    for name in ("default.yaml", "v2.yaml"):
        (tmp_path / "rules" / name).write_text("policies: []\n", encoding="utf-8")
    text = starter_config()
    blocks = commented_examples(text)
    firsts = [text.splitlines()[s].strip() for s, _ in blocks]
    assert [f.split(":")[0] for f in firsts] == [
        "# store",
        "# rules",
        "# webhook_secret_env",
        "# jira",
        "# escalate_from",
    ]
    for block in blocks:
        edited = uncommented(text, block)
        assert edited != text
        path = tmp_path / "slaplug.yaml"
        path.write_text(edited, encoding="utf-8")
        try:
            settings = load_settings(path, environ=_EveryCredential())
        except ProblemsError as exc:
            pytest.fail(f"uncommenting {firsts[blocks.index(block)]!r}: {exc.problems}")
        assert settings.connectors["zendesk"].plugin == "zendesk"
    jira = uncommented(text, blocks[3])
    (tmp_path / "slaplug.yaml").write_text(jira, encoding="utf-8")
    assert set(load_settings(tmp_path / "slaplug.yaml", environ=_EveryCredential()).connectors) == {
        "zendesk",
        "jira",
    }
    store = uncommented(text, blocks[0])
    assert "store: postgresql+psycopg://" in store and "sqlite:///" not in store


def test_uncommenting_an_example_block_keeps_its_indent_and_replaces_a_key_it_repeats() -> None:
    text = "a: 1\n# a: 2\nb:\n  c: 1\n  # d:\n  #   e: 2\n  # prose: no\n"
    assert commented_examples(text) == [(1, 2), (4, 6), (6, 7)]
    assert uncommented(text, (4, 6)) == "a: 1\n# a: 2\nb:\n  c: 1\n  d:\n    e: 2\n  # prose: no\n"
    assert uncommented(text, (1, 2)).startswith("a: 2\nb:\n")


# -- malformed files (issue 14, items 3 and 7): a problem at file:line:col, never a traceback --

ZENDESK = """\
rules: [rules.yaml]
connectors:
  desk:
    plugin: zendesk
    base_url: https://acme.zendesk.com
    email: ops@acme.example
    api_token_env: ZENDESK_API_TOKEN
"""


def _first_problem(p: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={"ZENDESK_API_TOKEN": "t"} if environ is None else environ)
    return str(info.value.problems[0])


def _at(text: str, marker: str | tuple[int, int]) -> str:
    """``line:col`` of the first ``marker`` in ``text`` (or the line and column given)."""
    if isinstance(marker, tuple):
        return "{}:{}".format(*marker)
    at = text.index(marker)
    return f"{text.count(chr(10), 0, at) + 1}:{at - (text.rfind(chr(10), 0, at) + 1) + 1}"


MALFORMED_CONFIGS = [
    ("impossible-date", ZENDESK + "store: 2026-02-30\n", "2026-02-30", "not a real date"),
    ("int-tag", ZENDESK + "sync: {batch: !!int abc}\n", "!!int", "not a whole number"),
    ("timestamp-tag", ZENDESK + "store: !!timestamp abc\n", "!!timestamp", "not a real date"),
    ("custom-tag", ZENDESK + "store: !env DB_URL\n", "!env", "tag !env is not supported"),
    ("recursive-anchor", "rules: &a [*a]\n", "*a", "contains itself"),
    ("nested-3000", "rules: " + "[" * 3000 + "]" * 3000 + "\n", (1, 8 + 64), "nested deeper"),
    ("integer-5000-digits", ZENDESK + "sync: {batch: " + "9" * 5000 + "}\n", "9999", "too large"),
    ("nul-byte", ZENDESK + "store: x\x00\n", "\x00", "NUL"),
    # outbox.lease values that passed validation and failed later (or silently doubled writes)
    ("lease-zero", ZENDESK + "outbox: {lease: 0s}\n", "0s", 'lease "0s" is out of range'),
    ("lease-short", ZENDESK + "outbox: {lease: 30s}\n", "30s", "from 1m to 24h"),
    ("lease-overflow", ZENDESK + "outbox: {lease: 99999999999999h}\n", "9999", "too long"),
    ("lease-years", ZENDESK + "outbox: {lease: 9999999h}\n", "9999", "too long"),
    ("lease-negative", ZENDESK + "outbox: {lease: -5m}\n", "-5m", "not a duration"),
    ("every-soon", ZENDESK + "sync: {every: soon}\n", "soon", '"soon" is not a duration'),
    ("every-zero", ZENDESK + "sync: {every: 0s}\n", "0s", "from 1s to 24h"),
    (
        "keep-failed-jobs-minutes",
        ZENDESK + "work: {keep_failed_jobs: 10m}\n",
        "10m",
        'keep_failed_jobs "10m" is out of range; write a duration from 1h to 8760h',
    ),
    (
        "connector-dotdot",
        ZENDESK.replace("  desk:", "  ../desk:"),
        "../desk",
        'connector name "../desk" may hold only letters',
    ),
    (
        "connector-nul",
        ZENDESK.replace("  desk:", '  "de\\0sk":'),
        '"de',
        'connector name "de\\x00sk"',
    ),
    (
        "connector-colon",
        ZENDESK.replace("  desk:", '  "desk:eu":'),
        '"desk',
        'connector name "desk:eu"',
    ),
]


@pytest.mark.parametrize(
    ("text", "marker", "fragment"),
    [c[1:] for c in MALFORMED_CONFIGS],
    ids=[c[0] for c in MALFORMED_CONFIGS],
)
def test_malformed_config_is_a_problem_at_its_position(
    tmp_path: Path, text: str, marker: str | tuple[int, int], fragment: str
) -> None:
    (tmp_path / "rules.yaml").write_text("policies: []\n", encoding="utf-8")
    p = tmp_path / "slaplug.yaml"
    p.write_bytes(text.encode())
    found = _first_problem(p)
    assert found.startswith(f"{p}:{_at(text, marker)}: "), found
    assert fragment in found
    assert found.isprintable()


@pytest.mark.parametrize(
    ("data", "where", "fragment"),
    [
        (ZENDESK.encode("utf-16"), "1:1", "the file is UTF-16; save it as UTF-8"),
        ("store: caf\xe9\n".encode("latin-1"), "1:11", "not UTF-8 (byte 0xe9"),
        (bytes(range(256)), "2:118", "not UTF-8"),
    ],
    ids=["utf-16", "latin-1", "binary"],
)
def test_a_config_file_that_is_not_utf8_says_so(
    tmp_path: Path, data: bytes, where: str, fragment: str
) -> None:
    p = tmp_path / "slaplug.yaml"
    p.write_bytes(data)
    found = _first_problem(p)
    assert found.startswith(f"{p}:{where}: ") and fragment in found, found


def test_lease_bounds_and_the_test_harness_floor(tmp_path: Path, tiny: None) -> None:
    desk = (
        "rules: [rules.yaml]\nconnectors:\n  desk: "
        f"{{plugin: {TinyConnector.name}, base_url: http://127.0.0.1:9, "
        "api_token_env: ZENDESK_API_TOKEN}\n"
    )
    (tmp_path / "rules.yaml").write_text("policies: []\n", encoding="utf-8")
    p = tmp_path / "slaplug.yaml"
    for ok in ("1m", "5m", "24h"):
        p.write_text(desk + f"outbox: {{lease: {ok}}}\n", encoding="utf-8")
        assert load_settings(p, environ={"ZENDESK_API_TOKEN": "t"}).outbox.lease == ok
    p.write_text(desk + "outbox: {lease: 59s}\n", encoding="utf-8")
    assert "from 1m to 24h" in _first_problem(p)
    # Only a test harness lowers the floor, through the environment, never the file.
    p.write_text(desk + "outbox: {lease: 1s}\n", encoding="utf-8")
    env = {"ZENDESK_API_TOKEN": "t", "SLAPLUG_MIN_LEASE": "1s"}
    assert load_settings(p, environ=env).outbox.lease_delta().total_seconds() == 1
    with pytest.raises(ConfigError, match="SLAPLUG_MIN_LEASE"):
        load_settings(p, environ={**env, "SLAPLUG_MIN_LEASE": "soon"})


def _slaplug(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("case", ["lease-zero", "every-soon", "impossible-date", "connector-nul"])
def test_sync_dry_run_exits_2_with_the_position(tmp_path: Path, case: str) -> None:
    _, text, marker, fragment = next(c for c in MALFORMED_CONFIGS if c[0] == case)
    (tmp_path / "rules.yaml").write_text("policies: []\n", encoding="utf-8")
    p = tmp_path / "slaplug.yaml"
    p.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "SLAPLUG_MIN_LEASE"}
    run = _slaplug(
        "sync", "--once", "--dry-run", "--config", str(p), env={**env, "ZENDESK_API_TOKEN": "t"}
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert f"{p}:{_at(text, marker)}: " in run.stderr and fragment in run.stderr

"""docs/plugins/tutorial.md is true: its files build a connector that passes the suite.

The tutorial marks file contents with an info string, ```python no-run file=PATH (``no-run``
so that tests/test_docs_examples.py only shows them); a later block for the same PATH
replaces the earlier one, as the reader's editor would. ``excerpt=PATH`` blocks show part
of a file and must appear in it verbatim. Nothing is pip-installed: the extracted folder
goes on sys.path, and the plugin is registered in-process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from slaplug.errors import AuthenticationError, ConfigError, ProblemsError
from slaplug.plugins import get_connectors, get_fakes, plugin_list
from slaplug.scaffold import files

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "plugins" / "tutorial.md"
_BLOCK = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```$", re.S | re.M)


def blocks() -> Iterator[tuple[str, str]]:
    """``(info string, body)`` of every fenced block of the tutorial, in order."""
    for m in _BLOCK.finditer(TUTORIAL.read_text(encoding="utf-8")):
        yield m["info"].strip(), m["body"]


def attribute(info: str, name: str) -> str | None:
    """The value of ``name=value`` in an info string, or None."""
    found = re.search(rf"(?:^|\s){name}=(\S+)", info)
    return found[1] if found else None


def versions() -> dict[str, list[str]]:
    """Each file's successive versions in the tutorial."""
    out: dict[str, list[str]] = {}
    for info, body in blocks():
        if path := attribute(info, "file"):
            out.setdefault(path, []).append(body)
    return out


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The tutorial's final files in a folder on sys.path; its modules unloaded after."""
    for path, bodies in versions().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(bodies[-1], encoding="utf-8")
    (tmp_path / "slaplug_tinydesk" / "py.typed").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path / "tests"))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(("slaplug_tinydesk", "fake_tinydesk"))]:
        del sys.modules[name]


def test_every_file_block_is_marked_not_to_run() -> None:
    for info, _ in blocks():
        if info.startswith("python") and (attribute(info, "file") or attribute(info, "excerpt")):
            assert "no-run" in info.split(), info


def test_every_python_version_compiles() -> None:
    for path, bodies in versions().items():
        if path.endswith(".py"):
            for i, body in enumerate(bodies):
                compile(body, f"{path} (version {i + 1})", "exec")


def test_excerpts_appear_in_their_files() -> None:
    final = {path: bodies[-1] for path, bodies in versions().items()}
    excerpts = [(attribute(i, "excerpt"), b) for i, b in blocks() if attribute(i, "excerpt")]
    assert excerpts
    for path, body in excerpts:
        assert body in final[str(path)], f"an excerpt of {path} is not in the final file"


def test_tutorial_ends_where_new_connector_starts() -> None:
    final = {path: bodies[-1] for path, bodies in versions().items()}
    generated = files("tinydesk")
    assert set(final) == set(generated) - {"slaplug_tinydesk/py.typed"}
    for path, text in final.items():
        assert text == generated[path], f"{path} differs from `slaplug new-connector tinydesk`"


def test_tutorial_conformance_suite_passes(project: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), str(project / "tests")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        check=False,  # asserted below, with the output
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "18 passed in" in done.stdout  # nothing skipped: the webhook tests run too


def test_tutorial_plugin_registers_its_connector(project: Path, slaplug_register) -> None:
    import slaplug_tinydesk

    slaplug_register(slaplug_tinydesk, name="tinydesk")
    assert get_connectors()["tinydesk"] is slaplug_tinydesk.TinydeskConnector
    shown = {p.name: p.hooks for p in plugin_list()}
    assert shown["tinydesk"] == ("register_connectors", "register_fakes")


def test_tutorial_fake_is_served_by_slaplug_fake(project: Path, slaplug_register) -> None:
    """The tutorial's plugin offers its fake: ``slaplug fake tinydesk`` serves real HTTP."""
    import slaplug_tinydesk

    slaplug_register(slaplug_tinydesk, name="tinydesk")
    assert "tinydesk" in get_fakes()
    env = {**os.environ, "PYTHONPATH": str(project), "SLAPLUG_LOAD_PLUGINS": ""}
    code = (
        "import sys, slaplug_tinydesk\n"
        "from slaplug.plugins import pm\n"
        "pm.register(slaplug_tinydesk, name='tinydesk')\n"
        "from slaplug.cli import main\n"
        "main(['fake', 'tinydesk', '--port', '0'])\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        try:
            url = line.split(" listening on ")[1].strip()
            with urlopen(Request(f"{url}/api/tickets/1", headers=_bearer())) as answer:
                assert json.load(answer)["id"] == 1
        finally:
            proc.terminate()
        assert proc.wait(timeout=10) == 0  # SIGTERM stops it cleanly


def _bearer() -> dict[str, str]:
    from slaplug_tinydesk.fake import TOKEN

    return {"Authorization": f"Bearer {TOKEN}"}


def test_when_it_breaks_shows_the_real_messages(project: Path) -> None:
    from slaplug_tinydesk import TinydeskConfig, TinydeskConnector
    from slaplug_tinydesk.fake import FakeTinydesk

    text = TUTORIAL.read_text(encoding="utf-8")
    good = {"base_url": "https://tinydesk.example", "api_token_env": "TINYDESK_TOKEN"}
    with pytest.raises(ProblemsError) as missing:
        TinydeskConfig.load(good, connector="tinydesk", environ={})
    bad = {"base_url": "tinydesk.example", "api_token_env": "TINYDESK_TOKEN", "token": "x"}
    with pytest.raises(ProblemsError) as typo:
        TinydeskConfig.load(bad, connector="tinydesk", environ={"TINYDESK_TOKEN": "t"})
    messages = [str(p) for p in missing.value.problems + typo.value.problems]
    with FakeTinydesk() as fake:
        config = TinydeskConfig.load(
            {**good, "base_url": fake.base_url},
            connector="tinydesk",
            environ={"TINYDESK_TOKEN": "wrong"},
        )
        with TinydeskConnector(config) as connector, pytest.raises(AuthenticationError) as denied:
            connector.read_ticket("1")
    messages.append(str(denied.value))
    newline = TinydeskConfig.load(good, connector="tinydesk", environ={"TINYDESK_TOKEN": "t0k\n"})
    with pytest.raises(ConfigError) as broken:
        TinydeskConnector(newline)
    assert "t0k" not in str(broken.value)
    messages.append(str(broken.value))
    for message in messages:
        assert f"\n{message}\n" in text, f"the tutorial does not show: {message}"


#: The tutorial's connector, broken as "When it breaks" says; each test class swaps it in for
#: the scenario (the `monkeypatch` fixture the tutorial's scenario takes, overridden).
BROKEN = """
import pytest
import test_tinydesk_conformance as conformance
from slaplug_tinydesk import connector as tiny

from slaplug.connectors import TicketPage, verify_signature


class ForgetsNoteKey(tiny.TinydeskConnector):
    def _posted(self, path, marker):
        return False


class SkipsEveryOtherPage(tiny.TinydeskConnector):
    def read_changed(self, cursor):
        for n, page in enumerate(super().read_changed(cursor)):
            if n % 2 == 0:
                yield page


class KeepsOldestWatermark(tiny.TinydeskConnector):
    def read_changed(self, cursor):
        oldest = cursor
        for page in super().read_changed(cursor):
            stamps = [t.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") for t in page.tickets]
            oldest = min([oldest, *stamps]) if oldest else min(stamps)
            yield TicketPage(page.tickets, oldest)


class SkipsMissingSignature(tiny.TinydeskConnector):
    def verify_webhook(self, headers, body):
        if tiny._header(headers, tiny.SIGNATURE) is not None:
            super().verify_webhook(headers, body)


class NoAgeCheck(tiny.TinydeskConnector):
    def verify_webhook(self, headers, body):
        stamp = tiny._header(headers, tiny.TIMESTAMP) or ""
        verify_signature(
            tiny._header(headers, tiny.SIGNATURE),
            f"{stamp}.".encode() + body,
            self.config.secrets("webhook_secret"),
            encoding="hex",
            prefix="sha256=",
        )


def broken(cls):
    class Suite(conformance.TestTinydeskConnector):
        connector = cls

        @pytest.fixture
        def monkeypatch(self, monkeypatch):
            monkeypatch.setattr(conformance, "TinydeskConnector", cls)
            return monkeypatch

    Suite.__name__ = Suite.__qualname__ = f"Test{cls.__name__}"
    return Suite


TestForgetsNoteKey = broken(ForgetsNoteKey)
TestSkipsEveryOtherPage = broken(SkipsEveryOtherPage)
TestKeepsOldestWatermark = broken(KeepsOldestWatermark)
TestSkipsMissingSignature = broken(SkipsMissingSignature)
TestNoAgeCheck = broken(NoAgeCheck)
"""


def test_when_it_breaks_shows_the_suites_real_messages(project: Path) -> None:
    """Each suite failure the tutorial quotes is what the suite says of the bug it names."""
    (project / "tests" / "test_broken_tinydesk.py").write_text(BROKEN, encoding="utf-8")
    report = project / "report.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), str(project / "tests")])}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "tests/test_broken_tinydesk.py",
        ],
        check=False,  # failures expected: the report is checked below
        cwd=project,
        env=env,
        capture_output=True,
        timeout=120,
    )
    failed = {
        f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}": (
            failure.get("message") or ""
        )
        for case in ET.parse(report).iter("testcase")
        for failure in case.iter("failure")
    }
    assert set(failed) == {
        "TestForgetsNoteKey::test_write_back_is_idempotent",
        "TestSkipsEveryOtherPage::test_pagination_reads_every_ticket",
        "TestSkipsEveryOtherPage::test_pagination_resumes_from_each_page",
        "TestKeepsOldestWatermark::test_pagination_terminates",
        "TestSkipsMissingSignature::test_webhook_rejects_missing_signature",
        "TestNoAgeCheck::test_webhook_rejects_stale_timestamp",
    }, failed
    text = TUTORIAL.read_text(encoding="utf-8")
    section = text[text.index("The suite fails with a sentence") :]
    quoted = [b for i, b in _blocks_in(section) if i == "text"]
    assert len(quoted) == 5
    messages = "\n".join(failed.values())
    for quote in quoted:
        assert quote.strip() in messages, f"the suite does not say: {quote}"
    for name, message in failed.items():
        assert "DID NOT RAISE" not in message, name


def _blocks_in(text: str) -> Iterator[tuple[str, str]]:
    """``(info string, body)`` of every fenced block of ``text``."""
    for m in _BLOCK.finditer(text):
        yield m["info"].strip(), m["body"]

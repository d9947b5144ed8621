"""``slaplug fake NAME``: the fakes plugins register through the ``register_fakes`` hook."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import slaplug_freshdesk
import slaplug_jira
import slaplug_zendesk
from click.testing import CliRunner
from slaplug_freshdesk.fake import API_KEY
from tinydesk import TinyFake

from slaplug import hookimpl
from slaplug.cli import main
from slaplug.demo import _call_start
from slaplug.errors import PluginError
from slaplug.hookspecs import DemoConnection
from slaplug.plugins import get_demo_fakes, get_fakes


@pytest.fixture
def platforms(slaplug_register: Callable[..., str]) -> None:
    """The three connector plugins, registered as their entry points would."""
    for name, module in (
        ("zendesk", slaplug_zendesk),
        ("jira", slaplug_jira),
        ("freshdesk", slaplug_freshdesk),
    ):
        slaplug_register(module, name=name)


def test_fake_lists_what_the_plugins_register(platforms: None) -> None:
    out = CliRunner().invoke(main, ["fake", "--help"])
    assert out.exit_code == 0
    for line in ("freshdesk  Serve a fake Freshdesk", "jira       Serve a fake Jira", "zendesk"):
        assert line in out.output


@pytest.mark.parametrize(
    ("name", "option"),
    [("zendesk", "--webhook-secret-env"), ("jira", "--fault-rate"), ("freshdesk", "--api-key")],
)
def test_each_fake_takes_its_own_options(platforms: None, name: str, option: str) -> None:
    out = CliRunner().invoke(main, ["fake", name, "--help"])
    assert out.exit_code == 0 and option in out.output


def test_the_jira_fake_refuses_a_webhook_without_its_secret_as_before(platforms: None) -> None:
    out = CliRunner().invoke(
        main, ["fake", "jira", "--port", "0", "--webhook-url", "http://127.0.0.1:1/x"]
    )
    assert out.exit_code == 2


def test_an_unknown_fake_names_the_installed_ones(platforms: None) -> None:
    out = CliRunner().invoke(main, ["fake", "servicenow"])
    assert out.exit_code == 2
    assert "no fake named 'servicenow'; installed fakes: freshdesk, jira, zendesk" in out.output


def test_no_fake_installed_says_so() -> None:
    out = CliRunner().invoke(main, ["fake", "zendesk"])
    assert out.exit_code == 2 and "none (install a connector plugin)" in out.output


def test_two_plugins_registering_one_fake_are_both_named(
    platforms: None, slaplug_register: Callable[..., str]
) -> None:
    class Other:
        @hookimpl
        def register_fakes(self, register):
            register("freshdesk", lambda argv: 0)

    slaplug_register(Other(), name="other")
    with pytest.raises(PluginError, match=r"'freshdesk' is registered twice.*'freshdesk'.*'other'"):
        get_fakes()


def test_a_fake_name_must_be_a_word(slaplug_register: Callable[..., str]) -> None:
    class Bad:
        @hookimpl
        def register_fakes(self, register):
            register("../x", lambda argv: 0)

    slaplug_register(Bad(), name="bad")
    with pytest.raises(PluginError, match="not a lower-case word"):
        get_fakes()


def test_slaplug_fake_freshdesk_serves_tickets_as_a_real_process() -> None:
    """The installed ``slaplug`` command, in its own process: plugins load from their entry
    points there, as for a user."""
    slaplug = Path(sys.executable).with_name("slaplug")
    argv = [str(slaplug), "fake", "freshdesk", "--port", "0", "--tickets", "3"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            base = proc.stdout.readline().rsplit(" ", 1)[-1].strip()
            assert base.startswith("http://127.0.0.1:")
            r = requests.get(f"{base}/api/v2/tickets/2", auth=(API_KEY, "X"), timeout=5)
            assert r.status_code == 200
            assert r.json()["id"] == 2 and r.json()["status"] == 3
            wrong = requests.get(f"{base}/api/v2/tickets/2", auth=("nope", "X"), timeout=5)
            assert wrong.status_code == 401
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0


# -- the demo's fakes come from the plugins (register_fakes(..., demo=start)) ----------------


def test_the_demo_runs_the_fakes_the_plugins_offer(platforms: None) -> None:
    offered = get_demo_fakes()
    assert list(offered) == ["jira", "zendesk"]  # sorted; Freshdesk offers no demo
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    with offered["zendesk"](now) as connection:
        section = connection.section
        assert section["plugin"] == "zendesk"
        token = connection.environ[section["api_token_env"]]
        r = requests.get(
            f"{section['base_url']}/api/v2/users/me.json",
            auth=(f"{section['email']}/token", token),
            timeout=5,
        )
        assert r.status_code == 200
        assert connection.contracts_heading is None
        # Its data ends before the instant it was given (three days before: the demo's story).
        newest = requests.get(
            f"{section['base_url']}/api/v2/incremental/tickets/cursor.json?start_time=0",
            auth=(f"{section['email']}/token", token),
            timeout=5,
        ).json()["tickets"]
        assert newest and max(t["updated_at"] for t in newest) < "2026-11-30T12:00:00Z"
    with pytest.raises(requests.ConnectionError):  # leaving the demo stops the fake
        requests.get(f"{section['base_url']}/api/v2/users/me.json", timeout=2)
    with offered["jira"](now) as connection:
        assert connection.section["projects"] == ["SUP"]
        assert connection.contracts_heading == "Jira tickets, by JSM organization"


def test_any_plugin_can_offer_a_fake_to_the_demo(slaplug_register: Callable[..., str]) -> None:
    @contextmanager
    def start() -> Iterator[DemoConnection]:
        with TinyFake() as fake:
            yield DemoConnection({"plugin": "tiny", "base_url": fake.base_url})

    class Tiny:
        @hookimpl
        def register_fakes(self, register):
            register("tiny", lambda argv: 0, demo=start)

    slaplug_register(Tiny(), name="tiny")
    assert list(get_fakes()) == ["tiny"]
    with get_demo_fakes()["tiny"]() as connection:
        assert requests.get(connection.section["base_url"], timeout=5).status_code == 401


def test_the_demo_gives_its_instant_to_a_start_that_takes_it() -> None:
    """``start(now)`` since the demo runs at a chosen instant; a plugin's ``start()`` written
    before that is still called, without it."""
    given: list[object] = []

    @contextmanager
    def start(now: datetime) -> Iterator[DemoConnection]:
        given.append(now)
        yield DemoConnection({"plugin": "tiny"})

    @contextmanager
    def legacy() -> Iterator[DemoConnection]:
        given.append("legacy")
        yield DemoConnection({"plugin": "tiny"})

    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    with _call_start(start, now), _call_start(legacy, now):  # type: ignore[arg-type]
        pass
    assert given == [now, "legacy"]


def test_a_demo_that_is_not_callable_is_refused(slaplug_register: Callable[..., str]) -> None:
    class Bad:
        @hookimpl
        def register_fakes(self, register):
            register("bad", lambda argv: 0, demo="not a function")

    slaplug_register(Bad(), name="bad")
    with pytest.raises(PluginError, match="the demo of fake 'bad' is not callable"):
        get_demo_fakes()


def test_the_demo_without_a_fake_to_run_says_what_to_install(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "demo")])
    assert out.exit_code == 1
    assert "no installed plugin offers a fake helpdesk for the demo" in out.output
    assert "Traceback" not in out.output

"""The per-install secret that keys note markers: made once, shared, kept across opens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete, inspect
from test_store import _run_together, pg_database, url  # noqa: F401  (fixtures)
from tinydesk import TinyConnector

from slaplug import hookimpl
from slaplug.config import load_settings
from slaplug.connectors import Connector
from slaplug.connectors.markers import MarkerKey
from slaplug.plugins import pm
from slaplug.runtime import open_runtime
from slaplug.store import Store
from slaplug.store.migrations import migrate
from slaplug.store.schema import install, notification_sends, schema_version


def test_the_secret_is_made_once_and_kept_across_opens(url: str) -> None:  # noqa: F811
    with Store.open(url) as store:
        first = store.install_secret()
        assert len(first) == 32
        assert store.install_secret() == first
    with Store.open(url) as store:
        assert store.install_secret() == first


def test_two_processes_asking_at_once_get_the_same_secret(url: str) -> None:  # noqa: F811
    with Store.open(url):
        pass  # migrated, so the workers do not race on the schema as well
    a, b = _run_together(["secret", url], ["secret", url])
    assert a == b
    assert len(bytes.fromhex(a)) == 32


def test_a_version_2_store_gains_the_install_table(tmp_path: Path) -> None:
    old = f"sqlite:///{tmp_path / 'old.db'}"
    with Store.open(old) as store, store.engine.begin() as conn:
        # Back to a version 2 store: the tables of versions 3 and later gone, unrecorded.
        install.drop(conn)
        notification_sends.drop(conn)
        conn.execute(delete(schema_version).where(schema_version.c.version >= 3))
    with Store.open(old) as store:
        assert inspect(store.engine).has_table("install")
        assert inspect(store.engine).has_table("notification_sends")
        assert migrate(store.engine) == []
        assert len(store.install_secret()) == 32


def test_the_runtime_keys_every_connector_with_the_stores_secret(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        Path(__file__).parents[1].joinpath("rules", "default.yaml").read_text()
    )
    (tmp_path / "slaplug.yaml").write_text(
        f"store: sqlite:///{tmp_path / 'store.db'}\n"
        "rules: [rules.yaml]\n"
        "notify: {team-lead: [], support-manager: [], second-line-lead: []}\n"
        "connectors:\n"
        "  a: {plugin: tiny, base_url: 'http://127.0.0.1:9', api_token_env: TOKEN_A}\n"
        "  b: {plugin: tiny, base_url: 'http://127.0.0.1:9', api_token_env: TOKEN_B}\n"
    )
    env = {"TOKEN_A": "token-aaaa", "TOKEN_B": "token-bbbb"}

    class Tiny:
        @hookimpl
        def register_connectors(self, register: Callable[[type[Connector]], None]) -> None:
            register(TinyConnector)

    pm.register(Tiny(), name="tiny-for-install-secret")
    try:
        settings = load_settings(tmp_path / "slaplug.yaml", environ=env)
        with open_runtime(settings) as rt:
            secret = rt.store.install_secret()
            keys = {name: c.marker_key for name, c in rt.connectors.items()}
            fallback = TinyConnector(rt.connectors["a"].config).marker_key
    finally:
        pm.unregister(name="tiny-for-install-secret")
    expected = MarkerKey(secret).digest("k")
    # One key for all, the store's: not the fallback each connector derives from its token.
    assert {k.digest("k") for k in keys.values()} == {expected}
    assert fallback.digest("k") != expected
    assert "token-aaaa" not in repr(keys["a"]) and secret.hex() not in repr(keys["a"])

"""A store client run as a separate process by tests/test_store.py.

Usage: ``python tests/store_worker.py MODE URL [ARGS...]``. Every mode but ``crash`` prints
``ready`` and waits for a line on stdin before it starts, so the test can start two workers
and release them together; results go to stdout as one JSON line.

Modes:
    open: open the store (migrating it).
    claim WORKER: claim, in threes, and complete every due action of connector ``zd``.
    plan: plan actions ``0/warn`` .. ``199/warn`` in batches of 20.
    complete STATUS: complete every planned action ``0/warn`` .. ``199/warn`` with STATUS,
        in batches of 50 (`Store.complete_many`), and print which ones this worker ended.
    crash: claim one action, print its key, then hold the lease until killed.
    secret: print the store's install secret (hex), made by whichever worker asks first.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

from slaplug.model import Action, ActionKind, Metric
from slaplug.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def action(key: str, connector: str = "zd", shadow: bool = False) -> Action:
    """An ADD_TAG action on ticket ``key.split('/')[0]``."""
    return Action(
        kind=ActionKind.ADD_TAG,
        params={"tag": "sla_warn"},
        connector=connector,
        ticket_id=key.split("/", maxsplit=1)[0],
        key=key,
        escalation="warn",
        level=1,
        policy="gold",
        metric=Metric.FIRST_RESPONSE,
        cycle=1,
        shadow=shadow,
    )


def _wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def main(mode: str, url: str, *args: str) -> None:
    if mode == "open":
        _wait_for_go()
        Store.open(url).close()
        print(json.dumps("opened"))
        return
    with Store.open(url, migrate_schema=False) as store:
        if mode == "crash":
            [c] = store.outbox_claim("zd", now=T0, worker_id="doomed")
            print(c.key, flush=True)
            time.sleep(600)  # holds the lease until the test kills us
        elif mode == "claim":
            _wait_for_go()
            taken, recorded = [], []
            while claims := store.outbox_claim("zd", limit=3, now=T0, worker_id=args[0]):
                for c in claims:
                    taken.append(c.key)
                    recorded.append(store.complete(c.key, "applied"))
            print(json.dumps({"taken": taken, "recorded": recorded}))
        elif mode == "plan":
            _wait_for_go()
            queued: list[str] = []
            for start in range(0, 200, 20):
                queued += store.plan(
                    [action(f"{i}/warn") for i in range(start, start + 20)], now=T0
                )
            print(json.dumps(queued))
        elif mode == "complete":
            _wait_for_go()
            ended: list[str] = []
            for start in range(0, 200, 50):
                keys = [f"{i}/warn" for i in range(start, start + 50)]
                done = store.complete_many([(k, args[0], f"by {args[0]}") for k in keys])
                ended += [k for k, d in zip(keys, done, strict=True) if d]
            print(json.dumps(ended))
        elif mode == "secret":
            _wait_for_go()
            print(json.dumps(store.install_secret().hex()))
        else:
            raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])

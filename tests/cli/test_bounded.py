"""The CLI fails within a bounded time when the database dies, and stops its helper processes on
SIGINT/SIGTERM (issue: `verify import` never exits when PostgreSQL dies mid-import). The same
drills `make drills` runs (loadtests/drills.py), on smaller batches."""

from __future__ import annotations

import pytest

from loadtests import drills

pytestmark = pytest.mark.slow

# Above the registry's parallel threshold (20,000 rows), so the row checkers run in helper processes.
ROWS = 40_000


def test_import_exits_6_promptly_when_postgresql_is_killed_and_writes_nothing() -> None:
    results = drills.import_with_database_killed(ROWS)
    assert all(r.passed for r in results), drills.markdown(results)


def test_sigterm_and_sigint_stop_the_import_and_its_helpers() -> None:
    results = drills.import_interrupted(ROWS)
    assert all(r.passed for r in results), drills.markdown(results)


def test_a_command_waiting_on_a_dead_database_is_stopped_by_the_watchdog() -> None:
    # Whatever a command awaits (asyncpg can wait for a pool connection that never comes), the
    # watchdog's fresh connections notice the database is gone and stop it as unavailable.
    import asyncio
    import threading
    import time

    from verify.cli.common import WATCH_FAILURES, WATCH_SECONDS, with_registry
    from verify.config import Settings
    from verify.domain import errors
    from verify.services.registry import Registry

    with drills.site() as s:
        settings = Settings.from_env(s.env)
        started = threading.Event()

        async def stuck(reg: Registry) -> None:
            started.set()
            await asyncio.Event().wait()  # never set: only the watchdog ends this

        outcome: list[BaseException] = []

        def run() -> None:
            try:
                with_registry(settings, stuck)
            except BaseException as exc:  # the test inspects whatever ended it
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        assert started.wait(30)
        s.cluster.stop("immediate")
        stopped = time.monotonic()
        thread.join(timeout=60)
        took = time.monotonic() - stopped
    assert not thread.is_alive()
    assert outcome and isinstance(outcome[0], errors.Unavailable), outcome
    assert outcome[0].details["cause"] == "database_lost"
    assert took < WATCH_SECONDS * (WATCH_FAILURES + 3) + 10, took

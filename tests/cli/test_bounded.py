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

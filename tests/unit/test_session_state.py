"""No pooled connection keeps session state (``verify.db.pool._keep_session``, DECISIONS D34).

The pool hands a connection back without asyncpg's reset query (one round trip fewer for every
statement), so nothing may leave state on a connection that outlives its transaction: no
session-level SET, no session advisory lock, no LISTEN outside the dedicated connection, no cursor
WITH HOLD, no temp table that outlives its transaction. Walks every string literal of the package
and every migration with ``ast``, so a new statement is judged the moment it is written.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "verify"
NOTIFY = PACKAGE / "db" / "notify.py"  # the one connection of its own that LISTENs

FORBIDDEN = {
    "session SET": re.compile(r"(?:^|;)\s*SET\s+(?!LOCAL\b)(?:SESSION\s+)?\w+(?:\s*=|\s+TO\b)", re.I | re.M),
    "session advisory lock": re.compile(r"pg_(?:try_)?advisory_lock(?:_shared)?\s*\(", re.I),
    "LISTEN": re.compile(r"(?:^|;)\s*LISTEN\s+\w", re.I | re.M),
    "cursor WITH HOLD": re.compile(r"\bWITH\s+HOLD\b", re.I),
    "temp table outliving its transaction": re.compile(
        r"CREATE\s+(?:TEMP|TEMPORARY)\s+TABLE(?![^;]*ON\s+COMMIT\s+DROP)", re.I
    ),
}


def _texts() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append((where, node.value))
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "add_listener"
                and path != NOTIFY
            ):
                out.append((where, "LISTEN add_listener"))
    for path in sorted((PACKAGE / "db" / "migrations").glob("*.sql")):
        out.append((str(path.relative_to(PACKAGE.parent)), path.read_text(encoding="utf-8")))
    return out


@pytest.mark.parametrize("kind", sorted(FORBIDDEN))
def test_no_statement_leaves_session_state_on_a_pooled_connection(kind: str) -> None:
    pattern = FORBIDDEN[kind]
    found = [(where, text[:120]) for where, text in _texts() if pattern.search(text)]
    assert not found, f"{kind}: {found}"


@pytest.mark.parametrize(
    ("kind", "sql"),
    [
        ("session SET", "SET statement_timeout = 0"),
        ("session SET", "SELECT 1; SET search_path TO x"),
        ("session advisory lock", "SELECT pg_advisory_lock($1)"),
        ("LISTEN", "LISTEN verify_status"),
        ("cursor WITH HOLD", "DECLARE c CURSOR WITH HOLD FOR SELECT 1"),
        ("temp table outliving its transaction", "CREATE TEMP TABLE t (a int) ON COMMIT DELETE ROWS"),
    ],
)
def test_the_patterns_catch_what_they_are_for(kind: str, sql: str) -> None:
    assert FORBIDDEN[kind].search(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SET LOCAL statement_timeout = 0",
        "UPDATE t SET a = 1",
        "INSERT INTO t VALUES (1) ON CONFLICT (k) DO UPDATE SET hits = t.hits + 1",
        "SELECT pg_advisory_xact_lock($1)",
        "CREATE TEMP TABLE IF NOT EXISTS r (a int) ON COMMIT DROP",
    ],
)
def test_transaction_scoped_state_is_allowed(sql: str) -> None:
    assert not any(p.search(sql) for p in FORBIDDEN.values())

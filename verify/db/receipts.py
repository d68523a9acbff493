"""Receipt keys and the daily allowance of batch verification (migration 010)."""

from __future__ import annotations

from datetime import date
from typing import Any

from verify.db.pool import Executor


async def register_key(conn: Executor, kid: str, public_key: bytes) -> None:
    """Record a receipt key the first time a process signs with it; nothing when it is recorded."""
    await conn.execute(
        "INSERT INTO receipt_keys (kid, public_key) VALUES ($1, $2) ON CONFLICT (kid) DO NOTHING",
        kid,
        public_key,
    )


async def keys(conn: Executor) -> list[tuple[str, bytes]]:
    """Every receipt key, oldest first: (kid, public key)."""
    rows = await conn.fetch("SELECT kid, public_key FROM receipt_keys ORDER BY first_used, kid")
    return [(r["kid"], bytes(r["public_key"])) for r in rows]


async def charge(conn: Executor, account_id: int, day: date, rows: int, per_day: int) -> bool:
    """Add ``rows`` to the account's count for ``day`` unless that would pass ``per_day``; whether
    it was added. One statement, so concurrent requests of one account cannot both slip under."""
    if rows > per_day:
        return False
    added = await conn.fetchval(
        "INSERT INTO verification_usage AS u (account_id, day, rows) VALUES ($1, $2, $3)"
        " ON CONFLICT (account_id, day) DO UPDATE SET rows = u.rows + EXCLUDED.rows"
        " WHERE u.rows + EXCLUDED.rows <= $4 RETURNING rows",
        account_id,
        day,
        rows,
        per_day,
    )
    return added is not None


async def store(conn: Executor, account_id: int, receipt: dict[str, Any]) -> None:
    """Keep a receipt given to ``account_id`` (never changed afterwards)."""
    await conn.execute(
        "INSERT INTO verification_receipts (receipt_id, account_id, issued_at, receipt)"
        " VALUES ($1, $2, $3::text::timestamptz, $4)",
        receipt["receipt_id"],
        account_id,
        receipt["issued_at"],
        receipt,
    )


async def find(conn: Executor, receipt_id: str) -> dict[str, Any] | None:
    """The receipt with this id, as it was signed; None when there is none."""
    found: dict[str, Any] | None = await conn.fetchval(
        "SELECT receipt FROM verification_receipts WHERE receipt_id = $1", receipt_id
    )
    return found

"""SQL for signing keys: the public halves and their states (private keys never reach the database)."""

from __future__ import annotations

from datetime import datetime

from verify.db.pool import Executor
from verify.domain.snapshot import KeyRecord

_KEY_COLUMNS = "public_key, kid, not_before, not_after, status, status_since, note"


async def insert_signing_key(
    conn: Executor,
    public_key: bytes,
    kid: str,
    not_before: datetime,
    not_after: datetime | None,
    note: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO signing_keys (public_key, kid, not_before, not_after, note) VALUES ($1, $2, $3, $4, $5)",
        public_key,
        kid,
        not_before,
        not_after,
        note,
    )


async def signing_keys(conn: Executor) -> list[KeyRecord]:
    rows = await conn.fetch(f"SELECT {_KEY_COLUMNS} FROM signing_keys ORDER BY not_before, created_at")
    return [KeyRecord(**{**dict(r), "public_key": bytes(r["public_key"])}) for r in rows]


async def set_key_status(
    conn: Executor, public_key: bytes, status: str, *, not_after: datetime | None = None
) -> None:
    await conn.execute(
        "UPDATE signing_keys SET status = $2, status_since = now(), not_after = COALESCE($3, not_after)"
        " WHERE public_key = $1",
        public_key,
        status,
        not_after,
    )

"""SQL for candidate bans (rule 46): the kept decision records and the one check a batch makes.

A person is named only by the blind index of their ID (``IdProtector.blind_index``); the table is
append-only (migration 009 refuses UPDATE and DELETE), so a 复核 that lifts a ban is a reversal
record pointing at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from verify.db.pool import Conn, Executor

BAN = "ban"
REVERSAL = "reversal"

_COLUMNS = (
    "b.id, b.action, b.term, b.starts_on, b.ends_on, b.article, b.reason, b.document_ref, b.decided_by,"
    " b.decided_on, b.reverses, b.recorded_by, b.recorded_at,"
    " (SELECT r.id FROM candidate_bans r WHERE r.reverses = b.id) AS reversed_by"
)


@dataclass(frozen=True, slots=True)
class BanRecord:
    """One kept record: a ban, or the reversal (``reverses``) of one after 复核."""

    id: int
    action: str
    term: str | None
    starts_on: date | None
    ends_on: date | None
    article: str
    reason: str | None
    document_ref: str | None
    decided_by: str
    decided_on: date
    reverses: int | None
    recorded_by: str
    recorded_at: datetime
    reversed_by: int | None  # the reversal that lifted this ban, if any


@dataclass(frozen=True, slots=True)
class BanMatch:
    """A certificate of a batch whose holder was barred on the date it was checked against."""

    number: str
    checked_on: date
    ban: BanRecord


def _record(row: asyncpg.Record) -> BanRecord:
    return BanRecord(**{name: row[name] for name in BanRecord.__dataclass_fields__})


async def insert_ban(
    conn: Executor,
    *,
    id_index: bytes,
    term: str,
    starts_on: date,
    ends_on: date,
    article: str,
    reason: str | None,
    document_ref: str | None,
    decided_by: str,
    decided_on: date,
    recorded_by: str,
) -> int:
    value = await conn.fetchval(
        "INSERT INTO candidate_bans (id_index, action, term, starts_on, ends_on, article, reason, document_ref,"
        " decided_by, decided_on, recorded_by) VALUES ($1, 'ban', $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        id_index, term, starts_on, ends_on, article, reason, document_ref, decided_by, decided_on, recorded_by,
    )  # fmt: skip
    return int(value)


async def insert_reversal(
    conn: Conn,
    ban_id: int,
    *,
    article: str,
    reason: str | None,
    document_ref: str | None,
    decided_by: str,
    decided_on: date,
    recorded_by: str,
) -> int | None:
    """Record the reversal of ban ``ban_id``, filed under the same person. Returns its id, or None
    when ``ban_id`` is not a ban. Raises asyncpg.UniqueViolationError when it was already reversed."""
    value = await conn.fetchval(
        "INSERT INTO candidate_bans (id_index, action, article, reason, document_ref, decided_by, decided_on,"
        " reverses, recorded_by) SELECT id_index, 'reversal', $2, $3, $4, $5, $6, id, $7 FROM candidate_bans"
        " WHERE id = $1 AND action = 'ban' RETURNING id",
        ban_id, article, reason, document_ref, decided_by, decided_on, recorded_by,
    )  # fmt: skip
    return None if value is None else int(value)


async def get_ban(conn: Executor, ban_id: int) -> BanRecord | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM candidate_bans b WHERE b.id = $1", ban_id)
    return None if row is None else _record(row)


async def records_of(conn: Executor, id_index: bytes) -> list[BanRecord]:
    """Every record kept for one person, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM candidate_bans b WHERE b.id_index = $1 ORDER BY b.id", id_index
    )
    return [_record(r) for r in rows]


async def batch_matches(conn: Executor, batch_id: int, assessed_on: date | None) -> list[BanMatch]:
    """The certificates of a batch whose holder was under a ban, not reversed, on ``assessed_on``
    (the batch's assessment date) or, without one, on the certificate's issue date: one statement
    joining the batch's blind indexes to the bans (run inside the import, before it commits)."""
    rows = await conn.fetch(
        f"SELECT c.number, COALESCE($2::date, c.issue_date) AS checked_on, {_COLUMNS}"
        " FROM candidate_bans b JOIN certificates c ON c.id_index = b.id_index AND c.batch_id = $1"
        " WHERE b.action = 'ban' AND COALESCE($2::date, c.issue_date) BETWEEN b.starts_on AND b.ends_on"
        " AND NOT EXISTS (SELECT 1 FROM candidate_bans r WHERE r.reverses = b.id)"
        " ORDER BY c.number, b.id",
        batch_id,
        assessed_on,
    )
    return [BanMatch(r["number"], r["checked_on"], _record(r)) for r in rows]

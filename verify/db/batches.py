"""SQL for result batches: the batch row of each upload and its state."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import asyncpg

from verify.db.pool import Conn, Executor
from verify.domain.accounts import Owner
from verify.domain.errors import NotFound


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    public_id: str
    institution_code: str
    state: str
    row_count: int
    filename: str
    file_sha256: str
    submitted_at: datetime
    published_at: datetime | None
    institution_name: str = ""
    submitted_by: str = ""
    submitted_account: int | None = None
    plan: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    decision: dict[str, Any] | None = None
    owner: Owner | None = None

    def summary_json(self) -> dict[str, Any]:
        """The batch as the API and the console show it."""
        return {
            "batch_id": self.public_id,
            "institution": self.institution_code,
            "institution_name": self.institution_name,
            "state": self.state,
            "rows": self.row_count,
            "filename": self.filename,
            "sha256": self.file_sha256,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at.isoformat(),
            "plan": self.plan,
            "warnings": len(self.warnings),
            "reviewed_by": self.reviewed_by,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "decision": self.decision,
            "published_at": self.published_at.isoformat() if self.published_at else None,
        }


_COLUMNS = tuple(f.name for f in fields(BatchRow) if f.name != "owner")
_BATCH_SELECT = (
    "SELECT b.id, b.public_id, i.code AS institution_code, b.state, b.row_count, b.filename, b.file_sha256,"
    " b.submitted_at, b.published_at, i.name AS institution_name, b.submitted_by, b.submitted_account, b.plan,"
    " b.warnings, b.reviewed_by, b.reviewed_at, b.decision,"
    " i.parent_code, i.province_code, i.city_code FROM batches b JOIN institutions i ON i.id = b.institution_id"
)


def _batch(row: asyncpg.Record) -> BatchRow:
    owner = Owner(row["institution_code"], row["parent_code"], row["province_code"], row["city_code"])
    return BatchRow(**{k: row[k] for k in _COLUMNS}, owner=owner)


async def find_batch_by_file(conn: Executor, institution_id: int, sha256: str) -> BatchRow | None:
    row = await conn.fetchrow(
        _BATCH_SELECT + " WHERE b.institution_id = $1 AND b.file_sha256 = $2", institution_id, sha256
    )
    return None if row is None else _batch(row)


async def get_batch(conn: Executor, public_id: str) -> BatchRow:
    """Raises NotFound."""
    row = await conn.fetchrow(_BATCH_SELECT + " WHERE b.public_id = $1", public_id)
    if row is None:
        raise NotFound(f"未找到批次 {public_id}", f"no batch {public_id}", details={"batch": public_id})
    return _batch(row)


async def lock_batch(conn: Conn, public_id: str) -> BatchRow:
    """The batch, row-locked until the transaction ends. Raises NotFound."""
    row = await conn.fetchrow(_BATCH_SELECT + " WHERE b.public_id = $1 FOR UPDATE OF b", public_id)
    if row is None:
        raise NotFound(f"未找到批次 {public_id}", f"no batch {public_id}", details={"batch": public_id})
    return _batch(row)


async def insert_batch(
    conn: Conn,
    *,
    public_id: str,
    institution_id: int,
    file_sha256: str,
    filename: str,
    file_format: str,
    row_count: int,
    submitted_by: str,
    state: str = "submitted",
    submitted_account: int | None = None,
    plan: dict[str, Any] | None = None,
) -> int:
    value = await conn.fetchval(
        "INSERT INTO batches (public_id, institution_id, file_sha256, filename, file_format, row_count,"
        " submitted_by, state, submitted_account, plan) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        public_id, institution_id, file_sha256, filename, file_format, row_count, submitted_by, state,
        submitted_account, plan,
    )  # fmt: skip
    return int(value)


async def set_warnings(conn: Conn, batch_id: int, warnings: list[dict[str, Any]]) -> None:
    await conn.execute("UPDATE batches SET warnings = $2 WHERE id = $1", batch_id, warnings)


async def add_roster(conn: Conn, batch_id: int, id_indexes: list[bytes]) -> None:
    await conn.copy_records_to_table(
        "batch_roster", records=[(batch_id, i) for i in id_indexes], columns=("batch_id", "id_index")
    )


async def record_decision(
    conn: Conn,
    batch_id: int,
    state: str,
    *,
    reviewed_by: str,
    account_id: int | None,
    decision: dict[str, Any],
) -> None:
    """The reviewer's decision (approve, reject) or the institution's withdrawal, with its reasons."""
    await conn.execute(
        "UPDATE batches SET state = $2, reviewed_by = $3, reviewed_account = $4, reviewed_at = now(),"
        " decision = $5 WHERE id = $1",
        batch_id, state, reviewed_by, account_id, decision,
    )  # fmt: skip


async def list_batches(
    conn: Executor,
    *,
    institution_code: str | None = None,
    province: str | None = None,
    city: str | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[BatchRow]:
    """Batches newest first, narrowed to an institution and its 站点, a province or a city, a state."""
    rows = await conn.fetch(
        _BATCH_SELECT + " WHERE ($1::text IS NULL OR i.code = $1 OR i.parent_code = $1)"
        " AND ($2::text IS NULL OR i.province_code = $2) AND ($3::text IS NULL OR i.city_code = $3)"
        " AND ($4::text IS NULL OR b.state = $4) ORDER BY b.submitted_at DESC, b.id DESC LIMIT $5",
        institution_code, province, city, state, limit,
    )  # fmt: skip
    return [_batch(r) for r in rows]


async def claim_approved(conn: Conn) -> BatchRow | None:
    """The oldest approved batch nobody else is publishing, locked until the transaction ends;
    concurrent signers skip each other's rows (FOR UPDATE SKIP LOCKED), so none is signed twice."""
    row = await conn.fetchrow(
        _BATCH_SELECT
        + " WHERE b.state = 'approved' ORDER BY b.reviewed_at, b.id LIMIT 1 FOR UPDATE OF b SKIP LOCKED"
    )
    return None if row is None else _batch(row)


async def mark_batch_published(conn: Conn, batch_id: int) -> None:
    """Publication itself: a certificate is public when its batch is (one row, whatever the batch size)."""
    await conn.execute("UPDATE batches SET state = 'published', published_at = now() WHERE id = $1", batch_id)


async def count_rows(conn: Conn, submitted_by: str) -> None:
    """Set row_count (and published_at of published ones) of the batches a generator filled with
    COPY (seed and demo data, tagged by ``submitted_by``)."""
    await conn.execute(
        "UPDATE batches b SET row_count = c.n, published_at = CASE WHEN b.state = 'published' THEN now() END"
        " FROM (SELECT batch_id, count(*) AS n FROM certificates"
        "       WHERE batch_id IN (SELECT id FROM batches WHERE submitted_by = $1) GROUP BY batch_id) c"
        " WHERE c.batch_id = b.id AND b.submitted_by = $1",
        submitted_by,
    )


async def any_submitted_by(conn: Executor, submitted_by: str) -> bool:
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM batches WHERE submitted_by = $1)", submitted_by)
    )

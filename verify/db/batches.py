"""SQL for result batches: the batch row of each upload and its state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from verify.db.pool import Conn, Executor
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


_BATCH_SELECT = (
    "SELECT b.id, b.public_id, i.code AS institution_code, b.state, b.row_count, b.filename, b.file_sha256,"
    " b.submitted_at, b.published_at FROM batches b JOIN institutions i ON i.id = b.institution_id"
)


async def find_batch_by_file(conn: Executor, institution_id: int, sha256: str) -> BatchRow | None:
    row = await conn.fetchrow(
        _BATCH_SELECT + " WHERE b.institution_id = $1 AND b.file_sha256 = $2", institution_id, sha256
    )
    return None if row is None else BatchRow(**dict(row))


async def get_batch(conn: Executor, public_id: str) -> BatchRow:
    """Raises NotFound."""
    row = await conn.fetchrow(_BATCH_SELECT + " WHERE b.public_id = $1", public_id)
    if row is None:
        raise NotFound(f"未找到批次 {public_id}", f"no batch {public_id}", details={"batch": public_id})
    return BatchRow(**dict(row))


async def lock_batch(conn: Conn, public_id: str) -> BatchRow:
    """The batch, row-locked until the transaction ends. Raises NotFound."""
    row = await conn.fetchrow(_BATCH_SELECT + " WHERE b.public_id = $1 FOR UPDATE OF b", public_id)
    if row is None:
        raise NotFound(f"未找到批次 {public_id}", f"no batch {public_id}", details={"batch": public_id})
    return BatchRow(**dict(row))


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
) -> int:
    value = await conn.fetchval(
        "INSERT INTO batches (public_id, institution_id, file_sha256, filename, file_format, row_count,"
        " submitted_by, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        public_id,
        institution_id,
        file_sha256,
        filename,
        file_format,
        row_count,
        submitted_by,
        state,
    )
    return int(value)


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

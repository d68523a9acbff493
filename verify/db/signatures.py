"""SQL for signed QR payloads: what publication writes and what QR images and bulk printing read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from verify.db.pool import Conn, Executor
from verify.domain.certificate import RECORD_FIELDS
from verify.domain.codes import CodeKind

# The columns a signed record is built from (``verify.domain.certificate.record_of``).
_RECORD_COLUMNS = ", ".join(f"c.{name}" for name in RECORD_FIELDS)


async def batch_records_to_sign(conn: Executor, batch_id: int) -> list[dict[str, Any]]:
    """The signed-record fields of every certificate of a batch that gets a QR: not a legacy
    职业资格证书, whose paper carries none of ours and whose number the QR format has no form for
    (rule 44, docs/DECISIONS.md D50)."""
    rows = await conn.fetch(
        f"SELECT {_RECORD_COLUMNS} FROM certificates c WHERE c.batch_id = $1 AND c.kind <> $2 ORDER BY c.number",
        batch_id,
        CodeKind.QUALIFICATION.value,
    )
    return [dict(r) for r in rows]


async def records_signed_by(conn: Executor, kid: str) -> list[dict[str, Any]]:
    """The signed-record fields of every certificate signed with ``kid`` (to re-sign them)."""
    rows = await conn.fetch(
        f"SELECT {_RECORD_COLUMNS} FROM certificate_signatures s JOIN certificates c ON c.number = s.number"
        " WHERE s.kid = $1 ORDER BY c.number",
        kid,
    )
    return [dict(r) for r in rows]


async def copy_signatures(conn: Conn, rows: Sequence[tuple[str, str, bytes]]) -> None:
    """COPY (number, kid, payload) of newly signed certificates (publication). Caller owns the transaction."""
    await conn.copy_records_to_table(
        "certificate_signatures", records=rows, columns=["number", "kid", "payload"]
    )


async def replace_signatures(conn: Conn, rows: Sequence[tuple[str, str, bytes]]) -> int:
    """Re-signed payloads replace the old ones (after a key compromise): temp table + one UPDATE.
    The caller's transaction owns the temp table: it is dropped at commit, so the pooled connection
    is handed back without it."""
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS resigned (number text, kid text, payload bytea) ON COMMIT DROP"
    )
    await conn.copy_records_to_table("resigned", records=rows, columns=["number", "kid", "payload"])
    status = await conn.execute(
        "UPDATE certificate_signatures s SET kid = r.kid, payload = r.payload, signed_at = now()"
        " FROM resigned r WHERE s.number = r.number"
    )
    await conn.execute("TRUNCATE resigned")
    return int(status.split()[-1])


async def qr_payload(conn: Executor, number: str) -> bytes | None:
    value = await conn.fetchval(
        "SELECT s.payload FROM certificate_signatures s JOIN certificates c ON c.number = s.number"
        " JOIN batches b ON b.id = c.batch_id WHERE s.number = $1 AND b.state = 'published'",
        number,
    )
    return None if value is None else bytes(value)


async def published_payloads(conn: Conn) -> AsyncIterator[tuple[str, bytes]]:
    """Every published, signed certificate's (number, payload), streamed (for bulk printing)."""
    async with conn.transaction():
        async for r in conn.cursor(
            "SELECT s.number, s.payload FROM certificate_signatures s JOIN certificates c ON c.number = s.number"
            " JOIN batches b ON b.id = c.batch_id WHERE b.state = 'published' ORDER BY s.number"
        ):
            yield r["number"], bytes(r["payload"])

"""The reads behind printed and electronic certificates: one certificate with everything its page
shows, and the certificates of a published batch."""

from __future__ import annotations

from dataclasses import dataclass

from verify.db.certificates import BY_NUMBERS, published_certificates
from verify.db.pool import Executor
from verify.domain.certificate import Published


@dataclass(frozen=True, slots=True)
class PrintRow:
    """A published certificate with what its page needs beyond the public answer."""

    published: Published
    payload: bytes  # the signed QR payload
    parent_name: str | None  # the institution a 站点 issuer belongs to (its seal goes on the left)


_EXTRA = (
    "SELECT s.number, s.payload, p.name AS parent_name FROM certificate_signatures s"
    " JOIN certificates c ON c.number = s.number JOIN institutions i ON i.id = c.institution_id"
    " LEFT JOIN institutions p ON p.code = i.parent_code WHERE s.number = ANY($1::text[])"
)


async def print_rows(conn: Executor, numbers: list[str]) -> list[PrintRow]:
    """The published, signed certificates among ``numbers``, in the order given (two statements
    for any number of certificates)."""
    found = await published_certificates(conn, BY_NUMBERS, numbers)
    extra = {r["number"]: r for r in await conn.fetch(_EXTRA, numbers)}
    by_number = {p.certificate.number: p for p in found}
    return [
        PrintRow(by_number[n], bytes(extra[n]["payload"]), extra[n]["parent_name"])
        for n in numbers
        if n in by_number and n in extra
    ]


async def batch_numbers(conn: Executor, public_id: str) -> list[str] | None:
    """The certificate numbers of the published batch ``public_id`` in number order; None when no
    published batch has that id."""
    state = await conn.fetchval("SELECT state FROM batches WHERE public_id = $1", public_id)
    if state != "published":
        return None
    rows = await conn.fetch(
        "SELECT c.number FROM certificates c JOIN batches b ON b.id = c.batch_id"
        " WHERE b.public_id = $1 ORDER BY c.number",
        public_id,
    )
    return [r["number"] for r in rows]


async def put_photos(conn: Executor, photos: list[tuple[str, bytes, str, int, int]], added_by: str) -> None:
    """Store (number, jpeg, sha256, width, height) photos, replacing a certificate's earlier one."""
    await conn.executemany(
        "INSERT INTO certificate_photos (number, jpeg, sha256, width, height, added_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (number) DO UPDATE SET jpeg = EXCLUDED.jpeg,"
        " sha256 = EXCLUDED.sha256, width = EXCLUDED.width, height = EXCLUDED.height,"
        " added_by = EXCLUDED.added_by, added_at = now()",
        [(*p, added_by) for p in photos],
    )


async def photos_of(conn: Executor, numbers: list[str]) -> dict[str, bytes]:
    rows = await conn.fetch(
        "SELECT number, jpeg FROM certificate_photos WHERE number = ANY($1::text[])", numbers
    )
    return {r["number"]: bytes(r["jpeg"]) for r in rows}


async def put_electronic(
    conn: Executor, number: str, pdf: bytes, photo_sha256: str | None, payload_sha256: str
) -> None:
    """Keep the signed PDF of ``number``, made for the QR payload whose SHA-256 is ``payload_sha256``."""
    await conn.execute(
        "INSERT INTO electronic_certificates (number, pdf, sha256, photo_sha256, payload_sha256)"
        " VALUES ($1, $2, encode(sha256($2), 'hex'), $3, $4) ON CONFLICT (number) DO UPDATE SET"
        " pdf = EXCLUDED.pdf, sha256 = EXCLUDED.sha256, photo_sha256 = EXCLUDED.photo_sha256,"
        " payload_sha256 = EXCLUDED.payload_sha256, signed_at = now()",
        number, pdf, photo_sha256, payload_sha256,
    )  # fmt: skip


async def electronic(conn: Executor, number: str, payload_sha256: str) -> bytes | None:
    """The signed PDF of ``number`` if it was made for that payload (an older version's is not)."""
    value = await conn.fetchval(
        "SELECT pdf FROM electronic_certificates WHERE number = $1 AND payload_sha256 = $2",
        number, payload_sha256,
    )  # fmt: skip
    return None if value is None else bytes(value)


_REQUEUE = " ON CONFLICT (number) DO UPDATE SET queued_at = now(), taken_at = NULL"


async def queue_electronic(conn: Executor, numbers: list[str]) -> None:
    await conn.execute("INSERT INTO electronic_queue (number) SELECT unnest($1::text[])" + _REQUEUE, numbers)


async def queue_electronic_batch(conn: Executor, batch_public_id: str) -> int:
    """Queue every certificate of the batch; returns how many were queued."""
    status = await conn.execute(
        "INSERT INTO electronic_queue (number) SELECT c.number FROM certificates c"
        " JOIN batches b ON b.id = c.batch_id WHERE b.public_id = $1" + _REQUEUE,
        batch_public_id,
    )
    return int(status.rsplit(" ", 1)[-1])


async def take_electronic(conn: Executor, limit: int) -> list[str]:
    """Up to ``limit`` waiting numbers, oldest first, marked taken and locked until the caller's
    transaction ends (another signer skips them; a rollback leaves them waiting); ``conn`` must be
    in a transaction."""
    rows = await conn.fetch(
        "UPDATE electronic_queue SET taken_at = now() WHERE number IN (SELECT number FROM electronic_queue"
        " WHERE taken_at IS NULL ORDER BY queued_at, number LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING number",
        limit,
    )
    return sorted(r["number"] for r in rows)


async def id_index_numbers(conn: Executor, batch_public_id: str) -> dict[bytes, str]:
    """The batch's certificates by the blind index of their holder's ID (photos named by ID)."""
    rows = await conn.fetch(
        "SELECT c.id_index, c.number FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE b.public_id = $1",
        batch_public_id,
    )
    return {bytes(r["id_index"]): r["number"] for r in rows}

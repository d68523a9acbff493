"""The reads behind printed and electronic certificates: one certificate with everything its page
shows, and the certificates of a published batch."""

from __future__ import annotations

from dataclasses import dataclass

from verify.db.certificates import BY_NUMBER, BY_NUMBERS, published_certificates
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
    read = BY_NUMBER if len(numbers) == 1 else BY_NUMBERS
    found = await published_certificates(conn, read, numbers[0] if len(numbers) == 1 else numbers)
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

"""SQL for certificates: bulk writes by COPY, public reads, and certificate events.

The COPY column list is derived from the certificate model (``verify.domain.certificate.FIELDS``),
so a field added to the model is a column written here without another list to edit; a test
checks the list against the table itself.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import asyncpg

from verify.db.copy_format import COPY_COLUMNS
from verify.db.pool import Conn, Executor
from verify.domain.batch.checked import Repeat
from verify.domain.certificate import FIELDS, Certificate, Published, values_of
from verify.domain.codes import CodeKind
from verify.domain.events import ACTIVE, CertificateEvent, Holding
from verify.domain.history import PastEvent
from verify.domain.holder_ids import IdType
from verify.domain.institution import IssuerState
from verify.domain.standing import CertificateState

# A certificate placed in the registry: (certificate, institution id, batch id).
Placed = tuple[Certificate, int, int]


def certificate_of(row: Mapping[str, Any] | asyncpg.Record) -> Certificate:
    """The model from a row holding every column of ``FIELDS``."""
    values = {name: row[name] for name in FIELDS}
    values["kind"] = CodeKind(values["kind"])
    values["id_type"] = IdType(values["id_type"])
    return Certificate(**values)


async def copy_certificates(conn: Conn, placed: Iterable[Placed]) -> None:
    """COPY certificates with their parents. Caller owns the transaction."""
    await conn.copy_records_to_table(
        "certificates",
        records=[(*values_of(c), inst, bid) for c, inst, bid in placed],
        columns=list(COPY_COLUMNS),
    )


async def copy_certificates_text(conn: Conn, data: bytes) -> None:
    """COPY certificates from ``copy_format.copy_text`` output. Caller owns the transaction."""
    await conn.copy_to_table(
        "certificates", source=io.BytesIO(data), columns=list(COPY_COLUMNS), format="text"
    )


async def existing_numbers(conn: Executor, numbers: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT number FROM certificates WHERE number = ANY($1::text[])", list(numbers))
    return {r["number"] for r in rows}


async def repeats(conn: Executor, batch_id: int) -> list[Repeat]:
    """The rule 48 pairs of a batch (its rows already written in the open transaction ``conn``):
    same blind index, same occupation (the code; a 专项 project by its name) and level, against the
    batch itself and every published valid certificate, in one statement on the id_index index."""
    rows = await conn.fetch(
        "SELECT c.number, o.number AS other, o.batch_id = c.batch_id AS same_batch,"
        " o.institution_id = c.institution_id AS same_institution"
        " FROM certificates c JOIN certificates o ON o.id_index = c.id_index AND o.number <> c.number"
        "  AND o.level IS NOT DISTINCT FROM c.level AND o.occupation_code = c.occupation_code"
        "  AND (c.occupation_code <> '' OR o.occupation_name = c.occupation_name) AND o.kind <> 'qualification'"
        " JOIN batches b ON b.id = o.batch_id"
        " WHERE c.batch_id = $1 AND (o.batch_id = $1 OR (o.status = 'active' AND b.state = 'published'))"
        " ORDER BY c.number, o.number",
        batch_id,
    )
    return [Repeat(r["number"], r["other"], r["same_batch"], r["same_institution"]) for r in rows]


# The latest decision is read only for a certificate that is not active (the rare case), and the
# absorbing institution's name only for a merged issuer: a valid certificate's lookup costs no more.
_PUBLISHED = (
    "SELECT " + ", ".join(f"c.{name}" for name in FIELDS) + ", c.status,"
    " i.code AS issuer_code, i.name AS issuer_name, i.status AS issuer_status, i.status_since AS issuer_since,"
    " i.merged_into AS issuer_merged_into, m.name AS issuer_merged_into_name,"
    " e.effective AS event_effective, e.reason_category AS event_category, e.superseded_by AS event_superseded_by"
    " FROM certificates c JOIN institutions i ON i.id = c.institution_id JOIN batches b ON b.id = c.batch_id"
    " LEFT JOIN institutions m ON i.merged_into IS NOT NULL AND m.code = i.merged_into"
    " LEFT JOIN LATERAL (SELECT effective, reason_category, superseded_by FROM certificate_events"
    "   WHERE c.status <> 'active' AND number = c.number ORDER BY id DESC LIMIT 1) e ON true"
)


def _published(row: Mapping[str, Any] | asyncpg.Record) -> Published:
    issuer = IssuerState(
        row["issuer_code"], row["issuer_name"], row["issuer_status"], row["issuer_since"],
        row["issuer_merged_into"], row["issuer_merged_into_name"],
    )  # fmt: skip
    status = row["status"]
    state = None
    if status != ACTIVE:
        state = CertificateState(
            status, row["event_effective"], row["event_category"], row["event_superseded_by"]
        )
    return Published(certificate_of(row), status, issuer, state)


@dataclass(frozen=True, slots=True)
class PublishedRead:
    """A public read of published certificates by one value (a number, an ID's blind index).

    Its SQL takes the value as parameter ``$n``: ``$1`` when run alone, a later one when the lookup
    throttle runs it inside its admission statement (``verify.db.throttle.admit_and_read``), so a
    throttled lookup costs one round trip, not two."""

    where: str  # the condition on ``c``, with ``{p}`` for the parameter number
    tail: str = ""  # ORDER BY / LIMIT inside the read
    outer_order: str = ""  # the same order over the read's columns as ``r``, when it is wrapped

    def sql(self, p: int = 1) -> str:
        return f"{_PUBLISHED} WHERE {self.where.format(p=p)} AND b.state = 'published'{self.tail}"


BY_NUMBER = PublishedRead("c.number = ${p}")
BY_ID_INDEX = PublishedRead(
    "c.id_index = ${p}",
    " ORDER BY c.issue_date DESC, c.number LIMIT 200",
    " ORDER BY r.issue_date DESC, r.number",
)
# Batch verification reads a chunk of rows in one round trip (``verify.services.batch_verification``).
BY_NUMBERS = PublishedRead("c.number = ANY(${p}::text[])")
BY_ID_INDEXES = PublishedRead("c.id_index = ANY(${p}::bytea[])", " ORDER BY c.issue_date DESC, c.number")


async def events_of(conn: Executor, numbers: Sequence[str]) -> dict[str, list[PastEvent]]:
    """Every recorded event of these certificates, oldest first, in one statement: what a
    certificate's status was at any moment follows from them (``verify.domain.history``)."""
    rows = await conn.fetch(
        "SELECT number, event, effective, reason_category, superseded_by, recorded_at FROM certificate_events"
        " WHERE number = ANY($1::text[]) ORDER BY number, id",
        list(numbers),
    )
    out: dict[str, list[PastEvent]] = {}
    for r in rows:
        out.setdefault(r["number"], []).append(PastEvent(**dict(r)))
    return out


def published_of(rows: Iterable[asyncpg.Record]) -> list[Published]:
    """The certificates of a ``PublishedRead``'s rows (rows of a wrapped read that found nothing
    carry NULL certificate columns and are skipped)."""
    return [_published(r) for r in rows if r["number"] is not None]


async def published_certificates(conn: Executor, read: PublishedRead, value: object) -> list[Published]:
    """The published certificates ``read`` finds for ``value``."""
    return published_of(await conn.fetch(read.sql(), value))


async def published_certificate(conn: Executor, number: str) -> Published | None:
    """The certificate with this number if its batch is published."""
    found = await published_certificates(conn, BY_NUMBER, number)
    return found[0] if found else None


_EVENT_FIELDS = tuple(f.name for f in fields(CertificateEvent))


async def record_certificate_event(conn: Conn, event: CertificateEvent, *, recorded_by: str) -> None:
    """Append the event and set the certificate's current status (rule 36: history kept)."""
    values = [getattr(event, name) for name in _EVENT_FIELDS]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 2))
    await conn.execute(
        f"INSERT INTO certificate_events ({', '.join(_EVENT_FIELDS)}, recorded_by) VALUES ({placeholders})",
        *values,
        recorded_by,
    )
    await conn.execute("UPDATE certificates SET status = $2 WHERE number = $1", event.number, event.status)


async def certificate_history(conn: Executor, number: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT event, effective, reason_category, decided_by, document_ref, superseded_by, recorded_at"
        " FROM certificate_events WHERE number = $1 ORDER BY id",
        number,
    )
    return [dict(r) for r in rows]


async def certificate_status_row(conn: Executor, number: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT c.number, c.status, i.code AS institution_code FROM certificates c"
        " JOIN institutions i ON i.id = c.institution_id WHERE c.number = $1",
        number,
    )
    return None if row is None else dict(row)


async def holding(conn: Executor, number: str) -> Holding | None:
    """Whose the certificate is and who issued it (the supersession rule, rule 43)."""
    row = await conn.fetchrow(
        "SELECT c.number, c.status, c.id_index, i.code, i.parent_code, i.merged_into FROM certificates c"
        " JOIN institutions i ON i.id = c.institution_id WHERE c.number = $1",
        number,
    )
    if row is None:
        return None
    return Holding(
        row["number"], row["status"], row["id_index"], row["code"], row["parent_code"], row["merged_into"]
    )


async def certificates_submitted_by(conn: Executor, submitted_by: str) -> list[dict[str, Any]]:
    """Every certificate of the batches a generator tagged ``submitted_by`` (the demo listing), with
    its status and issuer, ordered by institution and number."""
    rows = await conn.fetch(
        "SELECT c.number, c.holder_name, c.id_cipher, c.kind, c.status, i.code AS issuer_code,"
        " i.name AS issuer_name FROM certificates c"
        " JOIN batches b ON b.id = c.batch_id JOIN institutions i ON i.id = c.institution_id"
        " WHERE b.submitted_by = $1 ORDER BY i.id, c.number",
        submitted_by,
    )
    return [dict(r) for r in rows]

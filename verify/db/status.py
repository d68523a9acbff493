"""SQL for the status view: what every web worker keeps in memory (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from verify.db.keys import signing_keys
from verify.db.pool import Conn, Executor
from verify.domain.institution import IssuerState
from verify.domain.snapshot import CertificateState, KeyRecord

# Rows per fetch of the non-active certificates. Each fetch is a round trip during which the event
# loop serves requests, and decoding one chunk holds it a few milliseconds; one fetch of 100,000
# rows (1% of 10 million revoked) held each worker's loop ~0.6 s (docs/BENCHMARKS.md, scale).
CHUNK = 5_000

_NON_ACTIVE = (
    "SELECT c.number, c.status, e.effective, e.reason_category, e.superseded_by"
    " FROM certificates c LEFT JOIN LATERAL (SELECT effective, reason_category, superseded_by"
    "   FROM certificate_events WHERE number = c.number ORDER BY id DESC LIMIT 1) e ON true"
    " WHERE c.status <> 'active'"
)


async def status_snapshot_rows(
    conn: Conn, *, chunk: int = CHUNK
) -> tuple[int, dict[str, CertificateState], list[IssuerState], list[KeyRecord]]:
    """The certificate event count, the non-active certificates with their latest event, every
    institution's name and state, and every signing key, all read in one read-only repeatable-read
    transaction (so the count and the rows describe the same moment) on ``conn``, which must not be
    in a transaction. The certificates come through a cursor ``chunk`` rows at a time, so a large
    view never holds the caller's event loop for long. Raises what the driver raises
    (``DATABASE_ERRORS``)."""
    certificates: dict[str, CertificateState] = {}
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        events = await certificate_events_count(conn)
        cursor = await conn.cursor(_NON_ACTIVE)
        while rows := await cursor.fetch(chunk):
            for r in rows:
                certificates[r["number"]] = CertificateState(
                    r["status"], r["effective"], r["reason_category"], r["superseded_by"]
                )
        institutions, keys = await issuer_and_key_rows(conn)
    return events, certificates, institutions, keys


async def issuer_and_key_rows(conn: Executor) -> tuple[list[IssuerState], list[KeyRecord]]:
    """Every institution's name and state and every signing key (a few hundred rows)."""
    institutions = await conn.fetch("SELECT code, name, status, status_since FROM institutions")
    return (
        [IssuerState(r["code"], r["name"], r["status"], r["status_since"]) for r in institutions],
        await signing_keys(conn),
    )


async def certificate_events_count(conn: Executor) -> int:
    """How many certificate events exist. A certificate's status changes only together with a new
    event (``certificates.record_certificate_event``) and events are never deleted, so the count
    grows with every committed change, whatever order concurrent transactions commit in (a
    ``max(id)`` would miss a lower id committed late)."""
    count: int = await conn.fetchval("SELECT count(*) FROM certificate_events")
    return count

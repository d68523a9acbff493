"""SQL for the status view: what every web worker keeps in memory (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from verify.db import requests
from verify.db.keys import signing_keys
from verify.db.pool import Conn, Executor
from verify.domain import payload
from verify.domain.clock import CST
from verify.domain.corrections import CurrentVersion
from verify.domain.institution import IssuerState
from verify.domain.snapshot import KeyRecord
from verify.domain.standing import CertificateState

# Rows per fetch of the non-active certificates. Each fetch is a round trip during which the event
# loop serves requests, and decoding one chunk holds it a few milliseconds; one fetch of 100,000
# rows (1% of 10 million revoked) held each worker's loop ~0.6 s (docs/BENCHMARKS.md, scale).
CHUNK = 5_000

# The certificates that are not active, then the latest event of each chunk of them. Two plain
# reads rather than one LATERAL join: asyncpg keeps a statement's plan for minutes, and a plan made
# while certificate_events was nearly empty scanned the whole table once per certificate, so the
# first reload after a 20,000-certificate decision took 28 s instead of 0.1 s (docs/BENCHMARKS.md,
# "Revocation at scale"). Each read here is linear whatever its plan.
_NON_ACTIVE = "SELECT number, status FROM certificates WHERE status <> 'active'"
_LATEST_EVENTS = (
    "SELECT DISTINCT ON (number) number, effective, reason_category, superseded_by FROM certificate_events"
    " WHERE number = ANY($1::text[]) ORDER BY number, id DESC"
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
            status = {r["number"]: r["status"] for r in rows}
            for e in await conn.fetch(_LATEST_EVENTS, list(status)):
                number = e["number"]
                certificates[number] = CertificateState(
                    status.pop(number), e["effective"], e["reason_category"], e["superseded_by"]
                )
            for number, left in status.items():  # no event on record (data from before events existed)
                certificates[number] = CertificateState(left, None, None, None)
        institutions, keys = await issuer_and_key_rows(conn)
    return events, certificates, institutions, keys


async def issuer_and_key_rows(conn: Executor) -> tuple[list[IssuerState], list[KeyRecord]]:
    """Every institution's name and state and every signing key (a few hundred rows)."""
    institutions = await conn.fetch(
        "SELECT i.code, i.name, i.status, i.status_since, i.merged_into, m.name AS merged_into_name"
        " FROM institutions i LEFT JOIN institutions m ON m.code = i.merged_into"
    )
    return (
        [
            IssuerState(
                r["code"], r["name"], r["status"], r["status_since"], r["merged_into"], r["merged_into_name"]
            )
            for r in institutions
        ],
        await signing_keys(conn),
    )


async def certificate_events_count(conn: Executor) -> int:
    """How many certificate events and replaced versions exist. A certificate's status changes only
    together with a new event (``certificates.record_certificate_event``, ``decisions``) and its
    printed fields only together with a kept version (``requests.apply_correction``); neither is
    ever deleted, so the count grows with every committed change, whatever order concurrent
    transactions commit in (a ``max(id)`` would miss a lower id committed late)."""
    count: int = await conn.fetchval(
        "SELECT (SELECT count(*) FROM certificate_events) + (SELECT count(*) FROM certificate_versions)"
    )
    return count


async def current_versions(conn: Executor) -> dict[str, CurrentVersion]:
    """Every corrected certificate's current version, keyed by number (rule 43)."""
    return {
        r["number"]: CurrentVersion(
            (r["holder_name"], r["occupation_name"], r["job"]),
            "/c/" + payload.to_text(r["payload"]),
            r["since"].astimezone(CST).date().isoformat() if r["since"] else "",
        )
        for r in await requests.current_versions(conn)
    }

"""SQL for the status view: what every web worker keeps in memory (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from verify.db.keys import signing_keys
from verify.db.pool import Executor
from verify.domain.institution import IssuerState
from verify.domain.snapshot import CertificateState, KeyRecord


async def status_snapshot_rows(
    conn: Executor,
) -> tuple[dict[str, CertificateState], list[IssuerState], list[KeyRecord]]:
    """Non-active certificates with their latest event, every institution's name and state, and
    every signing key. The view holds only the exceptions, but at 1% of 10 million certificates
    that is 100,000 rows: the periodic refresh reads ``certificate_events_count`` first and
    reloads the certificates only when it changed (``verify.services.status_view``)."""
    certificates = await conn.fetch(
        "SELECT c.number, c.status, e.effective, e.reason_category, e.superseded_by"
        " FROM certificates c LEFT JOIN LATERAL (SELECT effective, reason_category, superseded_by"
        "   FROM certificate_events WHERE number = c.number ORDER BY id DESC LIMIT 1) e ON true"
        " WHERE c.status <> 'active'"
    )
    institutions, keys = await issuer_and_key_rows(conn)
    return (
        {
            r["number"]: CertificateState(
                r["status"], r["effective"], r["reason_category"], r["superseded_by"]
            )
            for r in certificates
        },
        institutions,
        keys,
    )


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

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
    every signing key. Small: revocations are rare, and the view holds only the exceptions."""
    certificates = await conn.fetch(
        "SELECT c.number, c.status, e.effective, e.reason_category, e.superseded_by"
        " FROM certificates c LEFT JOIN LATERAL (SELECT effective, reason_category, superseded_by"
        "   FROM certificate_events WHERE number = c.number ORDER BY id DESC LIMIT 1) e ON true"
        " WHERE c.status <> 'active'"
    )
    institutions = await conn.fetch("SELECT code, name, status, status_since FROM institutions")
    return (
        {
            r["number"]: CertificateState(
                r["status"], r["effective"], r["reason_category"], r["superseded_by"]
            )
            for r in certificates
        },
        [IssuerState(r["code"], r["name"], r["status"], r["status_since"]) for r in institutions],
        await signing_keys(conn),
    )

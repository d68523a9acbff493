"""SQL of correction and re-issue requests (rule 43) and of the versions a correction replaces."""

from __future__ import annotations

from typing import Any

from verify.db.pool import Conn, Executor
from verify.domain.certificate import RECORD_FIELDS
from verify.domain.corrections import stored_columns

_REQUEST = (
    "SELECT r.id, r.public_id, r.kind, r.number, r.changes, r.previous, r.reason, r.state, r.requested_by,"
    " r.requested_account, r.requested_at, r.reviewed_by, r.decided_at, r.decision_note, r.applied_at"
    " FROM certificate_requests r"
)
_PUBLIC = ("public_id", "kind", "number", "changes", "previous", "reason", "state", "requested_by",
           "requested_at", "reviewed_by", "decided_at", "decision_note", "applied_at")  # fmt: skip


def request_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (row[k].isoformat() if hasattr(row[k], "isoformat") else row[k]) for k in _PUBLIC}


async def add_request(
    conn: Executor, public_id: str, kind: str, number: str, changes: dict[str, str], reason: str,
    *, requested_by: str, account_id: int | None,
) -> None:  # fmt: skip
    """Raises asyncpg.UniqueViolationError when the certificate already has an open request."""
    await conn.execute(
        "INSERT INTO certificate_requests (public_id, kind, number, changes, reason, requested_by, requested_account)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        public_id, kind, number, changes, reason, requested_by, account_id,
    )  # fmt: skip


async def requests_of(conn: Executor, number: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(_REQUEST + " WHERE r.number = $1 ORDER BY r.id", number)]


async def lock_open_request(conn: Conn, number: str) -> dict[str, Any] | None:
    """The certificate's open (submitted or approved) request, locked."""
    row = await conn.fetchrow(
        _REQUEST + " WHERE r.number = $1 AND r.state IN ('submitted', 'approved') FOR UPDATE", number
    )
    return None if row is None else dict(row)


async def claim_approved_correction(conn: Conn) -> dict[str, Any] | None:
    """The oldest approved correction no other signer holds, locked (FOR UPDATE SKIP LOCKED)."""
    row = await conn.fetchrow(
        _REQUEST
        + " WHERE r.state = 'approved' AND r.kind = 'correction' ORDER BY r.id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    return None if row is None else dict(row)


async def set_state(
    conn: Executor, request_id: int, state: str, *, reviewed_by: str | None = None,
    account_id: int | None = None, note: str | None = None,
) -> None:  # fmt: skip
    await conn.execute(
        "UPDATE certificate_requests SET state = $2, reviewed_by = $3, reviewed_account = $4, decided_at = now(),"
        " decision_note = $5 WHERE id = $1",
        request_id, state, reviewed_by, account_id, note,
    )  # fmt: skip


async def record_fields(conn: Executor, number: str) -> dict[str, Any] | None:
    """The certificate's signed-record fields, its version and print serial."""
    row = await conn.fetchrow(
        "SELECT " + ", ".join(RECORD_FIELDS) + ", version, print_serial FROM certificates WHERE number = $1",
        number,
    )
    return None if row is None else dict(row)


async def apply_reissue(
    conn: Executor, request_id: int, number: str, print_serial: str, previous: str | None
) -> None:
    await conn.execute("UPDATE certificates SET print_serial = $2 WHERE number = $1", number, print_serial)
    await conn.execute(
        "UPDATE certificate_requests SET previous = $2, state = 'applied', applied_at = now() WHERE id = $1",
        request_id, {"print_serial": previous},
    )  # fmt: skip


async def apply_correction(
    conn: Executor, request_id: int, number: str, current: dict[str, Any], changes: dict[str, str],
    old_payload: bytes | None,
) -> None:  # fmt: skip
    """Keep the version being replaced (its fields and signed payload), then write the new values
    and the next version number. The caller signs the new version in the same transaction."""
    kept = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in current.items() if k in RECORD_FIELDS
    }
    await conn.execute(
        "INSERT INTO certificate_versions (number, version, fields, payload, request_id) VALUES ($1, $2, $3, $4, $5)",
        number, current["version"], kept, old_payload, request_id,
    )  # fmt: skip
    columns = stored_columns(changes)
    sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(columns, start=2))
    await conn.execute(
        f"UPDATE certificates SET {sets}, version = version + 1 WHERE number = $1", number, *columns.values()
    )
    await conn.execute(
        "UPDATE certificate_requests SET previous = $2, state = 'applied', applied_at = now() WHERE id = $1",
        request_id, {k: current[k] for k in changes},
    )  # fmt: skip


async def current_versions(conn: Executor) -> list[dict[str, Any]]:
    """Every corrected certificate's current printed fields, signed payload and correction date."""
    rows = await conn.fetch(
        "SELECT c.number, c.holder_name, c.occupation_name, c.job, s.payload,"
        " (SELECT max(v.replaced_at) FROM certificate_versions v WHERE v.number = c.number) AS since"
        " FROM certificates c JOIN certificate_signatures s ON s.number = c.number WHERE c.version > 1"
    )
    return [dict(r) for r in rows]

"""SQL for the audit log: append-only and hash-chained (rule 60, docs/DECISIONS.md D35).

The chain is kept by the table's BEFORE INSERT trigger (migration 005): it takes ``CHAIN_LOCK``,
links the entry to the last one, numbers, stamps and hashes it. Every writer is chained whatever it
does; the lock is held until the writer's transaction ends, so audit last in a transaction (a batch
import or publish audits once, at its end) and keep what follows short.
"""

from __future__ import annotations

from typing import Any

from verify.db.pool import Executor
from verify.domain.audit import AuditEntry

# The trigger's pg_advisory_xact_lock key ("verify" + 2; the migrations' lock is "verify" + 1).
CHAIN_LOCK = 0x7665726966790002

_ENTRY_COLUMNS = "id, at, actor, role, action, target, detail::text AS detail_text, request_id, reason, prev_sha256, sha256"


async def audit(
    conn: Executor,
    actor: str,
    action: str,
    target: str | None,
    detail: dict[str, Any] | None = None,
    *,
    role: str | None = None,
    request_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Append one entry: who (``actor``, ``role``), what (``action`` on ``target``, ``detail``), why
    (``reason``); when is the server's clock. Never put a full ID number or a holder's name in it.
    Raises what the driver raises (``verify.db.pool.DATABASE_ERRORS``)."""
    await conn.execute(
        "INSERT INTO audit_log (actor, role, action, target, detail, request_id, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        actor,
        role,
        action,
        target,
        detail,
        request_id,
        reason,
    )


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        **{
            **dict(row),
            "prev_sha256": bytes(row["prev_sha256"]) if row["prev_sha256"] is not None else None,
            "sha256": bytes(row["sha256"]) if row["sha256"] is not None else None,
        }
    )


async def entries_after(conn: Executor, after_id: int, limit: int) -> list[AuditEntry]:
    """Up to ``limit`` entries with ids above ``after_id``, in id order (keyset pages: no long-lived
    cursor or snapshot however long the log)."""
    rows = await conn.fetch(
        f"SELECT {_ENTRY_COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2", after_id, limit
    )
    return [_entry(r) for r in rows]


async def entries_for_targets(conn: Executor, targets: list[str], limit: int) -> list[AuditEntry]:
    """The entries about any of ``targets`` (spellings of one certificate number, batch id,
    institution code or login), oldest first."""
    rows = await conn.fetch(
        f"SELECT {_ENTRY_COLUMNS} FROM audit_log WHERE target = ANY($1::text[]) ORDER BY id LIMIT $2",
        targets,
        limit,
    )
    return [_entry(r) for r in rows]

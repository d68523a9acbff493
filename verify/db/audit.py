"""SQL for the audit log: append-only (rule 60)."""

from __future__ import annotations

from typing import Any

from verify.db.pool import Executor


async def audit(
    conn: Executor,
    actor: str,
    action: str,
    target: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, $2, $3, $4)",
        actor,
        action,
        target,
        detail,
    )

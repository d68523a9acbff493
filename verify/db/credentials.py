"""SQL for institution API tokens (stored as SHA-256 only)."""

from __future__ import annotations

from verify.db.institutions import institution_of
from verify.db.pool import Executor
from verify.domain.institution import Institution


async def add_credential(conn: Executor, token_sha256: bytes, institution_id: int, label: str) -> None:
    await conn.execute(
        "INSERT INTO institution_credentials (token_sha256, institution_id, label) VALUES ($1, $2, $3)",
        token_sha256,
        institution_id,
        label,
    )


async def institution_for_token(conn: Executor, token_sha256: bytes) -> Institution | None:
    row = await conn.fetchrow(
        "SELECT i.* FROM institution_credentials c JOIN institutions i ON i.id = c.institution_id"
        " WHERE c.token_sha256 = $1 AND c.revoked_at IS NULL",
        token_sha256,
    )
    return None if row is None else institution_of(row)

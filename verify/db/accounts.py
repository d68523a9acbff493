"""SQL for accounts, their API tokens and their console sessions.

Credentials are looked up on every request, never cached: a disabled account, a revoked token or
an ended session is refused on its very next request, in every worker (rule 59).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from verify.db.pool import Executor
from verify.domain.accounts import Principal, Role
from verify.domain.errors import Conflict, NotFound


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    login: str
    role: str
    display_name: str
    institution_code: str | None
    jurisdiction: str | None
    manager: bool
    parent_login: str | None
    created_by: str
    created_at: datetime
    disabled_at: datetime | None
    has_password: bool

    def principal(self, via: str) -> Principal:
        return Principal(
            account_id=self.id, login=self.login, role=Role(self.role), institution_code=self.institution_code,
            jurisdiction=self.jurisdiction, manager=self.manager, via=via,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "role": self.role,
            "display_name": self.display_name,
            "institution": self.institution_code,
            "jurisdiction": self.jurisdiction,
            "manager": self.manager,
            "parent": self.parent_login,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "password": self.has_password,
        }


@dataclass(frozen=True, slots=True)
class Credential:
    """What a token or session resolves to, with why it may no longer count."""

    account: AccountRow
    expires_at: datetime
    ended_at: datetime | None  # token revoked / session ended
    csrf: str | None = None  # sessions only
    last_seen: datetime | None = None


_FIELDS = tuple(f.name for f in fields(AccountRow))


def _account_select(extra: str = "", source: str = "accounts a") -> str:
    """The SELECT of an account row, with ``extra`` columns first and the account joined from
    ``source`` (a token or a session row joined to ``accounts a``)."""
    return (
        f"SELECT {extra}a.id, a.login, a.role, a.display_name, i.code AS institution_code, a.jurisdiction,"
        " a.manager, p.login AS parent_login, a.created_by, a.created_at, a.disabled_at,"
        " a.password_hash IS NOT NULL AS has_password"
        f" FROM {source} LEFT JOIN institutions i ON i.id = a.institution_id"
        " LEFT JOIN accounts p ON p.id = a.parent_id"
    )


_ACCOUNT_SELECT = _account_select()


def _account(row: asyncpg.Record) -> AccountRow:
    return AccountRow(**{k: row[k] for k in _FIELDS})


async def insert_account(
    conn: Executor,
    *,
    login: str,
    role: str,
    display_name: str,
    institution_id: int | None,
    jurisdiction: str | None,
    manager: bool,
    parent_id: int | None,
    password_hash: str | None,
    created_by: str,
) -> int:
    """Raises Conflict when the login is taken."""
    try:
        value = await conn.fetchval(
            "INSERT INTO accounts (login, role, display_name, institution_id, jurisdiction, manager, parent_id,"
            " password_hash, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            login, role, display_name, institution_id, jurisdiction, manager, parent_id, password_hash, created_by,
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"账号 {login} 已存在", f"the login {login} is taken", details={"login": login}
        ) from None
    return int(value)


async def get_account(conn: Executor, login: str) -> AccountRow:
    """Raises NotFound."""
    row = await conn.fetchrow(_ACCOUNT_SELECT + " WHERE a.login = $1", login)
    if row is None:
        raise NotFound(f"未找到账号 {login}", f"no account {login}", details={"login": login})
    return _account(row)


async def password_of(conn: Executor, login: str) -> tuple[AccountRow, str | None] | None:
    row = await conn.fetchrow(_account_select("a.password_hash, ") + " WHERE a.login = $1", login)
    return None if row is None else (_account(row), row["password_hash"])


async def list_accounts(conn: Executor, institution_code: str | None = None) -> list[AccountRow]:
    if institution_code is None:
        rows = await conn.fetch(_ACCOUNT_SELECT + " ORDER BY a.id")
    else:
        rows = await conn.fetch(_ACCOUNT_SELECT + " WHERE i.code = $1 ORDER BY a.id", institution_code)
    return [_account(r) for r in rows]


async def disable_account(conn: Executor, account_id: int, reason: str) -> bool:
    """Disable the account and end its sessions; its tokens are refused from now on because
    every lookup checks ``disabled_at``. Returns False when it was already disabled."""
    done = await conn.fetchval(
        "UPDATE accounts SET disabled_at = now(), disabled_reason = $2 WHERE id = $1 AND disabled_at IS NULL"
        " RETURNING id",
        account_id,
        reason,
    )
    await _end_sessions(conn, account_id)
    return done is not None


async def set_password(conn: Executor, account_id: int, password_hash: str) -> None:
    """Set the password and end every session signed in with the old one."""
    await conn.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash)
    await _end_sessions(conn, account_id)


async def _end_sessions(conn: Executor, account_id: int) -> None:
    await conn.execute(
        "UPDATE account_sessions SET ended_at = now() WHERE account_id = $1 AND ended_at IS NULL", account_id
    )


async def add_token(
    conn: Executor, token_sha256: bytes, account_id: int, label: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO account_tokens (token_sha256, account_id, label, expires_at) VALUES ($1, $2, $3, $4)",
        token_sha256, account_id, label, expires_at,
    )  # fmt: skip


async def revoke_tokens(conn: Executor, account_id: int, label: str | None = None) -> int:
    """Revoke the account's live tokens (those with ``label`` only, when given); returns how many."""
    result = await conn.execute(
        "UPDATE account_tokens SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL"
        " AND ($2::text IS NULL OR label = $2)",
        account_id,
        label,
    )
    return int(result.split()[-1])


async def token_credential(conn: Executor, token_sha256: bytes) -> Credential | None:
    row = await conn.fetchrow(
        _account_select(
            "t.expires_at AS _expires, t.revoked_at AS _ended, ",
            "account_tokens t JOIN accounts a ON a.id = t.account_id",
        )
        + " WHERE t.token_sha256 = $1",
        token_sha256,
    )
    return None if row is None else Credential(_account(row), row["_expires"], row["_ended"])


async def add_session(
    conn: Executor, id_sha256: bytes, account_id: int, csrf: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO account_sessions (id_sha256, account_id, csrf, expires_at) VALUES ($1, $2, $3, $4)",
        id_sha256, account_id, csrf, expires_at,
    )  # fmt: skip


async def session_credential(conn: Executor, id_sha256: bytes) -> Credential | None:
    row = await conn.fetchrow(
        _account_select(
            "s.expires_at AS _expires, s.ended_at AS _ended, s.csrf AS _csrf, s.last_seen AS _seen, ",
            "account_sessions s JOIN accounts a ON a.id = s.account_id",
        )
        + " WHERE s.id_sha256 = $1",
        id_sha256,
    )
    if row is None:
        return None
    return Credential(_account(row), row["_expires"], row["_ended"], row["_csrf"], row["_seen"])


async def touch_session(conn: Executor, id_sha256: bytes) -> None:
    await conn.execute("UPDATE account_sessions SET last_seen = now() WHERE id_sha256 = $1", id_sha256)


async def end_session(conn: Executor, id_sha256: bytes) -> None:
    await conn.execute(
        "UPDATE account_sessions SET ended_at = now() WHERE id_sha256 = $1 AND ended_at IS NULL", id_sha256
    )

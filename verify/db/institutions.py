"""SQL for institutions: the filed record, scope rows, status history, retired codes and aliases."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import asyncpg

from verify.db.pool import Conn, Executor
from verify.domain.accounts import Owner
from verify.domain.errors import Conflict, NotFound
from verify.domain.institution import RECORD_FIELDS, Institution, Scope, StatusChange

_SCOPE_COLUMNS = "occupation_code, occupation_name, job, level, effective_from, effective_to, standard"


def institution_of(row: asyncpg.Record) -> Institution:
    return Institution(
        id=row["id"],
        code=row["code"],
        kind=row["kind"],
        name=row["name"],
        status=row["status"],
        status_since=row["status_since"],
        record={k: row[k] for k in RECORD_FIELDS},
    )


async def insert_institution(conn: Executor, fields: dict[str, Any]) -> int:
    """Insert an institution. Raises Conflict when the code exists or is retired (rule 40)."""
    cols = [k for k in RECORD_FIELDS if k in fields]
    placeholders = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
    try:
        value = await conn.fetchval(
            f"INSERT INTO institutions ({', '.join(cols)}) VALUES ({placeholders}) RETURNING id",
            *[fields[c] for c in cols],
        )
    except asyncpg.UniqueViolationError as exc:
        code = fields.get("code")
        if exc.constraint_name == "retired_code_reuse":
            raise Conflict(
                f"机构代码 {code} 已列入废置库，不得重新赋予其他机构",
                f"institution code {code} is retired and can never be reassigned",
                details={"code": code, "rule": 40},
            ) from exc
        raise Conflict(f"机构代码 {code} 已存在", f"institution code {code} already exists") from exc
    return int(value)


async def get_institution(conn: Executor, code: str) -> Institution:
    """The institution with this code, a retired code of it, or an alias. Raises NotFound."""
    row = await conn.fetchrow(
        "SELECT * FROM institutions WHERE code = $1"
        " UNION ALL SELECT i.* FROM retired_codes r JOIN institutions i ON i.id = r.institution_id"
        " WHERE r.code = $1 AND i.code <> $1"
        " UNION ALL SELECT i.* FROM institution_aliases a JOIN institutions i ON i.id = a.institution_id"
        " WHERE a.alias = $1 LIMIT 1",
        code,
    )
    if row is None:
        raise NotFound(f"未找到机构 {code}", f"no institution with code {code}", details={"code": code})
    return institution_of(row)


async def all_institution_codes(conn: Executor) -> set[str]:
    """Every code in use or retired (the 废置库 included), so generators never hand one out twice."""
    rows = await conn.fetch("SELECT code FROM institutions UNION SELECT code FROM retired_codes")
    return {r["code"] for r in rows}


async def institution_scopes(conn: Executor, institution_id: int) -> list[Scope]:
    rows = await conn.fetch(
        f"SELECT {_SCOPE_COLUMNS} FROM scopes WHERE institution_id = $1"
        " ORDER BY occupation_code, job, level NULLS FIRST, effective_from",
        institution_id,
    )
    return [Scope(**dict(r)) for r in rows]


async def add_scopes(conn: Executor, institution_id: int, scopes: Iterable[Scope]) -> None:
    await conn.executemany(
        f"INSERT INTO scopes (institution_id, {_SCOPE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                institution_id,
                s.occupation_code,
                s.occupation_name,
                s.job,
                s.level,
                s.effective_from,
                s.effective_to,
                s.standard,
            )
            for s in scopes
        ],  # fmt: skip
    )


async def institution_history(conn: Executor, institution_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT status, effective, reason, document_ref FROM institution_status_history"
        " WHERE institution_id = $1 ORDER BY effective, id",
        institution_id,
    )
    return [dict(r) for r in rows]


async def retired_codes_of(conn: Executor, institution_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT code, retired_on, reason FROM retired_codes WHERE institution_id = $1 ORDER BY retired_on, code",
        institution_id,
    )
    return [dict(r) for r in rows]


async def aliases_of(conn: Executor, institution_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT alias, note FROM institution_aliases WHERE institution_id = $1 ORDER BY alias", institution_id
    )
    return [dict(r) for r in rows]


async def set_institution_status(
    conn: Conn,
    institution_id: int,
    status: str,
    effective: date,
    *,
    reason: str,
    document_ref: str | None,
    decided_by: str,
    merged_into: str | None = None,
    today: date,
) -> None:
    """Record a status decision. The institution's current status follows the decisions in force
    today (``apply_due_statuses``): a decision dated ahead waits for its day, a backdated one does
    not undo a later decision (rule 39)."""
    await conn.execute(
        "INSERT INTO institution_status_history (institution_id, status, effective, reason, document_ref,"
        " decided_by) VALUES ($1, $2, $3, $4, $5, $6)",
        institution_id,
        status,
        effective,
        reason,
        document_ref,
        decided_by,
    )
    if merged_into is not None:
        await conn.execute(
            "UPDATE institutions SET merged_into = $2 WHERE id = $1", institution_id, merged_into
        )
    await apply_due_statuses(conn, today)


async def retire_code(conn: Conn, institution_id: int, code: str, retired_on: date, reason: str) -> None:
    await conn.execute(
        "INSERT INTO retired_codes (code, institution_id, retired_on, reason) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (code) DO NOTHING",
        code,
        institution_id,
        retired_on,
        reason,
    )


async def add_alias(conn: Executor, institution_id: int, alias: str, note: str) -> None:
    await conn.execute(
        "INSERT INTO institution_aliases (alias, institution_id, note) VALUES ($1, $2, $3)"
        " ON CONFLICT (alias) DO NOTHING",
        alias,
        institution_id,
        note,
    )


async def owner_of(conn: Executor, code: str) -> Owner:
    """Where the institution ``code`` sits, for access checks. Raises NotFound."""
    inst = await get_institution(conn, code)
    r = inst.record
    return Owner(inst.code, r["parent_code"], r["province_code"], r["city_code"])


async def status_changes(conn: Executor, institution_id: int) -> list[StatusChange]:
    """The institution's status decisions in recording order (rule 39 reads them by effective date)."""
    rows = await conn.fetch(
        "SELECT status, effective FROM institution_status_history WHERE institution_id = $1 ORDER BY id",
        institution_id,
    )
    return [StatusChange(r["status"], r["effective"]) for r in rows]


async def apply_due_statuses(conn: Executor, today: date) -> int:
    """Make each institution's current status the one its decisions give for ``today``: a decision
    recorded ahead of its effective date takes effect here (called by uploads, status decisions and
    the signer loop). Returns how many institutions changed."""
    result = await conn.execute(
        "UPDATE institutions i SET status = h.status, status_since = h.effective"
        " FROM (SELECT DISTINCT ON (institution_id) institution_id, status, effective"
        "       FROM institution_status_history WHERE effective <= $1"
        "       ORDER BY institution_id, effective DESC, id DESC) h"
        " WHERE h.institution_id = i.id AND (i.status <> h.status OR i.status_since <> h.effective)",
        today,
    )
    return int(result.split()[-1])

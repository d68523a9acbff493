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
        " WHERE a.alias = $1 AND a.withdrawn_on IS NULL LIMIT 1",
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
    """The aliases in use (a withdrawn alias is kept, but no longer resolves or shows)."""
    rows = await conn.fetch(
        "SELECT alias, note, added_on FROM institution_aliases WHERE institution_id = $1 AND withdrawn_on IS NULL"
        " ORDER BY alias",
        institution_id,
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
    merger_id: int | None = None,
    today: date,
) -> None:
    """Record a status decision (of a merger: ``merger_id``, ``merged_into``). The institution's
    current status follows the decisions in force today (``apply_due_statuses``): a decision dated
    ahead waits for its day, a backdated one does not undo a later decision (rule 39)."""
    await conn.execute(
        "INSERT INTO institution_status_history (institution_id, status, effective, reason, document_ref,"
        " decided_by, merger_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        institution_id,
        status,
        effective,
        reason,
        document_ref,
        decided_by,
        merger_id,
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


async def add_alias(
    conn: Executor,
    institution_id: int,
    alias: str,
    note: str | None,
    *,
    added_on: date | None = None,
    added_by: str | None = None,
) -> bool:
    """Record an alias; False when the alias is already recorded (for anyone, withdrawn or not)."""
    result = await conn.execute(
        "INSERT INTO institution_aliases (alias, institution_id, note, added_on, added_by)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alias) DO NOTHING",
        alias,
        institution_id,
        note,
        added_on,
        added_by,
    )
    return result.endswith(" 1")


async def alias_record(conn: Executor, alias: str) -> dict[str, Any] | None:
    """The alias as recorded (its institution, whether withdrawn), or None."""
    row = await conn.fetchrow(
        "SELECT a.alias, a.institution_id, i.code, a.withdrawn_on FROM institution_aliases a"
        " JOIN institutions i ON i.id = a.institution_id WHERE a.alias = $1",
        alias,
    )
    return None if row is None else dict(row)


async def code_in_use(conn: Executor, code: str) -> bool:
    """Whether ``code`` is an institution's code or a retired one (an alias may be neither)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM institutions WHERE code = $1)"
        " OR EXISTS (SELECT 1 FROM retired_codes WHERE code = $1)",
        code,
    )
    return found


async def withdraw_alias(conn: Executor, institution_id: int, alias: str, on: date, reason: str) -> bool:
    """Stop an alias resolving, keeping its row (rule 52); False when it is not this institution's
    alias in use."""
    result = await conn.execute(
        "UPDATE institution_aliases SET withdrawn_on = $3, withdrawn_reason = $4"
        " WHERE alias = $1 AND institution_id = $2 AND withdrawn_on IS NULL",
        alias,
        institution_id,
        on,
        reason,
    )
    return result.endswith(" 1")


async def lock_institution(conn: Conn, institution_id: int) -> None:
    """Take the institution's row lock until the transaction ends, so two decisions about it are
    made one after the other (the second sees the first, e.g. a termination, rule 40)."""
    await conn.execute("SELECT 1 FROM institutions WHERE id = $1 FOR UPDATE", institution_id)


async def insert_merger(
    conn: Conn,
    form: str,
    into_id: int,
    effective: date,
    *,
    reason: str,
    document_ref: str | None,
    decided_by: str,
) -> int:
    """Record one merger decision (rule 41); its parties' status rows name it. Returns its id."""
    value = await conn.fetchval(
        "INSERT INTO institution_mergers (form, into_id, effective, reason, document_ref, decided_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        form,
        into_id,
        effective,
        reason,
        document_ref,
        decided_by,
    )
    return int(value)


async def mergers_of(conn: Executor, institution_id: int) -> list[dict[str, Any]]:
    """The mergers the institution took part in, as the absorbing or new institution or as a
    merged one: form, date, document, the institution merged into and every merged party."""
    rows = await conn.fetch(
        "SELECT m.id, m.form, m.effective, m.document_ref, t.code AS into_code, t.name AS into_name,"
        "  (SELECT coalesce(jsonb_agg(jsonb_build_object('code', p.code, 'name', p.name) ORDER BY p.code),"
        "   '[]'::jsonb) FROM institution_status_history h JOIN institutions p ON p.id = h.institution_id"
        "   WHERE h.merger_id = m.id) AS parties"
        " FROM institution_mergers m JOIN institutions t ON t.id = m.into_id"
        " WHERE m.into_id = $1 OR EXISTS (SELECT 1 FROM institution_status_history h"
        "   WHERE h.merger_id = m.id AND h.institution_id = $1)"
        " ORDER BY m.effective, m.id",
        institution_id,
    )
    return [dict(r) for r in rows]


async def sites_of(conn: Executor, code: str) -> list[dict[str, Any]]:
    """The 站点 filed under the institution ``code`` (rule 50): code, name, status."""
    rows = await conn.fetch(
        "SELECT code, name, status, status_since FROM institutions WHERE parent_code = $1 ORDER BY code", code
    )
    return [dict(r) for r in rows]


async def name_of(conn: Executor, code: str) -> str | None:
    name: str | None = await conn.fetchval("SELECT name FROM institutions WHERE code = $1", code)
    return name


_RECORD_PUBLIC = "kind, effective, article, summary, document_ref, decided_by, rectify_by"


async def insert_record(
    conn: Executor, institution_id: int, record: dict[str, Any], *, recorded_by: str
) -> None:
    """Record a credit record (rules 49, 51): ``record`` holds kind, effective, article, summary,
    facts, document_ref, decided_by, rectify_by."""
    await conn.execute(
        "INSERT INTO institution_records (institution_id, kind, effective, article, summary, facts, document_ref,"
        " decided_by, rectify_by, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        institution_id, record["kind"], record["effective"], record["article"], record["summary"],
        record.get("facts"), record.get("document_ref"), record["decided_by"], record.get("rectify_by"), recorded_by,
    )  # fmt: skip


async def records_of(conn: Executor, institution_id: int) -> list[dict[str, Any]]:
    """The institution's credit records, public columns only (never ``facts``), oldest first."""
    rows = await conn.fetch(
        f"SELECT {_RECORD_PUBLIC} FROM institution_records WHERE institution_id = $1 ORDER BY effective, id",
        institution_id,
    )
    return [dict(r) for r in rows]


async def insert_grade(
    conn: Executor, institution_id: int, grade: dict[str, Any], *, recorded_by: str
) -> None:
    """Record a quality grade (rule 53): ``grade`` holds year, grade, decided_on, document_ref, decided_by."""
    await conn.execute(
        "INSERT INTO institution_grades (institution_id, year, grade, decided_on, document_ref, decided_by,"
        " recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        institution_id, grade["year"], grade["grade"], grade["decided_on"], grade["document_ref"],
        grade["decided_by"], recorded_by,
    )  # fmt: skip


async def grades_of(conn: Executor, institution_id: int) -> list[dict[str, Any]]:
    """Each assessment year's grade, the latest recorded for the year, newest year first."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (year) year, grade, decided_on, document_ref, decided_by FROM institution_grades"
        " WHERE institution_id = $1 ORDER BY year DESC, id DESC",
        institution_id,
    )
    return [dict(r) for r in rows]


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

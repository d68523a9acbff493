"""Every SQL statement of the service, over an asyncpg pool.

Domain modules never import asyncpg; they receive plain values from here. Bulk writes use COPY.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from verify.batch import DRAFT_FIELDS
from verify.errors import Conflict, NotFound, Unavailable
from verify.snapshot import KeyRow

# Columns written by an import, in COPY order: the checked draft's fields with the two parent ids
# after number and kind (verify.batch.copy_text writes the same order).
CERTIFICATE_COLUMNS: tuple[str, ...] = (*DRAFT_FIELDS[:2], "institution_id", "batch_id", *DRAFT_FIELDS[2:])

MIGRATION_LOCK = 0x7665726966790001  # pg_advisory_xact_lock key: "verify" + 1

# A connection checked out of a pool, a bare connection, or the pool itself all run queries.
Conn = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool
Pool = asyncpg.Pool


def _jsonb_encode(value: Any) -> bytes:
    # jsonb binary wire format: a version byte (1) then the JSON text; binary so COPY can use it.
    return b"\x01" + json.dumps(value, ensure_ascii=False).encode()


def _jsonb_decode(data: bytes) -> Any:
    return json.loads(data[1:])


async def _init_connection(conn: Conn) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool. Raises Unavailable when the database cannot be reached."""
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise Unavailable(details={"cause": type(exc).__name__}) from exc
    assert pool is not None
    return pool


def _migrations() -> list[tuple[str, str]]:
    folder = importlib.resources.files("verify") / "migrations"
    files = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in files]


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; returns the names applied.

    Several processes may start at once (workers, CLI): the advisory lock makes them take turns.
    """
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            r["name"]: r["sha256"] for r in await conn.fetch("SELECT name, sha256 FROM schema_migrations")
        }
        for name, sql in _migrations():
            digest = hashlib.sha256(sql.encode()).hexdigest()
            if name in done:
                if done[name] != digest:
                    raise Conflict(
                        f"迁移文件 {name} 在应用后被修改",
                        f"migration {name} was changed after it was applied",
                    )
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)", name, digest)
            applied.append(name)
    return applied


# --------------------------------------------------------------------------- institutions


@dataclass(frozen=True, slots=True)
class InstitutionRow:
    id: int
    code: str
    kind: str
    name: str
    status: str
    status_since: date
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScopeRow:
    occupation_code: str
    occupation_name: str
    job: str
    level: int | None
    standard: str
    effective_from: date
    effective_to: date | None


INSTITUTION_FIELDS = (
    "code",
    "kind",
    "name",
    "short_name",
    "filing_number",
    "filing_authority",
    "filing_date",
    "filing_expires",
    "province_code",
    "city_code",
    "parent_code",
    "address",
    "phone",
    "email",
    "website",
    "complaint_channel",
    "status",
    "status_since",
    "merged_into",
)


def _institution(row: asyncpg.Record) -> InstitutionRow:
    record = {k: row[k] for k in INSTITUTION_FIELDS}
    return InstitutionRow(
        id=row["id"],
        code=row["code"],
        kind=row["kind"],
        name=row["name"],
        status=row["status"],
        status_since=row["status_since"],
        record=record,
    )


async def insert_institution(conn: Executor, fields: dict[str, Any]) -> int:
    """Insert an institution. Raises Conflict when the code exists or is retired (rule 40)."""
    cols = [k for k in INSTITUTION_FIELDS if k in fields]
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


async def get_institution(conn: Executor, code: str) -> InstitutionRow:
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
    return _institution(row)


async def all_institution_codes(conn: Executor) -> set[str]:
    """Every code in use or retired (the 废置库 included), so generators never hand one out twice."""
    rows = await conn.fetch("SELECT code FROM institutions UNION SELECT code FROM retired_codes")
    return {r["code"] for r in rows}


async def institution_scopes(conn: Executor, institution_id: int) -> list[ScopeRow]:
    rows = await conn.fetch(
        "SELECT occupation_code, occupation_name, job, level, standard, effective_from, effective_to"
        " FROM scopes WHERE institution_id = $1 ORDER BY occupation_code, job, level NULLS FIRST, effective_from",
        institution_id,
    )
    return [ScopeRow(**dict(r)) for r in rows]


async def add_scopes(conn: Executor, institution_id: int, scopes: Iterable[ScopeRow]) -> None:
    await conn.executemany(
        "INSERT INTO scopes (institution_id, occupation_code, occupation_name, job, level, standard,"
        " effective_from, effective_to) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                institution_id,
                s.occupation_code,
                s.occupation_name,
                s.job,
                s.level,
                s.standard,
                s.effective_from,
                s.effective_to,
            )
            for s in scopes
        ],
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
) -> None:
    await conn.execute(
        "UPDATE institutions SET status = $2, status_since = $3, merged_into = COALESCE($4, merged_into)"
        " WHERE id = $1",
        institution_id,
        status,
        effective,
        merged_into,
    )
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


# --------------------------------------------------------------------------- credentials


async def add_credential(conn: Executor, token_sha256: bytes, institution_id: int, label: str) -> None:
    await conn.execute(
        "INSERT INTO institution_credentials (token_sha256, institution_id, label) VALUES ($1, $2, $3)",
        token_sha256,
        institution_id,
        label,
    )


async def institution_for_token(conn: Executor, token_sha256: bytes) -> InstitutionRow | None:
    row = await conn.fetchrow(
        "SELECT i.* FROM institution_credentials c JOIN institutions i ON i.id = c.institution_id"
        " WHERE c.token_sha256 = $1 AND c.revoked_at IS NULL",
        token_sha256,
    )
    return None if row is None else _institution(row)


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    public_id: str
    institution_code: str
    state: str
    row_count: int
    filename: str
    file_sha256: str
    submitted_at: datetime
    published_at: datetime | None


_BATCH_SELECT = (
    "SELECT b.id, b.public_id, i.code AS institution_code, b.state, b.row_count, b.filename, b.file_sha256,"
    " b.submitted_at, b.published_at FROM batches b JOIN institutions i ON i.id = b.institution_id"
)


async def find_batch_by_file(conn: Executor, institution_id: int, sha256: str) -> BatchRow | None:
    row = await conn.fetchrow(
        _BATCH_SELECT + " WHERE b.institution_id = $1 AND b.file_sha256 = $2", institution_id, sha256
    )
    return None if row is None else BatchRow(**dict(row))


async def get_batch(conn: Executor, public_id: str) -> BatchRow:
    """Raises NotFound."""
    row = await conn.fetchrow(_BATCH_SELECT + " WHERE b.public_id = $1", public_id)
    if row is None:
        raise NotFound(f"未找到批次 {public_id}", f"no batch {public_id}", details={"batch": public_id})
    return BatchRow(**dict(row))


async def lock_batch(conn: Conn, public_id: str) -> BatchRow:
    """The batch, row-locked until the transaction ends. Raises NotFound."""
    row = await conn.fetchrow(_BATCH_SELECT + " WHERE b.public_id = $1 FOR UPDATE OF b", public_id)
    if row is None:
        raise NotFound(f"未找到批次 {public_id}", f"no batch {public_id}", details={"batch": public_id})
    return BatchRow(**dict(row))


async def insert_batch(
    conn: Conn,
    *,
    public_id: str,
    institution_id: int,
    file_sha256: str,
    filename: str,
    file_format: str,
    row_count: int,
    submitted_by: str,
    state: str = "submitted",
) -> int:
    value = await conn.fetchval(
        "INSERT INTO batches (public_id, institution_id, file_sha256, filename, file_format, row_count,"
        " submitted_by, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        public_id,
        institution_id,
        file_sha256,
        filename,
        file_format,
        row_count,
        submitted_by,
        state,
    )
    return int(value)


async def copy_certificates(conn: Conn, rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY rows (tuples in CERTIFICATE_COLUMNS order) into certificates. Caller owns the transaction."""
    await conn.copy_records_to_table("certificates", records=rows, columns=list(CERTIFICATE_COLUMNS))


async def copy_certificates_text(conn: Conn, payload: bytes) -> None:
    """COPY certificates from COPY text format (made by verify.batch.copy_text). Caller owns the transaction."""
    await conn.copy_to_table(
        "certificates", source=io.BytesIO(payload), columns=list(CERTIFICATE_COLUMNS), format="text"
    )


async def existing_numbers(conn: Executor, numbers: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT number FROM certificates WHERE number = ANY($1::text[])", list(numbers))
    return {r["number"] for r in rows}


async def mark_batch_published(conn: Conn, batch_id: int) -> None:
    """Publication itself: a certificate is public when its batch is (one row, whatever the batch size)."""
    await conn.execute("UPDATE batches SET state = 'published', published_at = now() WHERE id = $1", batch_id)


# --------------------------------------------------------------------------- lookup

LOOKUP_COLUMNS = (
    "c.number, c.kind, c.holder_name, c.name_key, c.id_type, c.id_tail, c.occupation_code, c.occupation_name,"
    " c.job, c.level, c.issue_date, c.issue_form, c.status,"
    " i.code AS institution_code, i.name AS institution_name, i.status AS institution_status,"
    " i.status_since AS institution_status_since"
)


async def published_certificate(conn: Executor, number: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {LOOKUP_COLUMNS} FROM certificates c JOIN institutions i ON i.id = c.institution_id"
        " JOIN batches b ON b.id = c.batch_id WHERE c.number = $1 AND b.state = 'published'",
        number,
    )
    return None if row is None else dict(row)


async def published_certificates_by_index(conn: Executor, id_index: bytes) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {LOOKUP_COLUMNS} FROM certificates c JOIN institutions i ON i.id = c.institution_id"
        " JOIN batches b ON b.id = c.batch_id WHERE c.id_index = $1 AND b.state = 'published'"
        " ORDER BY c.issue_date DESC, c.number LIMIT 200",
        id_index,
    )
    return [dict(r) for r in rows]


# --------------------------------------------------------------------------- audit


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


async def ping(conn: Executor) -> None:
    """Raises when the database does not answer."""
    await conn.fetchval("SELECT 1")


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[Conn]:
    async with pool.acquire() as conn, conn.transaction():
        yield conn


# --------------------------------------------------------------------------- signing keys


_KEY_COLUMNS = "public_key, kid, not_before, not_after, status, status_since, note"


async def insert_signing_key(
    conn: Executor,
    public_key: bytes,
    kid: str,
    not_before: datetime,
    not_after: datetime | None,
    note: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO signing_keys (public_key, kid, not_before, not_after, note) VALUES ($1, $2, $3, $4, $5)",
        public_key,
        kid,
        not_before,
        not_after,
        note,
    )


async def signing_keys(conn: Executor) -> list[KeyRow]:
    rows = await conn.fetch(f"SELECT {_KEY_COLUMNS} FROM signing_keys ORDER BY not_before, created_at")
    return [KeyRow(**{**dict(r), "public_key": bytes(r["public_key"])}) for r in rows]


async def set_key_status(
    conn: Executor, public_key: bytes, status: str, *, not_after: datetime | None = None
) -> None:
    await conn.execute(
        "UPDATE signing_keys SET status = $2, status_since = now(), not_after = COALESCE($3, not_after)"
        " WHERE public_key = $1",
        public_key,
        status,
        not_after,
    )


# --------------------------------------------------------------------------- signatures


@dataclass(frozen=True, slots=True)
class ToSign:
    number: str
    holder_name: str
    id_tail: str
    occupation_code: str
    occupation_name: str
    job: str
    issue_date: date


async def batch_certificates_to_sign(conn: Executor, batch_id: int) -> list[ToSign]:
    rows = await conn.fetch(
        "SELECT number, holder_name, id_tail, occupation_code, occupation_name, job, issue_date"
        " FROM certificates WHERE batch_id = $1 ORDER BY number",
        batch_id,
    )
    return [ToSign(**dict(r)) for r in rows]


async def certificates_signed_by(conn: Executor, kid: str) -> list[ToSign]:
    rows = await conn.fetch(
        "SELECT c.number, c.holder_name, c.id_tail, c.occupation_code, c.occupation_name, c.job, c.issue_date"
        " FROM certificate_signatures s JOIN certificates c ON c.number = s.number WHERE s.kid = $1 ORDER BY c.number",
        kid,
    )
    return [ToSign(**dict(r)) for r in rows]


async def copy_signatures(conn: Conn, rows: Sequence[tuple[str, str, bytes]]) -> None:
    """COPY (number, kid, payload) of newly signed certificates (publication). Caller owns the transaction."""
    await conn.copy_records_to_table(
        "certificate_signatures", records=rows, columns=["number", "kid", "payload"]
    )


async def replace_signatures(conn: Conn, rows: Sequence[tuple[str, str, bytes]]) -> int:
    """Re-signed payloads replace the old ones (after a key compromise): temp table + one UPDATE."""
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS resigned (number text, kid text, payload bytea) ON COMMIT DELETE ROWS"
    )
    await conn.copy_records_to_table("resigned", records=rows, columns=["number", "kid", "payload"])
    status = await conn.execute(
        "UPDATE certificate_signatures s SET kid = r.kid, payload = r.payload, signed_at = now()"
        " FROM resigned r WHERE s.number = r.number"
    )
    await conn.execute("TRUNCATE resigned")
    return int(status.split()[-1])


async def qr_payload(conn: Executor, number: str) -> bytes | None:
    value = await conn.fetchval(
        "SELECT s.payload FROM certificate_signatures s JOIN certificates c ON c.number = s.number"
        " JOIN batches b ON b.id = c.batch_id WHERE s.number = $1 AND b.state = 'published'",
        number,
    )
    return None if value is None else bytes(value)


async def published_payloads(conn: Conn) -> AsyncIterator[tuple[str, bytes]]:
    """Every published, signed certificate's (number, payload), streamed (for bulk printing)."""
    async with conn.transaction():
        async for r in conn.cursor(
            "SELECT s.number, s.payload FROM certificate_signatures s JOIN certificates c ON c.number = s.number"
            " JOIN batches b ON b.id = c.batch_id WHERE b.state = 'published' ORDER BY s.number"
        ):
            yield r["number"], bytes(r["payload"])


# --------------------------------------------------------------------------- certificate events


async def record_certificate_event(
    conn: Conn,
    number: str,
    event: str,
    *,
    effective: date,
    reason_category: str,
    reason: str,
    decided_by: str,
    document_ref: str | None,
    served: str | None,
    superseded_by: str | None,
    recorded_by: str,
) -> None:
    """Append the event and set the certificate's current status (rule 36: history kept)."""
    await conn.execute(
        "INSERT INTO certificate_events (number, event, effective, reason_category, reason, decided_by,"
        " document_ref, served, superseded_by, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        number,
        event,
        effective,
        reason_category,
        reason,
        decided_by,
        document_ref,
        served,
        superseded_by,
        recorded_by,
    )
    status = {"revoked": "revoked", "superseded": "superseded", "reinstated": "active"}[event]
    await conn.execute("UPDATE certificates SET status = $2 WHERE number = $1", number, status)


async def certificate_history(conn: Executor, number: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT event, effective, reason_category, decided_by, document_ref, superseded_by, recorded_at"
        " FROM certificate_events WHERE number = $1 ORDER BY id",
        number,
    )
    return [dict(r) for r in rows]


async def certificate_status_row(conn: Executor, number: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT c.number, c.status, i.code AS institution_code FROM certificates c"
        " JOIN institutions i ON i.id = c.institution_id WHERE c.number = $1",
        number,
    )
    return None if row is None else dict(row)


# --------------------------------------------------------------------------- status snapshot


async def status_snapshot_rows(
    conn: Executor,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[KeyRow]]:
    """What every web worker keeps in memory: non-active certificates with their latest event,
    all institutions' names and states, and all signing keys. Small: revocations are rare."""
    certificates = await conn.fetch(
        "SELECT c.number, c.status, e.effective, e.reason_category, e.superseded_by"
        " FROM certificates c LEFT JOIN LATERAL (SELECT effective, reason_category, superseded_by"
        "   FROM certificate_events WHERE number = c.number ORDER BY id DESC LIMIT 1) e ON true"
        " WHERE c.status <> 'active'"
    )
    institutions = await conn.fetch("SELECT code, name, status, status_since FROM institutions")
    return [dict(r) for r in certificates], [dict(r) for r in institutions], await signing_keys(conn)

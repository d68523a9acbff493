"""The connection pool, migrations and transactions: what every SQL module of the service shares.

Domain modules never import asyncpg; they receive plain values and domain objects from ``verify.db``.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from verify.db import roles
from verify.db.roles import APP_ROLE
from verify.domain.errors import ConfigError, Conflict, Unavailable

# A connection checked out of a pool, a bare connection, or the pool itself all run queries.
Conn = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool
Pool = asyncpg.Pool

# What a database that is down, restarting or unreachable raises; callers above this layer catch
# these without importing the driver.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
UniqueViolation = asyncpg.UniqueViolationError

MIGRATION_LOCK = 0x7665726966790001  # pg_advisory_xact_lock key: "verify" + 1


def _jsonb_encode(value: Any) -> bytes:
    # jsonb binary wire format: a version byte (1) then the JSON text; binary so COPY can use it.
    return b"\x01" + json.dumps(value, ensure_ascii=False).encode()


def _jsonb_decode(data: bytes) -> Any:
    return json.loads(data[1:])


async def _init_connection(conn: Conn) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )


# A connection attempt to a database that is down or unreachable fails within this many seconds
# (asyncpg's default is 60), so a lookup answers 503 promptly instead of hanging.
CONNECT_TIMEOUT = 2.0


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    read_only: bool = False,
    application_name: str | None = None,
) -> asyncpg.Pool:
    """Open a pool. Raises Unavailable when the database cannot be reached (with ``min_size=0`` nothing
    is connected yet, so nothing is raised here). ``read_only`` makes every transaction of the pool
    read-only on the server, so a pool meant for a replica cannot write even if pointed at a primary."""
    server_settings: dict[str, str] = {}
    if read_only:
        server_settings["default_transaction_read_only"] = "on"
    if application_name:
        server_settings["application_name"] = application_name
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60,
            timeout=CONNECT_TIMEOUT, server_settings=server_settings or None,
        )  # fmt: skip
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise Unavailable(details={"cause": type(exc).__name__}) from exc
    assert pool is not None
    return pool


def _migrations() -> list[tuple[str, str]]:
    folder = importlib.resources.files("verify.db") / "migrations"
    files = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in files]


def _needs_owner(what: str) -> ConfigError:
    return ConfigError(
        f"迁移（{what}）需要表的所有者：请用所有者的连接串运行 verify db migrate（docs/SECURITY.md §7.2）",
        f"migrating ({what}) needs the tables' owner: run verify db migrate with the owner's URL "
        "(docs/SECURITY.md §7.2)",
    )


async def migrate(pool: asyncpg.Pool, *, app_role: str | None = APP_ROLE) -> list[str]:
    """Apply pending migrations in order, in one transaction; returns the names applied. Then, with
    ``app_role`` (the embedded cluster's ``verify_app``; None for an external URL, used as given),
    create that role when missing and set its privileges (``verify.db.roles``), every time.

    Several processes may start at once (workers, CLI): the advisory lock makes them take turns.
    With nothing pending and ``app_role=None`` a role that only reads ``schema_migrations`` suffices
    (a non-owner ``VERIFY_DATABASE_URL``). Raises Conflict (an applied migration was edited) and
    ConfigError (a pending migration, or the grants, need the owner: docs/SECURITY.md §7.2).
    """
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        # Only when missing: CREATE ... IF NOT EXISTS still needs CREATE on the schema, which a
        # non-owner application role does not have.
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            try:
                await conn.execute(
                    "CREATE TABLE schema_migrations ("
                    " name text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                )
            except asyncpg.InsufficientPrivilegeError:
                raise _needs_owner("schema_migrations") from None
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
            try:
                await conn.execute(sql)
            except asyncpg.InsufficientPrivilegeError:
                raise _needs_owner(name) from None
            await conn.execute("INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)", name, digest)
            applied.append(name)
        if app_role is not None:
            await roles.ensure_app_role(conn, app_role)
            await roles.grant_app_role(conn, app_role)
    return applied


async def reachable(dsn: str) -> bool:
    """Whether a new connection to ``dsn`` opens and answers within CONNECT_TIMEOUT (a pool can wait
    on a dead server in ways its own timeouts do not cover; a fresh connection tells the truth)."""
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    try:
        await asyncio.wait_for(conn.fetchval("SELECT 1"), CONNECT_TIMEOUT)
        return True
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return False
    finally:
        conn.terminate()


async def ping(conn: Executor) -> None:
    """Raises when the database does not answer."""
    await conn.fetchval("SELECT 1")


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[Conn]:
    async with pool.acquire() as conn, conn.transaction():
        yield conn


@asynccontextmanager
async def atomic(executor: Executor) -> AsyncIterator[Conn]:
    """A transaction on whatever runs queries: a pool's connection for its duration, or a transaction
    (a savepoint inside one already open) on a connection."""
    if isinstance(executor, asyncpg.Pool):
        async with executor.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with executor.transaction():
            yield executor

"""The application role: what the service's own connections may do (docs/SECURITY.md §7.2).

Migrations run as the schema's owner; the web workers' and the CLI's pools connect as ``verify_app``
(on the embedded cluster; an external ``VERIFY_DATABASE_URL`` is used as given). After every
migration run ``grant_app_role`` makes the role's privileges exactly these, whatever they were:

- every table: SELECT, INSERT, UPDATE; every sequence: USAGE, SELECT (nextval, not setval);
- DELETE only on the tables in ``DELETABLE_TABLES``;
- ``audit_log``: SELECT and INSERT only (rule 60; the table's triggers refuse the rest to everyone);
- ``schema_migrations``: SELECT only (the app sees which migrations ran; only the owner records one).

No TRUNCATE, REFERENCES or TRIGGER anywhere, and no CREATE on the schema: the role cannot change
the schema, disable a trigger or replace a function.
"""

from __future__ import annotations

import re

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from verify.domain.errors import ConfigError

APP_ROLE = "verify_app"

# The tables the application deletes rows from, and nothing else. A new DELETE in verify/db needs
# its table here, or it fails with "permission denied" as verify_app (the tests run as it).
DELETABLE_TABLES: tuple[str, ...] = (
    "lookup_throttle",  # verify/db/throttle.py: quiet targets and expired windows are dropped
)
# Appended to, never changed (their triggers refuse UPDATE, DELETE and TRUNCATE to everyone too).
APPEND_ONLY_TABLES: tuple[str, ...] = ("audit_log",)
READ_ONLY_TABLES: tuple[str, ...] = ("schema_migrations",)

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

Conn = asyncpg.Connection | PoolConnectionProxy


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _checked(role: str) -> str:
    if not _ROLE_NAME.fullmatch(role):
        raise ConfigError(f"角色名无效：{role!r}", f"invalid role name: {role!r}")
    return role


async def ensure_app_role(conn: Conn, role: str = APP_ROLE) -> None:
    """Create ``role`` (LOGIN, no other attribute) unless it exists. Roles belong to the cluster, and
    several databases may start at once: a concurrent creation counts as done. Raises ConfigError
    when an existing role of that name is a superuser or bypasses row security (no grant would bind
    it), or when the connected role may not create roles."""
    name = _checked(role)
    try:
        await conn.execute(
            "DO $$ BEGIN"
            f" IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN"
            f"  CREATE ROLE {_ident(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;"
            " END IF;"
            " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;"
            " END $$"
        )
    except asyncpg.InsufficientPrivilegeError:
        raise ConfigError(
            f"无权创建数据库角色 {name}：请由管理员创建（docs/SECURITY.md §7.2）",
            f"not allowed to create the database role {name}: have an administrator create it "
            "(docs/SECURITY.md §7.2)",
        ) from None
    row = await conn.fetchrow("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", name)
    if row is not None and (row["rolsuper"] or row["rolbypassrls"]):
        raise ConfigError(
            f"数据库角色 {name} 是超级用户或可绕过行级安全，授权对它无效",
            f"the database role {name} is a superuser or bypasses row security; no grant binds it",
        )


async def grant_app_role(conn: Conn, role: str = APP_ROLE) -> None:
    """Make ``role``'s privileges on the current database and schema exactly those of the module
    docstring (revoke everything, grant back; one transaction, so no moment without them). Run by
    the schema's owner. Raises ConfigError when the role does not exist or the grants are refused."""
    name = _ident(_checked(role))
    try:
        schema = _ident(await conn.fetchval("SELECT current_schema()"))
        database = _ident(await conn.fetchval("SELECT current_database()"))
        present = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_class c WHERE c.relnamespace = to_regnamespace(current_schema())"
                " AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = ANY($1::text[])",
                [*DELETABLE_TABLES, *APPEND_ONLY_TABLES, *READ_ONLY_TABLES],
            )
        }
        statements = [
            f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {name}",
            f"GRANT USAGE ON SCHEMA {schema} TO {name}",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {name}",
            f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {name}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {name}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {name}",
        ]
        statements += [
            f"GRANT DELETE ON {schema}.{_ident(t)} TO {name}" for t in DELETABLE_TABLES if t in present
        ]
        statements += [
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.{_ident(t)} FROM {name}"
            for t in APPEND_ONLY_TABLES
            if t in present
        ]
        statements += [
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.{_ident(t)} FROM {name}"
            for t in READ_ONLY_TABLES
            if t in present
        ]
        for statement in statements:
            await conn.execute(statement)
    except (asyncpg.UndefinedObjectError, asyncpg.InsufficientPrivilegeError) as exc:
        raise ConfigError(
            f"无法为数据库角色 {role} 授权（{type(exc).__name__}）：角色须已存在，且须以表的所有者运行",
            f"cannot grant the database role {role} its privileges ({type(exc).__name__}): the role must "
            "exist and this must run as the tables' owner",
        ) from None

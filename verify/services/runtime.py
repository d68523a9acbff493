"""Wiring a process: settings -> database (embedded or external) -> pool -> Registry.

Shared by the CLI and the ASGI entry point so both open the database the same way.
"""

from __future__ import annotations

from pathlib import Path

from verify.config import Settings
from verify.crypto.idkeys import IdKeys, load_or_create_id_keys
from verify.crypto.idprotect import IdProtector
from verify.db.cluster import EmbeddedCluster
from verify.db.pool import Executor, create_pool, migrate
from verify.services.keyring import Keyring
from verify.services.registry import Registry

DATABASE = "verify"


def embedded_cluster(settings: Settings) -> EmbeddedCluster:
    return EmbeddedCluster(settings.pg_root, port=settings.pg_port)


def database_dsn(settings: Settings, database: str = DATABASE) -> str:
    """The DSN to use, without starting anything."""
    if settings.database_url:
        return settings.database_url
    return embedded_cluster(settings).dsn(database)


def ensure_database(settings: Settings, database: str = DATABASE) -> tuple[str, bool]:
    """Start the embedded cluster if needed and create the database; returns (dsn, first_run).

    With VERIFY_DATABASE_URL set nothing is started. Raises ConfigError / Unavailable.
    """
    if settings.database_url:
        return settings.database_url, False
    cluster = embedded_cluster(settings)
    first = cluster.ensure_running()
    cluster.ensure_database(database)
    return cluster.dsn(database), first


def id_keys(settings: Settings) -> tuple[IdKeys, bool]:
    """The ID blind-index and encryption keys (from the environment, or the key file, created once)."""
    return load_or_create_id_keys(
        settings.id_keys_file, index_key=settings.id_index_key, enc_key=settings.id_enc_key
    )


async def open_registry(settings: Settings, *, dsn: str | None = None, max_size: int = 10) -> Registry:
    """Open a pool, apply pending migrations and build the Registry. Raises Unavailable, ConfigError."""
    keys, _ = id_keys(settings)
    pool = await create_pool(dsn or database_dsn(settings), max_size=max_size)
    try:
        await migrate(pool)
    except BaseException:
        await pool.close()
        raise
    return Registry(
        pool,
        IdProtector(keys.index_key, keys.enc_key),
        id_keys=keys,
        dsn=dsn or database_dsn(settings),
        throttle=settings.throttle,
    )


# How the read replica's connections show in pg_stat_activity (and in the tests).
REPLICA_APPLICATION = "verify-lookup-replica"


async def open_read_pool(registry: Registry, settings: Settings, *, max_size: int = 10) -> None:
    """With VERIFY_DATABASE_REPLICA_URL set, point the registry's lookup reads at a read-only pool on
    that replica (``Registry.read_pool``); without it, do nothing. Connects lazily (``min_size=0``), so
    a replica that is down never stops the app from starting: lookups then read the primary
    (DECISIONS D28). Never used for the status view, the throttle or any write."""
    if settings.database_replica_url:
        registry.read_pool = await create_pool(
            settings.database_replica_url, min_size=0, max_size=max_size, read_only=True,
            application_name=REPLICA_APPLICATION,
        )  # fmt: skip


def keyring(settings: Settings, pool: Executor) -> Keyring:
    return Keyring(pool, settings.signing_keys_dir, settings.public_keys_dir)


def dev_passphrase_file(settings: Settings) -> Path:
    return settings.home / "secrets" / "dev-signing-passphrase"


async def migrate_database(settings: Settings) -> list[str]:
    """Start the database if needed and apply pending migrations; returns the names applied."""
    dsn, _ = ensure_database(settings)
    pool = await create_pool(dsn, max_size=1)
    try:
        return await migrate(pool)
    finally:
        await pool.close()

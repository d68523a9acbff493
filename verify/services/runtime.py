"""Wiring a process: settings -> database (embedded or external) -> pool -> Registry.

Shared by the CLI and the ASGI entry point so both open the database the same way.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from verify.config import Settings
from verify.crypto.idkeys import IdKeys, load_or_create_id_keys
from verify.crypto.idprotect import IdProtector
from verify.crypto.receipt_keys import generate_receipt_key, load_receipt_key
from verify.crypto.receipts import ReceiptSigner
from verify.db import receipts as receipt_rows
from verify.db.cluster import EmbeddedCluster
from verify.db.pool import Executor, create_pool, migrate
from verify.db.roles import APP_ROLE
from verify.domain.errors import ConfigError
from verify.services.keyring import Keyring
from verify.services.registry import Registry

DATABASE = "verify"


def embedded_cluster(settings: Settings) -> EmbeddedCluster:
    return EmbeddedCluster(settings.pg_root, port=settings.pg_port)


def database_dsn(settings: Settings, database: str = DATABASE) -> str:
    """The DSN the app's pools use, without starting anything: VERIFY_DATABASE_URL as given, else the
    embedded cluster's socket as the application role ``verify_app`` (docs/SECURITY.md §7.2)."""
    if settings.database_url:
        return settings.database_url
    return embedded_cluster(settings).dsn(database, user=APP_ROLE)


def migration_dsn(settings: Settings, database: str = DATABASE) -> str:
    """The DSN migrations run with: VERIFY_DATABASE_URL as given, else the embedded cluster's
    superuser, the schema's owner."""
    if settings.database_url:
        return settings.database_url
    return embedded_cluster(settings).dsn(database)


def app_role(settings: Settings) -> str | None:
    """The role every migration run creates when missing and grants (``verify.db.roles``):
    ``verify_app`` on the embedded cluster; none with VERIFY_DATABASE_URL, whose role is the
    operator's to set up (``verify db migrate --grant ROLE``, docs/SECURITY.md §7.2)."""
    return None if settings.database_url else APP_ROLE


async def _migrate(dsn: str, role: str | None) -> list[str]:
    # A pool of one, closed at once: the owner's connection is held only while migrating.
    pool = await create_pool(dsn, max_size=1)
    try:
        return await migrate(pool, app_role=role)
    finally:
        await pool.close()


def ensure_database(settings: Settings, database: str = DATABASE) -> tuple[str, bool]:
    """Start the embedded cluster if needed and create the database; returns (dsn, first_run).

    With VERIFY_DATABASE_URL set nothing is started. Raises ConfigError / Unavailable.
    """
    if settings.database_url:
        return settings.database_url, False
    cluster = embedded_cluster(settings)
    first = cluster.ensure_running()
    cluster.ensure_database(database)
    return database_dsn(settings, database), first


def id_keys(settings: Settings) -> tuple[IdKeys, bool]:
    """The ID blind-index and encryption keys (from the environment, or the key file, created once)."""
    return load_or_create_id_keys(
        settings.id_keys_file, index_key=settings.id_index_key, enc_key=settings.id_enc_key
    )


async def open_registry(
    settings: Settings, *, dsn: str | None = None, owner_dsn: str | None = None, max_size: int = 10
) -> Registry:
    """Apply pending migrations (and the app role's grants) as the owner (``owner_dsn``, default
    ``migration_dsn``), then open the app's pool (``dsn``, default ``database_dsn``) and build the
    Registry. Raises Unavailable, ConfigError."""
    keys, _ = id_keys(settings)
    await _migrate(owner_dsn or migration_dsn(settings), app_role(settings))
    pool = await create_pool(dsn or database_dsn(settings), max_size=max_size)
    receipt_signer = receipt_key(settings)
    await receipt_rows.register_key(pool, receipt_signer.kid, receipt_signer.public_key)
    return Registry(
        pool,
        IdProtector(keys.index_key, keys.enc_key),
        id_keys=keys,
        dsn=dsn or database_dsn(settings),
        throttle=settings.throttle,
        login_throttle=settings.login_throttle,
        session_lifetime=timedelta(hours=settings.session_hours),
        session_idle=timedelta(minutes=settings.session_idle_minutes),
        token_lifetime=timedelta(days=settings.token_days),
        receipt_signer=receipt_signer,
        batch_rows_per_day=settings.batch_rows_per_day,
    )


def receipt_key(settings: Settings) -> ReceiptSigner:
    """The receipt signing key, created at ``settings.receipt_key_file`` the first time. Raises
    ConfigError (unreadable or not an Ed25519 key). ``VERIFY_RECEIPT_KEY`` overrides the file."""
    if settings.receipt_key is not None:
        return ReceiptSigner.from_seed(settings.receipt_key)
    path = settings.receipt_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            return generate_receipt_key(path)
        except ConfigError:
            if not path.exists():  # another worker did not win the race: a real failure
                raise
    return load_receipt_key(path)


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


def keyring(settings: Settings, pool: Executor, *, actor: str = "system", role: str | None = None) -> Keyring:
    """The signing keys; key changes are audited as ``actor`` in ``role``."""
    return Keyring(pool, settings.signing_keys_dir, settings.public_keys_dir, actor=actor, role=role)


def dev_passphrase_file(settings: Settings) -> Path:
    return settings.home / "secrets" / "dev-signing-passphrase"


async def migrate_database(settings: Settings, *, grant: str | None = None) -> list[str]:
    """Start the database if needed and apply pending migrations as the owner; returns the names
    applied. ``grant`` names the role to create if missing and grant (default ``app_role``)."""
    ensure_database(settings)
    return await _migrate(migration_dsn(settings), grant or app_role(settings))

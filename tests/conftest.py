"""Shared fixtures. Tests talk to the real embedded PostgreSQL cluster the app uses (var/pg),
in a database of their own (verify_test) created fresh for each session. Never a mock."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from verify.config import Settings
from verify.crypto import signing
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.crypto.receipts import ReceiptSigner
from verify.db import institutions
from verify.db import pool as db_pool
from verify.db import receipts as receipt_rows
from verify.db.cluster import EmbeddedCluster
from verify.db.roles import APP_ROLE
from verify.domain.institution import Scope
from verify.http.app import create_app
from verify.services.checkers import shutdown_checkers
from verify.services.keyring import Keyring
from verify.services.registry import Registry
from verify.services.status_view import StatusView

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 25)
# One database per test session, so two runs on one machine never share data.
TEST_DB = f"verify_test_{os.getpid()}"
INDEX_KEY = bytes(range(32))
# The test registry's receipt key (batch verification, docs/RECEIPT-FORMAT.md).
RECEIPT_SEED = bytes(range(64, 96))
ENC_KEY = bytes(range(32, 64))
PASSPHRASE = b"test-only passphrase, never used for real keys"


@pytest.fixture(scope="session")
def settings() -> Settings:
    env = {
        "VERIFY_HOME": str(ROOT / "var"),
        "VERIFY_ID_INDEX_KEY": INDEX_KEY.hex(),
        "VERIFY_ID_ENC_KEY": ENC_KEY.hex(),
        "VERIFY_LOOKUP_PER_MINUTE": "1000",
        # Load shedding by event-loop lag would refuse requests of a suite that blocks its own loop
        # (imports, key generation) on a shared machine; tests/http/test_shedding.py sets its own.
        "VERIFY_MAX_LAG_MS": "0",
    }
    if os.environ.get("VERIFY_DATABASE_URL"):
        env["VERIFY_DATABASE_URL"] = os.environ["VERIFY_DATABASE_URL"]
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def cluster(settings: Settings) -> EmbeddedCluster:
    # VERIFY_TEST_PG_BIN runs the suite on other PostgreSQL binaries (e.g. /usr/lib/postgresql/15/bin,
    # `make test-pg15`): the SQL must run unchanged on PostgreSQL 15 to 18.
    other = os.environ.get("VERIFY_TEST_PG_BIN")
    if other:
        c = EmbeddedCluster(settings.home / f"pg-test-{Path(other).parent.name}", bin_dir=Path(other))
    else:
        c = EmbeddedCluster(settings.pg_root, port=settings.pg_port)
    c.ensure_running()
    return c


@pytest.fixture(scope="session")
def test_dsn(cluster: EmbeddedCluster) -> Iterator[str]:
    admin_dsn = cluster.dsn("postgres")

    async def recreate() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {TEST_DB}")
        finally:
            await conn.close()

    import asyncio

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)")
        finally:
            await conn.close()

    asyncio.run(recreate())
    yield cluster.dsn(TEST_DB)
    asyncio.run(drop())


@pytest.fixture(scope="session")
def protector() -> IdProtector:
    return IdProtector(INDEX_KEY, ENC_KEY)


@pytest.fixture(scope="session")
async def pool(test_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db_pool.create_pool(test_dsn, max_size=6)
    await db_pool.migrate(p)
    yield p
    await p.close()
    shutdown_checkers()


@pytest.fixture(scope="session")
def app_dsn(cluster: EmbeddedCluster, test_dsn: str) -> str:
    """The session database as the application role, as the service's own pools reach it."""
    return cluster.dsn(TEST_DB, user=APP_ROLE)


@pytest.fixture(scope="session")
async def app_pool(pool: asyncpg.Pool, app_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool as ``verify_app`` (created and granted by the ``pool`` fixture's migration), to prove
    the app works without owner rights and that the grants refuse what they should."""
    p = await db_pool.create_pool(app_dsn, max_size=4)
    yield p
    await p.close()


@pytest.fixture(scope="session")
async def registry(pool: asyncpg.Pool, protector: IdProtector, test_dsn: str, settings: Settings) -> Registry:
    receipts = ReceiptSigner.from_seed(RECEIPT_SEED)
    await receipt_rows.register_key(pool, receipts.kid, receipts.public_key)
    return Registry(
        pool, protector, id_keys=IdKeys(INDEX_KEY, ENC_KEY), today=lambda: TODAY, dsn=test_dsn,
        throttle=settings.throttle, receipt_signer=receipts,
    )  # fmt: skip


@pytest.fixture(scope="session")
async def keyring(pool: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    base = tmp_path_factory.mktemp("keys")
    return Keyring(pool, base / "private", base / "public")


@pytest.fixture(scope="session")
async def signer(keyring: Keyring) -> signing.Signer:
    """The session's signing key (test-only passphrase), active in the test database."""
    await keyring.generate(PASSPHRASE, note="test key")
    return await keyring.signer(PASSPHRASE)


@pytest.fixture(scope="session")
async def status_view(pool: asyncpg.Pool, test_dsn: str, signer: signing.Signer) -> AsyncIterator[StatusView]:
    view = StatusView(test_dsn, pool, max_age=120)
    await view.start()
    yield view
    await view.stop()


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[db_pool.Conn]:
    """One connection inside a transaction that is rolled back after the test."""
    async with pool.acquire() as c:
        tx = c.transaction()
        await tx.start()
        try:
            yield c
        finally:
            await tx.rollback()


_ISSUED_CODES: set[str] = set()


def unique_henan_code(letter: str = "S", city: str = "01", first: str = "") -> str:
    """A fresh 13-character institution key so tests never collide in the session database.

    Position 10 is 1-5 unless a test names it (6-8 are left to the tests that do): clear of the demo
    institutions (all 0 or 9 there). A code is never handed out twice in one process; across the
    xdist workers 5,000 codes per city make a collision unlikely (1,000 made one a flaky failure)."""
    while True:
        digit = first or "12345"[secrets.randbelow(5)]
        code = f"{letter}000041{city}{digit}{secrets.randbelow(1000):03d}"
        if code not in _ISSUED_CODES:
            _ISSUED_CODES.add(code)
            return code


InstitutionFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_institution(pool: asyncpg.Pool) -> InstitutionFactory:
    """Create an institution (unique code) with scope rows; returns its fields plus id."""

    async def factory(
        *,
        code: str | None = None,
        kind: str = "social",
        status: str = "active",
        scopes: list[Scope] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        taken = await institutions.all_institution_codes(
            pool
        )  # retired codes too: the 废置库 never reissues them
        for _ in range(50):
            candidate = code or unique_henan_code("S" if kind == "social" else "Y")
            if candidate not in taken:
                break
        else:  # pragma: no cover - 1000 codes per city, tests create far fewer
            raise RuntimeError("no free institution code")
        record: dict[str, Any] = {
            "code": candidate,
            "kind": kind,
            "name": f"测试评价机构 {candidate}",
            "filing_authority": "city",
            "province_code": candidate[5:7] if len(candidate) == 13 else "41",
            "city_code": candidate[7:9] if len(candidate) == 13 and candidate[5:7] == "41" else None,
            "status": status,
            "status_since": date(2020, 1, 1),
            "filing_date": date(2020, 1, 1),
            **fields,
        }
        iid = await institutions.insert_institution(pool, record)
        rows = scopes if scopes is not None else default_scopes()
        await institutions.add_scopes(pool, iid, rows)
        return {**record, "id": iid}

    return factory


def default_scopes(since: date = date(2020, 1, 1)) -> list[Scope]:
    """The §6.1 seed scope: 车工 level 5 without 工种, levels 4-1 by 工种; 钳工 all levels."""
    rows = [Scope("6-18-01-01", "车工", "--", 5, since)]
    rows += [
        Scope("6-18-01-01", "车工", job, level, since)
        for job in ("普通车床", "数控车床")
        for level in (4, 3, 2, 1)
    ]
    rows += [Scope("6-20-01-01", "钳工", "--", level, since) for level in range(1, 6)]
    return rows


@pytest.fixture
async def client(
    settings: Settings, registry: Registry, status_view: StatusView
) -> AsyncIterator[httpx.AsyncClient]:
    async def factory() -> Registry:  # pragma: no cover - the lifespan is not run under ASGITransport
        return registry

    # The throttle's counters are shared through the database: each test starts with fresh budgets.
    await registry.pool.execute("DELETE FROM lookup_throttle")
    app = create_app(settings, registry_factory=factory)
    app.state.registry = registry
    app.state.status_view = status_view
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c

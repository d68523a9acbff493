"""Rule 75: public verification does not wait for the write path.

A QR is verified from the worker's in-memory status view (``verify.services.status_view``) with no
database query at all: it answers while every table is locked and every pooled connection is
taken. Lookups do read the database, but as plain MVCC reads, which no upload, review or
publication in progress (row locks, ROW EXCLUSIVE table locks) makes wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg.pool import PoolConnectionProxy

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.domain.events import CertificateEvent
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1 << 20
# An answer from memory takes a few milliseconds; one that waited on the database would wait for
# as long as the lock is held, i.e. until this test's timeout.
PROMPT = 0.5


async def _published(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> tuple[list[Row], list[str], str]:
    """Two published certificates, the second revoked: their rows, QR paths and batch id."""
    inst = await make_institution()
    rows = [Row(inst["code"], serial=1), Row(inst["code"], serial=2)]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "r75.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer)
    await registry.certificate_event(
        CertificateEvent(number_of(rows[1]), "revoked", date(2026, 1, 2), "data_error", "第八条（测试）", "测试中心"),
        actor="t",
    )  # fmt: skip
    paths = []
    for row in rows:
        data = await signatures.qr_payload(pool, number_of(row))
        assert data is not None
        paths.append(payload.to_text(data))
    return rows, paths, result.batch_id


@contextlib.asynccontextmanager
async def _all_connections(pool: asyncpg.Pool) -> AsyncIterator[list[PoolConnectionProxy]]:
    """Every connection the pool can give, held until the block ends."""
    held: list[PoolConnectionProxy] = []
    try:
        for _ in range(pool.get_max_size()):
            held.append(await asyncio.wait_for(pool.acquire(), timeout=10))
        yield held
    finally:
        for conn in held:
            await pool.release(conn)


@contextlib.asynccontextmanager
async def _every_table_locked(conn: PoolConnectionProxy, tables: list[str]) -> AsyncIterator[None]:
    """Hold ACCESS EXCLUSIVE locks on ``tables`` until the block ends. LOCK TABLE takes them one by
    one, so a reader elsewhere in the suite (a status view reloading) that holds one table while it
    waits for the next is a deadlock, which PostgreSQL breaks by failing the LOCK: it is tried
    again once that reader is through (a fresh-machine run failed once on this, 2026-12-06)."""
    for attempt in range(5):
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        except asyncpg.DeadlockDetectedError:
            await tx.rollback()
            if attempt == 4:
                raise
            await asyncio.sleep(0.2)
            continue
        try:
            yield
        finally:
            await tx.rollback()
        return


async def _timed(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    async with asyncio.timeout(5):
        response = await client.request(method, url, **kwargs)
    return response, time.monotonic() - start


async def test_rule_75_qr_verification_needs_no_database_query(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, status_view: StatusView,
    make_institution: InstitutionFactory, signer: Signer, test_dsn: str,
) -> None:  # fmt: skip
    _, (valid, revoked), _ = await _published(registry, pool, make_institution, signer)
    await status_view.refresh()  # loaded: the revocation is in the view
    assert registry.read_pool is pool
    probe = await asyncpg.connect(test_dsn)
    try:
        async with _all_connections(pool) as held:
            locker = held[0]
            tables = [r["tablename"] for r in await locker.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]  # fmt: skip
            async with _every_table_locked(locker, tables):
                # The lock bites: any read of the registry now waits (here: gives up at once).
                await probe.execute("SET lock_timeout = '50ms'")
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await probe.fetchval("SELECT count(*) FROM certificates")
                for path, outcome in ((valid, "valid"), (revoked, "revoked")):
                    for url in (f"/api/v1/verify/{path}", f"/C/{path}.json"):
                        r, took = await _timed(client, "GET", url)
                        assert r.status_code == 200 and r.json()["outcome"] == outcome, (url, r.text[:200])
                        assert r.json()["checks"] == {"format": "ok", "signature": "ok", "status": "ok"}
                        assert took < PROMPT, (url, took)
    finally:
        await probe.close()


async def test_rule_75_lookups_do_not_wait_for_uploads_or_publication_in_progress(
    client: httpx.AsyncClient, registry: Registry, pool: asyncpg.Pool, status_view: StatusView,
    make_institution: InstitutionFactory, signer: Signer, test_dsn: str,
) -> None:  # fmt: skip
    rows, (valid, _), batch_id = await _published(registry, pool, make_institution, signer)
    writer = await asyncpg.connect(test_dsn)
    tx = writer.transaction()
    await tx.start()
    try:
        # What an import, a review, a publication or a revocation holds until it commits.
        await writer.execute(
            "LOCK TABLE certificates, batches, certificate_signatures, certificate_events, batch_roster,"
            " audit_log IN ROW EXCLUSIVE MODE"
        )
        await writer.execute("SELECT 1 FROM batches WHERE public_id = $1 FOR UPDATE", batch_id)
        await writer.execute("UPDATE certificates SET status = status WHERE number = $1", number_of(rows[0]))
        r, took = await _timed(
            client, "POST", "/api/v1/lookup", json={"number": number_of(rows[0]), "name": rows[0].name}
        )
        assert r.status_code == 200 and r.json()["certificates"][0]["status"] == "valid"
        assert took < PROMPT, took
        r, took = await _timed(client, "GET", f"/api/v1/verify/{valid}")
        assert r.json()["outcome"] == "valid" and took < PROMPT
    finally:
        await tx.rollback()
        await writer.close()

"""The status view's background refresh reloads the non-active certificates only when a certificate
event was recorded since the last reload (at 100,000 revoked certificates a reload held each worker's
event loop ~0.1 s every 30 s; docs/BENCHMARKS.md, scale), and never misses one."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from tests.conftest import TODAY
from verify.crypto.idprotect import IdProtector
from verify.db import certificates, status
from verify.db import pool as db_pool
from verify.domain.events import CertificateEvent
from verify.services import seed
from verify.services.registry import Registry
from verify.services.status_view import StatusView


async def test_background_refresh_reloads_certificates_only_after_an_event(
    pool: asyncpg.Pool, protector: IdProtector, registry: Registry, test_dsn: str
) -> None:
    tag = f"viewtest{secrets.token_hex(3)}"
    await seed.seed(pool, protector, institutions=1, certificates=3, today=TODAY, rng_seed=7, tag=tag)
    number = (await certificates.certificates_submitted_by(pool, tag))[0]["number"]
    view = StatusView(test_dsn, pool)
    await view.refresh()
    first = view.snapshot
    assert first is not None and number not in first.certificates

    await view.refresh(only_changed=True)  # nothing happened: the same map, a newer as_of
    second = view.snapshot
    assert second is not None and second.certificates is first.certificates
    assert second.as_of >= first.as_of

    await registry.certificate_event(
        CertificateEvent(number, "revoked", TODAY, "data_error", "test", "test body"), actor="test"
    )
    await view.refresh(only_changed=True)
    third = view.snapshot
    assert third is not None and third.certificates[number].status == "revoked"

    view.full_interval = 0  # the backstop: a full reload however quiet the registry is
    await view.refresh(only_changed=True)
    fourth = view.snapshot
    assert fourth is not None and fourth.certificates is not third.certificates
    assert fourth.certificates[number].status == "revoked"


async def test_a_full_reload_reads_every_exception_whatever_the_chunk_size(
    pool: asyncpg.Pool, protector: IdProtector, registry: Registry
) -> None:
    tag = f"viewchunk{secrets.token_hex(3)}"
    await seed.seed(pool, protector, institutions=1, certificates=7, today=TODAY, rng_seed=11, tag=tag)
    numbers = [r["number"] for r in await certificates.certificates_submitted_by(pool, tag)]
    for number in numbers[:5]:
        await registry.certificate_event(
            CertificateEvent(number, "revoked", TODAY, "data_error", "test", "test body"), actor="test"
        )
    async with pool.acquire() as conn:
        whole = await status.status_snapshot_rows(conn, chunk=1_000_000)
        chunked = await status.status_snapshot_rows(conn, chunk=2)
    assert chunked == whole
    events, exceptions, _, _ = chunked
    assert set(numbers[:5]) <= exceptions.keys() and not set(numbers[5:]) & exceptions.keys()
    assert all(exceptions[n].status == "revoked" for n in numbers[:5])
    async with pool.acquire() as conn:
        assert events == await status.certificate_events_count(conn)


async def test_reloads_are_serialised_so_the_view_never_goes_back_in_time(
    pool: asyncpg.Pool, protector: IdProtector, registry: Registry, test_dsn: str
) -> None:
    """A background reload that read the registry before a revocation must not finish after a later
    reload and put the older snapshot back (the full suite once saw a revoked QR answer 'valid' that
    way). The first reload is held inside the database by a lock; the second must wait for it
    outside the database, not run beside it."""
    tag = f"viewserial{secrets.token_hex(3)}"
    await seed.seed(pool, protector, institutions=1, certificates=2, today=TODAY, rng_seed=13, tag=tag)
    number = (await certificates.certificates_submitted_by(pool, tag))[0]["number"]
    # A pool of the view's own, named, so other workers' reloads in the suite are not counted.
    own = await db_pool.create_pool(test_dsn, max_size=3, application_name="viewserial")
    view = StatusView(test_dsn, own)
    await view.refresh()
    locker = await asyncpg.connect(test_dsn)
    probe = await asyncpg.connect(test_dsn)  # outside the locker's transaction, whose stats view is frozen
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'viewserial'"
        " AND wait_event_type = 'Lock'"
    )
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute("LOCK TABLE signing_keys IN ACCESS EXCLUSIVE MODE")
        first = asyncio.create_task(view.refresh(only_changed=True))
        async with asyncio.timeout(10):
            while await probe.fetchval(waiting) < 1:  # noqa: ASYNC110 - polls the server; no event signals
                await asyncio.sleep(0.01)
        await registry.certificate_event(
            CertificateEvent(number, "revoked", TODAY, "data_error", "test", "test body"), actor="test"
        )
        second = asyncio.create_task(view.refresh())
        await asyncio.sleep(0.3)
        assert await probe.fetchval(waiting) == 1  # the second reload has not reached the database
        await tx.rollback()
        async with asyncio.timeout(10):
            await asyncio.gather(first, second)
    finally:
        await locker.close()
        await probe.close()
        await own.close()
    snapshot = view.snapshot
    assert snapshot is not None and snapshot.certificates[number].status == "revoked"

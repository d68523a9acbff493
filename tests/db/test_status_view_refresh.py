"""The status view's background refresh reloads the non-active certificates only when a certificate
event was recorded since the last reload (at 100,000 revoked certificates a reload held each worker's
event loop ~0.1 s every 30 s; docs/BENCHMARKS.md, scale), and never misses one."""

from __future__ import annotations

import secrets

import asyncpg

from tests.conftest import TODAY
from verify.crypto.idprotect import IdProtector
from verify.db import certificates, status
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

"""A revocation committed in the database is reflected by every web worker within 1 second
(LISTEN/NOTIFY into each worker's in-memory status view). Runs the real server, two workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import pytest

from loadtests.local import free_port, stop
from tests.conftest import ENC_KEY, INDEX_KEY, PASSPHRASE, RECEIPT_SEED, InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import institution_token, publish_batch
from verify.crypto.signing import Signer
from verify.db import signatures
from verify.domain import payload
from verify.domain.events import CertificateEvent
from verify.services.keyring import Keyring
from verify.services.registry import Registry

pytestmark = pytest.mark.slow


@pytest.fixture
async def server(test_dsn: str, keyring: Keyring, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "VERIFY_DATABASE_URL": test_dsn,
        "VERIFY_HOME": str(tmp_path),
        "VERIFY_ID_INDEX_KEY": INDEX_KEY.hex(),
        "VERIFY_RECEIPT_KEY": RECEIPT_SEED.hex(),
        "VERIFY_ID_ENC_KEY": ENC_KEY.hex(),
        "VERIFY_SIGNING_KEYS_DIR": str(keyring.private_dir),
        "VERIFY_KEY_PASSPHRASE": PASSPHRASE.decode(),
        "VERIFY_LOG_LEVEL": "warning",
        # Lets the throttle tests speak from many addresses (X-Forwarded-For) to the real server.
        "VERIFY_TRUST_PROXY": "1",
    }
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once; the server runs beside the test
        [sys.executable, "-m", "verify", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as c:
            while len(seen) < 2:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "two workers did not come up"
                try:
                    r = await c.get(f"{base}/healthz", timeout=2)
                    seen.add(r.json()["status_view"]["worker"])
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
        yield base
    finally:
        stop(proc)
        log.close()


async def test_revocation_reaches_every_worker_within_one_second(
    server: str, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    result = await registry.import_batch(
        inst["code"], csv_bytes([row]), "w.csv", actor="t", max_bytes=1 << 20
    )
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    data = await signatures.qr_payload(pool, number_of(row))
    assert data is not None
    path = f"/api/v1/verify/{payload.to_text(data)}"
    async with _client_per_worker(server) as clients:
        for c in clients.values():  # warm each worker's verification path (and any cache on it)
            assert (await c.get(path)).json()["outcome"] == "valid"
        await registry.certificate_event(
            CertificateEvent(
                number_of(row),
                "revoked",
                effective=date(2026, 11, 25),
                reason_category="fraud",
                reason="测试",
                decided_by="鉴定中心",
            ),
            actor="t",
        )
        # Timed from after the commit returned, so each figure is at most the real delay. Each
        # worker is asked over its own kept-alive connection: which worker a new connection reaches
        # is the kernel's choice, and one worker can take every new connection for seconds.
        committed = time.monotonic()
        late: dict[int, float] = {}
        while len(late) < 2 and time.monotonic() - committed < 10.0:
            for pid, c in clients.items():
                if pid not in late and (await c.get(path)).json()["outcome"] == "revoked":
                    late[pid] = time.monotonic() - committed
            await asyncio.sleep(0.02)
        assert len(late) == 2, f"workers answering revoked within 10 s: {late}"
        assert max(late.values()) <= 1.0, f"seconds from the commit to each worker's revoked: {late}"
        for pid, c in clients.items():  # and it stays so on that worker
            assert (await c.get("/healthz")).json()["status_view"]["worker"] == pid
            assert {(await c.get(path)).json()["outcome"] for _ in range(10)} == {"revoked"}


@contextlib.asynccontextmanager
async def _client_per_worker(server: str) -> AsyncIterator[dict[int, httpx.AsyncClient]]:
    """One client per worker, each on one kept-alive connection, so that it talks to that worker only."""
    clients: dict[int, httpx.AsyncClient] = {}
    deadline = time.monotonic() + 30
    try:
        while len(clients) < 2:
            assert time.monotonic() < deadline, "could not reach both workers"
            c = httpx.AsyncClient(base_url=server, limits=httpx.Limits(max_connections=1))
            pid = (await c.get("/healthz")).json()["status_view"]["worker"]
            if pid in clients:
                await c.aclose()
                continue
            clients[pid] = c
        yield clients
    finally:
        for c in clients.values():
            await c.aclose()


# ---------------------------------------------------------------- the throttle across workers (rule 57)


async def _workers_seen(c: httpx.AsyncClient, base: str) -> set[int]:
    """The workers answering new connections (the kernel picks one per connection: ask until both)."""
    seen: set[int] = set()
    for _ in range(200):
        seen.add((await c.get(f"{base}/healthz")).json()["status_view"]["worker"])
        if len(seen) == 2:
            break
    return seen


async def test_rule_57_address_budget_is_shared_by_the_workers(server: str) -> None:
    # Ten lookups a minute per address (the default) in total, not ten per worker: with per-worker
    # counters two workers let twenty through.
    if time.time() % 60 > 50:  # the window is a fixed minute: start in a fresh one
        await asyncio.sleep(60.5 - time.time() % 60)
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as c:
        assert len(await _workers_seen(c, server)) == 2
        statuses = []
        for i in range(24):
            r = await c.post(
                f"{server}/api/v1/lookup",
                json={"number": f"Y0000410100122249{i:05d}", "name": "张三"},
                headers={"x-forwarded-for": "198.51.100.7"},
            )
            statuses.append(r.status_code)
        other = await c.post(
            f"{server}/api/v1/lookup",
            json={"number": "Y000041010012224900099", "name": "张三"},
            headers={"x-forwarded-for": "198.51.100.8"},
        )
    assert statuses.count(429) == 14, statuses
    assert other.status_code != 429


async def test_rule_57_target_budget_is_shared_and_the_holder_gets_back_in(
    server: str, registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    row = Row(inst["code"], serial=7)
    result = await registry.import_batch(
        inst["code"], csv_bytes([row]), "t.csv", actor="t", max_bytes=1 << 20
    )
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    lookup = f"{server}/api/v1/lookup"
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as c:
        assert len(await _workers_seen(c, server)) == 2
        # Guessers spread over many addresses and both workers: five wrong names in all, then closed.
        wrong = [
            await c.post(lookup, json={"number": number_of(row), "name": f"李{i}"},
                         headers={"x-forwarded-for": f"203.0.113.{i}"})
            for i in range(10)
        ]  # fmt: skip
        assert [r.status_code for r in wrong] == [404] * 5 + [429] * 5
        assert 1 <= int(wrong[-1].headers["retry-after"]) <= 30
        # Closed means closed for everyone, or a guesser would learn when a guess is right ...
        holder = await c.post(lookup, json={"number": number_of(row), "name": row.name},
                              headers={"x-forwarded-for": "192.0.2.1"})  # fmt: skip
        assert holder.status_code == 429 and holder.json()["error"] == "rate_limited"
        # ... but only for the back-off (30 s here), not for a day: once it ends the holder gets in.
        await pool.execute("UPDATE lookup_throttle SET closed_until = now() WHERE closed_until > now()")
        holder = await c.post(lookup, json={"number": number_of(row), "name": row.name},
                              headers={"x-forwarded-for": "192.0.2.1"})  # fmt: skip
        assert holder.status_code == 200 and holder.json()["found"]
        # The right name cleared the count: the next wrong name is free again.
        again = await c.post(lookup, json={"number": number_of(row), "name": "李九"},
                             headers={"x-forwarded-for": "192.0.2.2"})  # fmt: skip
        assert again.status_code == 404


async def test_rule_59_a_disabled_account_is_refused_by_every_worker_on_its_next_request(
    server: str, registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    token = await institution_token(registry, inst["code"])
    auth = {"authorization": f"Bearer {token}"}
    async with _client_per_worker(server) as clients:
        for c in clients.values():
            assert (await c.get("/api/v1/me", headers=auth)).status_code == 200
        login = (await next(iter(clients.values())).get("/api/v1/me", headers=auth)).json()["login"]
        await registry.disable_account(login, reason="离职（测试）", by=None, actor="test")
        for pid, c in clients.items():
            refused = await c.get("/api/v1/me", headers=auth)
            assert (await c.get("/healthz")).json()["status_view"]["worker"] == pid  # still that worker
            assert refused.status_code == 401 and refused.json()["error"] == "credentials_revoked", pid

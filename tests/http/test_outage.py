"""The database goes away (issue: clean answers while the database is away).

Every route that needs PostgreSQL answers 503 with Retry-After in the standard error shape (a
page for page requests) within a second; QR verification keeps answering from the status view;
when the database is back everything recovers without restarting the app.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

from tests.conftest import ENC_KEY, INDEX_KEY, PASSPHRASE, TODAY, default_scopes
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch
from verify.config import Settings
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.db import institutions, signatures
from verify.db import pool as db_pool
from verify.db.cluster import EmbeddedCluster
from verify.domain import payload
from verify.http.app import create_app
from verify.http.guard import SECURITY_HEADERS
from verify.services.keyring import Keyring
from verify.services.registry import Registry
from verify.services.status_view import StatusView

pytestmark = pytest.mark.slow


@dataclass
class Outage:
    cluster: EmbeddedCluster
    client: httpx.AsyncClient
    row: Row
    institution: str
    qr_path: str


@pytest.fixture
async def outage(settings: Settings) -> AsyncIterator[Outage]:
    base = Path(tempfile.mkdtemp(prefix="verify-outage-", dir="/tmp"))
    cluster = EmbeddedCluster(base / "pg")
    cluster.ensure_running()
    cluster.ensure_database("verify")
    dsn = cluster.dsn("verify")
    pool = await db_pool.create_pool(dsn, max_size=4)
    view: StatusView | None = None
    try:
        await db_pool.migrate(pool)
        registry = Registry(
            pool, IdProtector(INDEX_KEY, ENC_KEY), id_keys=IdKeys(INDEX_KEY, ENC_KEY),
            today=lambda: TODAY, dsn=dsn, throttle=settings.throttle,
        )  # fmt: skip
        code = "S000041010512"
        iid = await institutions.insert_institution(pool, {
            "code": code, "kind": "social", "name": "断库演练评价机构", "filing_authority": "city",
            "province_code": "41", "city_code": "01", "status": "active",
            "status_since": date(2020, 1, 1), "filing_date": date(2020, 1, 1),
        })  # fmt: skip
        await institutions.add_scopes(pool, iid, default_scopes())
        keyring = Keyring(pool, base / "private", base / "public")
        await keyring.generate(PASSPHRASE, note="outage drill")
        signer = await keyring.signer(PASSPHRASE)
        row = Row(code, serial=1)
        result = await registry.import_batch(code, csv_bytes([row]), "o.csv", actor="t", max_bytes=1 << 20)
        await publish_batch(registry, result.batch_id, signer=signer, actor="t")
        data = await signatures.qr_payload(pool, number_of(row))
        assert data is not None
        view = StatusView(dsn, pool, max_age=120)
        await view.start()

        async def factory() -> Registry:  # pragma: no cover - the lifespan is not run under ASGITransport
            return registry

        app = create_app(settings, registry_factory=factory)
        app.state.registry = registry
        app.state.status_view = view
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Outage(cluster, client, row, code, payload.to_text(data))
    finally:
        pool.terminate()
        if view is not None:
            await asyncio.wait_for(view.stop(), 10)
        try:
            cluster.stop("immediate")
        finally:
            shutil.rmtree(base, ignore_errors=True)


PAGE = {"accept": "text/html"}


async def _probes(o: Outage) -> dict[str, httpx.Response]:
    c = o.client
    lookup = {"number": number_of(o.row), "name": o.row.name}
    return {
        "api lookup": await c.post("/api/v1/lookup", json=lookup),
        "form lookup": await c.post("/lookup", data=lookup, headers=PAGE),
        "api institution": await c.get(f"/api/v1/institutions/{o.institution}"),
        "institution page": await c.get(f"/institutions/{o.institution}", headers=PAGE),
        "healthz": await c.get("/healthz"),
    }


async def test_database_down_answers_503_promptly_and_recovers(outage: Outage) -> None:
    before = await _probes(outage)
    assert {k: r.status_code for k, r in before.items()} == {k: 200 for k in before}

    outage.cluster.stop("immediate")
    started = time.monotonic()
    during = await _probes(outage)
    elapsed = time.monotonic() - started
    for name, r in during.items():
        assert r.status_code == 503, (name, r.status_code, r.text[:200])
        assert int(r.headers["retry-after"]) > 0, name
        for header, _ in SECURITY_HEADERS:
            assert header.decode() in r.headers, (name, header)
        if r.headers["content-type"].startswith("application/json"):
            if name != "healthz":
                assert r.json()["error"] == "unavailable", name
                assert r.json()["message"]["zh"] and r.json()["message"]["en"]
        else:
            assert "text/html" in r.headers["content-type"] and "暂时不可用" in r.text, name
    assert elapsed < 6 * 1.0, f"six probes took {elapsed:.2f} s"  # each within a second

    # QR verification and the institution directory need no database: the status view answers.
    for path in (f"/api/v1/verify/{outage.qr_path}", f"/c/{outage.qr_path}", "/api/v1/institutions"):
        r = await outage.client.get(path)
        assert r.status_code == 200, path
    assert (await outage.client.get(f"/api/v1/verify/{outage.qr_path}")).json()["outcome"] == "valid"

    outage.cluster.ensure_running()
    deadline = time.monotonic() + 30
    while True:
        after = await _probes(outage)
        if all(r.status_code == 200 for r in after.values()):
            break
        assert time.monotonic() < deadline, {k: r.status_code for k, r in after.items()}
    assert after["api lookup"].json()["found"]

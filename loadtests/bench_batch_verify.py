"""Batch verification (``make bench``): rows per second for QR rows and for number + name rows at
1,000,000 published certificates, and a 10,000-row XLSX end to end through the app (upload,
parse, verify, XLSX out, receipt), each beside a reference measured in the same run.

References: raw Ed25519 verification on one core and on every core (PyNaCl; the second is the
ceiling of QR rows, whose signatures are checked in the checker processes), and for number rows the same chunks read by a bare ``SELECT ... WHERE number =
ANY($1)`` on the primary key (the floor of one round trip per chunk).

``BENCH_BATCH_CERTIFICATES`` (default 1,000,000) and ``BENCH_BATCH_ROWS`` (default 10,000) size it.
"""

from __future__ import annotations

import asyncio
import io
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import openpyxl

from verify.config import Settings
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.crypto.receipts import ReceiptSigner
from verify.crypto.signing import verify_signature
from verify.db import receipts as receipt_rows
from verify.db.cluster import EmbeddedCluster
from verify.db.pool import create_pool, migrate
from verify.domain import payload
from verify.domain.batch_verification import InputRow, input_row
from verify.http.app import create_app
from verify.services import seed
from verify.services.batch_verification import request_digest
from verify.services.checkers import WORKERS, checker_pool, shutdown_checkers
from verify.services.keyring import Keyring
from verify.services.registry import Registry
from verify.services.status_view import StatusView

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "verify_bench_batch"
TODAY = date(2026, 11, 25)
PASSPHRASE = b"bench-passphrase-2026"
TARGET_ROWS_PER_S = 20_000
TARGET_XLSX_S = 2.0


def _best(samples: list[float]) -> float:
    return min(samples)


def _verify_many(public: bytes, messages: list[tuple[bytes, bytes]]) -> int:
    """In a checker process: verify each (message, signature); how many were good."""
    return sum(verify_signature(public, m, s) for m, s in messages)


async def main() -> None:
    n_certs = int(os.environ.get("BENCH_BATCH_CERTIFICATES", "1000000"))
    n_rows = int(os.environ.get("BENCH_BATCH_ROWS", "10000"))
    settings = Settings.from_env({"VERIFY_HOME": str(ROOT / "var"), "VERIFY_BATCH_ROWS_PER_DAY": "100000000"})
    cluster = EmbeddedCluster(settings.pg_root)
    cluster.ensure_running()
    admin = await asyncpg.connect(cluster.dsn("postgres"))
    await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {BENCH_DB}")
    await admin.close()
    dsn = cluster.dsn(BENCH_DB)
    pool = await create_pool(dsn, max_size=4)
    await migrate(pool)
    keys = IdKeys(os.urandom(32), os.urandom(32))
    protector = IdProtector(keys.index_key, keys.enc_key)
    receipts = ReceiptSigner.from_seed(os.urandom(32))
    await receipt_rows.register_key(pool, receipts.kid, receipts.public_key)
    registry = Registry(pool, protector, id_keys=keys, today=lambda: TODAY, dsn=dsn, receipt_signer=receipts,
                        batch_rows_per_day=100_000_000)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        ring = Keyring(pool, Path(tmp) / "private", Path(tmp) / "public")
        await ring.generate(PASSPHRASE, note="bench")
        signer = await ring.signer(PASSPHRASE)
        started = time.perf_counter()
        await seed.seed(pool, protector, institutions=660, certificates=n_certs, today=TODAY, rng_seed=11,
                        signer=signer)  # fmt: skip
        seed_s = time.perf_counter() - started
    await pool.execute("ANALYZE")
    account = await registry.add_account(
        "bench-verifier", "verifier", display_name="bench", by=None, actor="bench"
    )
    by = await registry.principal_for_token(
        (await registry.issue_account_token("bench-verifier", label="bench", by=None, actor="bench"))["token"]
    )
    del account
    view = StatusView(dsn, pool)
    await view.start()
    registry.status_view = view

    people = await pool.fetch(
        "SELECT number, holder_name FROM certificates TABLESAMPLE BERNOULLI (5) REPEATABLE (3) LIMIT $1",
        n_rows,
    )
    signed = await pool.fetch(
        "SELECT s.payload FROM certificate_signatures s TABLESAMPLE BERNOULLI (5) REPEATABLE (4) LIMIT $1",
        n_rows,
    )
    number_rows = [
        input_row(i + 2, {"number": r["number"], "name": r["holder_name"]}, {}) for i, r in enumerate(people)
    ]
    qr_rows = [
        input_row(i + 2, {"qr": f"{settings.public_url}/C/{payload.to_text(r['payload'])}"}, {})
        for i, r in enumerate(signed)
    ]

    # Reference 1: raw Ed25519 verification, one core.
    messages = []
    for r in signed:
        _, body, sig = payload.decode(r["payload"])
        messages.append((payload.signed_message(body), sig))
    public = signer.public_key
    started = time.perf_counter()
    for message, sig in messages:
        verify_signature(public, message, sig)
    ed_rate = len(messages) / (time.perf_counter() - started)
    # Reference 1b: the same checks spread over every core (the checker processes QR rows use), the
    # ceiling of a QR row: nothing but its signature check, on every core.
    pool_ex = checker_pool()
    loop = asyncio.get_running_loop()
    await asyncio.gather(
        *(loop.run_in_executor(pool_ex, _verify_many, public, messages[:10]) for _ in range(WORKERS))
    )
    samples = []
    for _ in range(3):
        size = -(-len(messages) // WORKERS)
        started = time.perf_counter()
        await asyncio.gather(*(
            loop.run_in_executor(pool_ex, _verify_many, public, messages[i : i + size])
            for i in range(0, len(messages), size)
        ))  # fmt: skip
        samples.append(time.perf_counter() - started)
    ed_all_rate = len(messages) / _best(samples)

    async def rate(rows: list[InputRow]) -> float:
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            answer = await registry.verify_batch(rows, request_sha256=request_digest(b"bench"), by=by)
            samples.append(time.perf_counter() - started)
            assert (
                answer.counts["valid"]
                + answer.counts["issuer_suspended"]
                + answer.counts["issuer_terminated"]
                > 0
            )
        return len(rows) / _best(samples)

    qr_rate = await rate(qr_rows)
    number_rate = await rate(number_rows)

    # Reference 2: the same numbers read by primary key, one statement per 1,000.
    numbers = [r.number for r in number_rows]
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        for i in range(0, len(numbers), 1000):
            await pool.fetch(
                "SELECT * FROM certificates WHERE number = ANY($1::text[])", numbers[i : i + 1000]
            )
        samples.append(time.perf_counter() - started)
    bare_rate = len(numbers) / _best(samples)

    # A 10,000-row XLSX end to end, through the app in-process.
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["工号", "证书编号", "姓名"])
    for i, row in enumerate(number_rows):
        ws.append([f"E{i:05d}", row.number, row.name])
    buf = io.BytesIO()
    wb.save(buf)
    xlsx = buf.getvalue()
    token = (await registry.issue_account_token("bench-verifier", label="http", by=None, actor="bench"))[
        "token"
    ]

    async def factory() -> Registry:  # pragma: no cover - no lifespan under ASGITransport
        return registry

    app = create_app(settings, registry_factory=factory)
    app.state.registry, app.state.status_view = registry, view
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    samples = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
        for _ in range(3):
            started = time.perf_counter()
            answer = await client.post("/api/v1/verify-batch?format=xlsx", files={"file": ("rows.xlsx", xlsx)},
                                       headers={"authorization": f"Bearer {token}"})  # fmt: skip
            samples.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text[:300]
    xlsx_s = _best(samples)
    await view.stop()
    await pool.close()
    shutdown_checkers()

    print(f"\nverify batch-verification benchmark — {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {n_certs:,} published certificates (seeded in {seed_s:.0f} s), "
          f"{len(number_rows):,} rows a batch, best of 3")  # fmt: skip
    table = [
        ("measure", "figure", "reference / target"),
        ("raw Ed25519 verify, 1 core (reference)", f"{ed_rate:,.0f} /s", ""),
        (f"raw Ed25519 verify, {WORKERS} processes (reference)", f"{ed_all_rate:,.0f} /s", ""),
        ("QR rows (signature + status view)", f"{qr_rate:,.0f} rows/s",
         f"{qr_rate / ed_rate:.2f}x raw 1 core, {qr_rate / ed_all_rate:.2f}x raw all cores; "
         f"target {TARGET_ROWS_PER_S:,}"),
        ("bare PK SELECT per 1,000 (reference)", f"{bare_rate:,.0f} rows/s", ""),
        ("number + name rows", f"{number_rate:,.0f} rows/s",
         f"{number_rate / bare_rate:.2f}x bare SELECT; target {TARGET_ROWS_PER_S:,}"),
        (f"{len(number_rows):,}-row XLSX end to end", f"{xlsx_s:.2f} s", f"target <= {TARGET_XLSX_S:.1f} s"),
    ]  # fmt: skip
    for measure, figure, note in table:
        print(f"{measure:<46}{figure:<18}{note}")


if __name__ == "__main__":
    asyncio.run(main())

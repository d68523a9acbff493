"""Registry benchmarks (``make bench``): a table of figures with ratios against references measured
in the same run, on the same machine, against the same embedded PostgreSQL.

1. Import a 1,000,000-row CSV (read + validate every row + store with COPY, one transaction)
   beside a plain COPY of the same stored rows into an unindexed copy of the table.
2. ``verify seed``: 1,000,000 synthetic certificates straight into the database.
3. Number+name lookups: p50/p99 over 10,000 random lookups at 1M+ rows, through the service and
   through the HTTP app (in-process ASGI), beside a bare primary-key SELECT.

Environment: BENCH_ROWS (default 1000000), BENCH_LOOKUPS (default 10000). Writes nothing to docs;
copy the printed table into docs/BENCHMARKS.md with the machine description.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import platform
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.workflow import publish_batch
from verify.config import Settings
from verify.crypto import signing
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.db import certificates, institutions
from verify.db import keys as key_rows
from verify.db.cluster import EmbeddedCluster
from verify.db.copy_format import COPY_COLUMNS
from verify.db.pool import create_pool, migrate
from verify.domain import occupations
from verify.domain.batch import cells, columns
from verify.domain.institution import Scope
from verify.domain.throttle import ThrottlePolicy
from verify.http.app import create_app
from verify.services import seed
from verify.services.checkers import shutdown_checkers
from verify.services.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "verify_bench"
TODAY = date(2026, 11, 25)
CODE = "S000041010088"
HEADER = [c.header_zh for c in columns.COLUMNS[:9]]
LEVEL_TEXT = cells.LEVEL_TEXTS


def make_csv(rows: int, rng: random.Random) -> tuple[bytes, list[tuple[str, str]]]:
    """A realistic batch for one institution: every row valid, serials in order per (year, level)."""
    scopes = [s for s in occupations.SCOPES if s.code in ("6-18-01-01", "6-20-01-01", "4-12-01-01")]
    serial: dict[tuple[int, int], int] = {}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    samples: list[tuple[str, str]] = []
    for _ in range(rows):
        s = rng.choice(scopes)
        level = rng.choice(s.levels)
        issue = date(2020, 1, 1) + timedelta(days=rng.randrange((TODAY - date(2020, 1, 1)).days))
        key = (issue.year, level)
        serial[key] = serial.get(key, 0) + 1
        number = f"{CODE}{issue.year % 100:02d}{level}{serial[key]:06d}"
        name = seed.random_name(rng)
        w.writerow([number, name, "居民身份证", seed.random_id(rng), s.code, s.name, "" if s.job == "--" else s.job,
                    LEVEL_TEXT[level], issue.isoformat()])  # fmt: skip
        if len(samples) < 200_000:
            samples.append((number, name))
    return out.getvalue().encode(), samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    rows = int(os.environ.get("BENCH_ROWS", "1000000"))
    lookups = int(os.environ.get("BENCH_LOOKUPS", "10000"))
    settings = Settings.from_env({"VERIFY_HOME": str(ROOT / "var")})
    cluster = EmbeddedCluster(settings.pg_root)
    cluster.ensure_running()
    admin = await asyncpg.connect(cluster.dsn("postgres"))
    await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {BENCH_DB}")
    await admin.close()
    pool = await create_pool(cluster.dsn(BENCH_DB), max_size=8)
    await migrate(pool)
    keys = IdKeys(os.urandom(32), os.urandom(32))
    protector = IdProtector(keys.index_key, keys.enc_key)
    # Budgets far above the benchmark's traffic: the throttle's cost is measured, never its refusals.
    registry = Registry(
        pool, protector, id_keys=keys, today=lambda: TODAY,
        throttle=ThrottlePolicy(per_address=10**9, free_failures=10**9),
    )  # fmt: skip
    results: list[tuple[str, str, str]] = []

    # ---------------------------------------------------------------- 1. import vs plain COPY
    rng = random.Random(7)
    t = time.perf_counter()
    data, samples = make_csv(rows, rng)
    gen_s = time.perf_counter() - t
    iid = await institutions.insert_institution(
        pool,
        {
            "code": CODE,
            "kind": "social",
            "name": "基准测试评价机构",
            "filing_authority": "city",
            "province_code": "41",
            "city_code": "01",
        },  # fmt: skip
    )
    await institutions.add_scopes(
        pool,
        iid,
        [Scope(s.code, s.name, s.job, lv, date(2019, 1, 1)) for s in occupations.SCOPES for lv in s.levels],
    )
    t = time.perf_counter()
    result = await registry.import_batch(CODE, data, "bench.csv", actor="bench", max_bytes=len(data) + 1)
    import_s = time.perf_counter() - t
    assert result.rows == rows

    # The reference: the same stored rows, COPYed into an unindexed copy of the table.
    stored = await pool.fetch(f"SELECT {', '.join(COPY_COLUMNS)} FROM certificates WHERE batch_id ="
                              " (SELECT id FROM batches WHERE public_id = $1)", result.batch_id)  # fmt: skip
    records = [tuple(r) for r in stored]
    # LIKE without INCLUDING INDEXES/CONSTRAINTS: same columns and defaults, no indexes, no keys.
    await pool.execute("CREATE TABLE copy_reference (LIKE certificates INCLUDING DEFAULTS)")
    async with pool.acquire() as conn:
        t = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("copy_reference", records=records, columns=list(COPY_COLUMNS))
        copy_s = time.perf_counter() - t
    del records, stored
    await pool.execute("DROP TABLE copy_reference")
    import_rate, copy_rate = rows / import_s, rows / copy_s
    results += [
        ("CSV generated (not timed in ratio)", f"{len(data) / 1e6:.0f} MB, {rows:,} rows", f"{gen_s:.1f} s"),
        ("import: read + validate + COPY, 1 tx", f"{import_rate:,.0f} rows/s", f"{import_s:.1f} s"),
        ("reference: plain COPY, unindexed copy", f"{copy_rate:,.0f} rows/s", f"{copy_s:.1f} s"),
        ("ratio import / plain COPY (target >= 0.5)", f"{import_rate / copy_rate:.2f}x", ""),
    ]

    # ---------------------------------------------------------------- 2. seed 1M
    t = time.perf_counter()
    report = await seed.seed(pool, protector, institutions=660, certificates=rows, today=TODAY, rng_seed=11)
    seed_s = time.perf_counter() - t
    results.append(("verify seed: 660 institutions", f"{report.certificates / seed_s:,.0f} rows/s",
                    f"{seed_s:.1f} s for {report.certificates:,}"))  # fmt: skip
    signer = signing.Signer(signing.generate())
    await key_rows.insert_signing_key(pool, signer.public_key, signer.kid, datetime.now(UTC), None, "bench")
    t = time.perf_counter()
    await publish_batch(registry, result.batch_id, signer=signer, actor="bench")
    publish_s = time.perf_counter() - t
    results.append(
        ("publish: sign + store payloads, 1 tx", f"{rows / publish_s:,.0f} rows/s", f"{publish_s:.1f} s")
    )
    await pool.execute("ANALYZE")
    total = await pool.fetchval(
        "SELECT count(*) FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE b.state = 'published'"
    )

    # ---------------------------------------------------------------- 3. lookups
    picks = [samples[rng.randrange(len(samples))] for _ in range(lookups)]
    bare: list[float] = []
    for number, _ in picks[: lookups // 2]:
        t = time.perf_counter()
        await certificates.published_certificate(pool, number)
        bare.append(time.perf_counter() - t)
    service: list[float] = []
    for number, name in picks:
        t = time.perf_counter()
        answer = await registry.lookup_by_number(number, name)
        service.append(time.perf_counter() - t)
        assert answer.found
    throttled: list[float] = []
    for i, (number, name) in enumerate(picks):
        t = time.perf_counter()
        answer = await registry.lookup_by_number(number, name, client=f"10.0.{i % 256}.{i // 256 % 256}")
        throttled.append(time.perf_counter() - t)
        assert answer.found
    app = create_app(
        Settings.from_env({"VERIFY_LOOKUP_PER_MINUTE": str(lookups * 10)}), registry_factory=_never
    )
    app.state.registry = registry
    http: list[float] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for number, name in picks:
            t = time.perf_counter()
            r = await client.post("/api/v1/lookup", json={"number": number, "name": name})
            http.append(time.perf_counter() - t)
            assert r.status_code == 200
    ms = 1000.0
    results += [
        (f"lookups at {total:,} published rows", f"{lookups:,} random number+name", ""),
        ("reference: bare PK SELECT p50 / p99", f"{pct(bare, .5) * ms:.2f} / {pct(bare, .99) * ms:.2f} ms", ""),
        ("service lookup p50 / p99", f"{pct(service, .5) * ms:.2f} / {pct(service, .99) * ms:.2f} ms",
         f"{statistics.mean(service) / statistics.mean(bare):.2f}x bare SELECT"),
        ("service lookup + shared throttle p50 / p99",
         f"{pct(throttled, .5) * ms:.2f} / {pct(throttled, .99) * ms:.2f} ms",
         f"{statistics.mean(throttled) / statistics.mean(service):.2f}x unthrottled"),
        ("HTTP app (in-process ASGI) p50 / p99", f"{pct(http, .5) * ms:.2f} / {pct(http, .99) * ms:.2f} ms",
         f"{statistics.mean(http) / statistics.mean(bare):.2f}x bare SELECT"),
    ]  # fmt: skip
    await pool.close()
    shutdown_checkers()

    width = max(len(r[0]) for r in results)
    print(f"\nverify registry benchmark — {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
          f" PostgreSQL {cluster.status().get('version')}")  # fmt: skip
    print(f"{'measure'.ljust(width)}  {'figure':<28} note")
    for name, figure, note in results:
        print(f"{name.ljust(width)}  {figure:<28} {note}")


async def _never() -> Registry:  # pragma: no cover - the app's lifespan is not used here
    raise RuntimeError("not used")


def run() -> None:
    asyncio.run(main())


if __name__ == "__main__":
    run()


__all__: list[Any] = ["run"]

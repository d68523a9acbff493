"""The audit chain's cost (``make bench``): one audited insert, and eight connections inserting at
once, into ``audit_log`` (hash chain kept by a trigger under an advisory lock) beside a table with
the same columns and no trigger, measured in the same run as ``verify_app``; then how fast
``verify audit check`` walks the chain.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from pathlib import Path

import asyncpg

from verify.config import Settings
from verify.db.cluster import EmbeddedCluster
from verify.db.pool import create_pool, migrate
from verify.db.roles import APP_ROLE
from verify.services import audit as audit_service

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "verify_bench_audit"
DETAIL = {"institution": "S000041010012", "rows": 1234, "kid": "ab12"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    n = int(os.environ.get("BENCH_AUDIT_INSERTS", "2000"))
    settings = Settings.from_env({"VERIFY_HOME": str(ROOT / "var")})
    cluster = EmbeddedCluster(settings.pg_root)
    cluster.ensure_running()
    admin = await asyncpg.connect(cluster.dsn("postgres"))
    await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {BENCH_DB}")
    await admin.close()
    owner = await create_pool(cluster.dsn(BENCH_DB), max_size=2)
    await migrate(owner)
    # The reference: the same columns, no chain trigger, no lock.
    await owner.execute(
        "CREATE TABLE plain_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),"
        " actor text NOT NULL, role text, action text NOT NULL, target text, detail jsonb)"
    )
    await owner.execute(
        f"GRANT SELECT, INSERT ON plain_log TO {APP_ROLE}; GRANT USAGE ON SEQUENCE plain_log_id_seq TO {APP_ROLE}"
    )
    app = await create_pool(cluster.dsn(BENCH_DB, user=APP_ROLE), min_size=8, max_size=8)
    measured: dict[str, tuple[list[float], float]] = {}
    # Interleaved, two rounds, the second kept: the first round warms the pool and the caches.
    for table in ("plain_log", "audit_log", "plain_log", "audit_log"):
        sql = f"INSERT INTO {table} (actor, role, action, target, detail) VALUES ($1, $2, $3, $4, $5)"
        serial = []
        for i in range(n):
            started = time.perf_counter()
            await app.execute(sql, "cli:bench", "operator", "batch.submit", f"B{i}", DETAIL)
            serial.append(time.perf_counter() - started)

        async def worker(w: int, sql: str = sql) -> None:
            for i in range(n // 8):
                await app.execute(sql, "cli:bench", "operator", "batch.submit", f"B{w}-{i}", DETAIL)

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(8)))
        measured[table] = (serial, (n // 8) * 8 / (time.perf_counter() - started))
    rows = [(table, serial, rate) for table, (serial, rate) in measured.items()]
    started = time.perf_counter()
    checked = await audit_service.check_chain(app)
    check_rate = checked.entries / (time.perf_counter() - started)
    await app.close()
    await owner.close()
    ms = 1000.0
    print(f"\nverify audit benchmark — {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {n:,} inserts each, as {APP_ROLE}")  # fmt: skip
    print(f"{'table':<28} {'serial p50 / p99':<20} {'8 connections':>16}  serial p50 vs plain")
    base = statistics.median(rows[0][1])
    for table, serial, rate in rows:
        label = "audit_log (hash chain)" if table == "audit_log" else "plain_log (reference)"
        print(f"{label:<28} {pct(serial, .5) * ms:.2f} / {pct(serial, .99) * ms:.2f} ms     "
              f"{rate:>10,.0f} ins/s  {statistics.median(serial) / base:.2f}x")  # fmt: skip
    print(f"verify audit check: {checked.entries:,} entries at {check_rate:,.0f} entries/s")


def run() -> None:
    asyncio.run(main())


if __name__ == "__main__":
    run()

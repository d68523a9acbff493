"""The lookup throttle's cost (``make bench``): what one public lookup adds for its shared
counters, beside a bare primary-key SELECT on the same pool measured in the same run.

Three traffic shapes, because the old per-worker sliding window degraded with one busy address:
many addresses (one per lookup, up to 65,536), one address hammering (a company behind one NAT), and a wrong name
on every lookup (each also records a failure). O(1) means the three stay close.
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
from verify.domain.throttle import ThrottlePolicy
from verify.services.throttle import Throttle

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "verify_bench_throttle"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    n = int(os.environ.get("BENCH_LOOKUPS", "10000"))
    settings = Settings.from_env({"VERIFY_HOME": str(ROOT / "var")})
    cluster = EmbeddedCluster(settings.pg_root)
    cluster.ensure_running()
    admin = await asyncpg.connect(cluster.dsn("postgres"))
    await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {BENCH_DB}")
    await admin.close()
    pool = await create_pool(cluster.dsn(BENCH_DB), max_size=4)
    await migrate(pool)
    await pool.execute("CREATE TABLE ref (k bytea PRIMARY KEY, v int)")
    await pool.execute("INSERT INTO ref SELECT sha256(i::text::bytea), i FROM generate_series(1, 100000) i")
    throttle = Throttle(pool, os.urandom(32), ThrottlePolicy(per_address=10**9, free_failures=10**9))
    targets = [throttle.number_target(f"S000041010012254{i:06d}") for i in range(n)]

    async def timed(label: str, fn: object) -> tuple[str, list[float]]:
        out = []
        for i in range(n):
            t = time.perf_counter()
            await fn(i)  # type: ignore[operator]
            out.append(time.perf_counter() - t)
        return label, out

    async def bare(i: int) -> None:
        await pool.fetchval("SELECT v FROM ref WHERE k = sha256($1::text::bytea)", str(i % 100000 + 1))

    async def spread(i: int) -> None:
        await throttle.settle(await throttle.admit(f"10.{i % 256}.{i // 256 % 256}.1", targets[i]), True)

    async def one_address(i: int) -> None:
        await throttle.settle(await throttle.admit("192.0.2.1", targets[i]), True)

    async def wrong_names(i: int) -> None:
        await throttle.settle(
            await throttle.admit(f"10.{i % 256}.{i // 256 % 256}.2", targets[i % 100]), False
        )

    runs = [
        await timed("reference: bare PK SELECT", bare),
        await timed(f"throttle, {min(n, 65536):,} addresses, right names", spread),
        await timed("throttle, one address, right names", one_address),
        await timed("throttle, wrong names (admit + failure)", wrong_names),
    ]
    rows = await pool.fetchval("SELECT count(*) FROM lookup_throttle")
    await pool.close()
    base = statistics.mean(runs[0][1])
    ms = 1000.0
    print(f"\nverify throttle benchmark — {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {n:,} lookups each, {rows:,} counter rows at the end")  # fmt: skip
    width = max(len(label) for label, _ in runs)
    print(f"{'measure'.ljust(width)}  {'p50 / p99':<18} {'mean':>9}  vs bare SELECT")
    for label, values in runs:
        mean = statistics.mean(values)
        print(f"{label.ljust(width)}  {pct(values, .5) * ms:.2f} / {pct(values, .99) * ms:.2f} ms"
              f"{mean * ms:>9.3f} ms  {mean / base:.2f}x")  # fmt: skip


def run() -> None:
    asyncio.run(main())


if __name__ == "__main__":
    run()

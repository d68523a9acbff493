"""Revocation at scale (``make bench``, rule 35): one decision revoking every certificate an
institution issued in a date range (100,000 by default) is one transaction; then how long until
every web worker's status view holds the new status, and the same for its 复核 reversal.

The reference, measured in the same run: a bare ``UPDATE ... SET status`` of the same rows in a
copy of the table with the same indexes and no events, decision or triggers (the floor of
"flip 100,000 statuses"). The status views are two processes, as two web workers keep them (one
LISTEN connection and one pool each), each reporting on the wall clock when it holds the change.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import platform
import time
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

import asyncpg

from verify.config import Settings
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.db.cluster import EmbeddedCluster
from verify.db.pool import create_pool, migrate
from verify.domain.events import SCOPE_DECISION, SCOPE_ISSUED_BETWEEN, Decision, Scope
from verify.services import seed
from verify.services.registry import Registry
from verify.services.status_view import StatusView

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "verify_bench_revocation"
TODAY = date(2026, 11, 25)
WORKERS = 2
TARGET_SECONDS = 1.0  # the issue's target: every worker's view within 1 s of the commit


def _worker(dsn: str, number: str, ready: Connection, done: Connection) -> None:
    """One web worker's status view, in a process of its own: reports (wall clock) when ``number``
    turns revoked, then when it turns active again."""

    async def watch() -> None:
        view = StatusView(dsn, await create_pool(dsn, min_size=1, max_size=2))
        await view.start()
        ready.send(True)
        for wanted in ("revoked", None):
            while True:
                snapshot = view.snapshot
                state = snapshot.certificates.get(number) if snapshot is not None else None
                if (state.status if state is not None else None) == wanted:
                    done.send(time.time())
                    break
                await asyncio.sleep(0.002)
        await view.stop()

    asyncio.run(watch())


async def main() -> None:
    rows = int(os.environ.get("BENCH_REVOKE_ROWS", "100000"))
    settings = Settings.from_env({"VERIFY_HOME": str(ROOT / "var")})
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
    registry = Registry(pool, protector, id_keys=keys, today=lambda: TODAY)
    t = time.perf_counter()
    report = await seed.seed(pool, protector, institutions=1, certificates=rows, today=TODAY, rng_seed=7)
    seed_s = time.perf_counter() - t
    code = await pool.fetchval("SELECT code FROM institutions ORDER BY id DESC LIMIT 1")
    last = await pool.fetchval("SELECT max(number) FROM certificates")
    await pool.execute("ANALYZE")

    context = multiprocessing.get_context("spawn")
    workers = []
    for _ in range(WORKERS):
        ready_r, ready_w = context.Pipe(duplex=False)
        done_r, done_w = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(dsn, last, ready_w, done_w), daemon=True)
        process.start()
        workers.append((process, ready_r, done_r))
    for _, ready_r, _ in workers:
        await asyncio.to_thread(ready_r.recv)

    async def seen_after(committed: float) -> list[float]:
        return [await asyncio.to_thread(done_r.recv) - committed for _, _, done_r in workers]

    reason = (
        "第十四条：终止备案后，对其违规期间颁发的证书作出处理（基准测试）",
        "河南省职业技能鉴定指导中心",
    )
    scope = Scope(SCOPE_ISSUED_BETWEEN, institution=code, issued_from=date(2019, 1, 1), issued_to=TODAY)
    started = time.perf_counter()
    done = await registry.decide(
        Decision(scope, TODAY, "institution_violation", *reason, "豫职鉴〔2026〕99号"), actor="cli:bench"
    )
    committed, wall = time.perf_counter(), time.time()
    revoke_s = committed - started
    revoke_seen = await seen_after(wall)

    started = time.perf_counter()
    back = await registry.decide(
        Decision(Scope(SCOPE_DECISION, decision=done["decision_id"]), TODAY, "other", "复核：撤销原决定（基准测试）",
                 reason[1]),
        actor="cli:bench",
    )  # fmt: skip
    committed, wall = time.perf_counter(), time.time()
    reverse_s = committed - started
    reverse_seen = await seen_after(wall)
    for process, _, _ in workers:
        process.join(10)

    # The reference: the same rows' statuses flipped in a copy with the same indexes and nothing else.
    await pool.execute(
        "CREATE TABLE certificates_copy (LIKE certificates INCLUDING DEFAULTS INCLUDING INDEXES)"
    )
    await pool.execute("INSERT INTO certificates_copy SELECT * FROM certificates")
    await pool.execute("ANALYZE certificates_copy")
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        flipped = await conn.execute(
            "UPDATE certificates_copy SET status = 'revoked' WHERE issue_date BETWEEN $1 AND $2",
            date(2019, 1, 1),
            TODAY,
        )
    plain_s = time.perf_counter() - started
    await pool.close()

    print(f"\nverify revocation benchmark — {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; seeded {report.certificates:,} certificates in {seed_s:.1f} s")  # fmt: skip
    print(f"{'step':<62} {'value':>12}  note")
    print(f"{'decision: revoke all an institution issued, 1 transaction':<62} {revoke_s:>10.2f} s  "
          f"{done['certificates']:,} certificates, {done['certificates'] / revoke_s:,.0f}/s")  # fmt: skip
    print(f"{'reference: bare UPDATE of the same rows in an indexed copy':<62} {plain_s:>10.2f} s  "
          f"{int(flipped.split()[-1]):,} rows")  # fmt: skip
    print(f"{'ratio decision / bare UPDATE':<62} {revoke_s / plain_s:>11.2f}x")
    for label, seen in (("revocation", revoke_seen), ("reversal", reverse_seen)):
        worst = max(seen)
        verdict = "meets" if worst <= TARGET_SECONDS else "MISSES"
        print(f"{f'{label}: in every status view ({WORKERS}) after commit':<62} {worst:>10.2f} s  "
              f"{verdict} the {TARGET_SECONDS:.0f} s target; each view: {', '.join(f'{s:.2f}' for s in seen)} s")  # fmt: skip
    print(f"{'reversal (复核) of the whole decision, 1 transaction':<62} {reverse_s:>10.2f} s  "
          f"{back['certificates']:,} reinstated")  # fmt: skip


def run() -> None:
    asyncio.run(main())


if __name__ == "__main__":
    run()

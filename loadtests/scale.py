"""The scale run (``make scale``, issue 9 item 4): the service at ``SCALE_CERTS`` (default 10,000,000)
certificates beside the same service at ``SCALE_SMALL`` (default 100,000), measured in one session.

1. Seeds both sizes with ``verify seed`` (signed, published, with a 10,000-line sample drawn uniformly
   from every seeded certificate) into databases of their own on the embedded cluster
   (``verify_scale_small`` and ``verify_scale_big``; state under var/scale/), reused when already
   seeded (``loadtests.bench_http.ensure_data``). Records the wall time, the rate and the seeding
   processes' memory (VmRSS sampled every second), and checks where in the table the sample lies.
2. Revokes 1% of each database's certificates (never a sampled one) through the service's own
   revocation use case (``Registry.certificate_event``: the event row, the status, the audit row and
   the NOTIFY trigger, one transaction each), a few at a time; resumes where a previous run stopped.
3. VACUUM ANALYZE, then the table and index sizes on disk and the status view's load time.
4. For each database in turn (small, big, small, big, ...: ``SCALE_ROUNDS`` rounds, default 3) starts
   ``verify serve --workers 2`` (production settings except ``VERIFY_TRUST_PROXY=1``: wrk sends a random
   X-Forwarded-For per request, loadtests/wrk/lines.lua) and runs ``wrk -t1 -c8 -d${SCALE_SECONDS}s``
   against QR JSON verification (the 10,000 sampled certificates), number+name and ID+name lookups;
   then reads each worker's VmRSS.
5. Prints the table and writes it into docs/BENCHMARKS.md (between the scale markers) and every
   figure into docs/scale.csv. ``--no-write`` prints only.

wrk, the service and PostgreSQL share the machine's cores: compare the two sizes within the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from loadtests import bench_http
from loadtests.bench_http import Target
from loadtests.drills import processes, status_mb
from loadtests.local import free_port, update_marked_section
from verify.config import Settings
from verify.db import status
from verify.domain.clock import today_cst
from verify.domain.events import CertificateEvent
from verify.domain.snapshot import build_snapshot
from verify.services import runtime

ROOT = bench_http.ROOT
STATE = ROOT / "var" / "scale"
DOC = bench_http.DOC
CSV_OUT = ROOT / "docs" / "scale.csv"
START, END = "<!-- scale:start -->", "<!-- scale:end -->"

BIG = int(os.environ.get("SCALE_CERTS", "10000000"))
SMALL = int(os.environ.get("SCALE_SMALL", "100000"))
SECONDS = int(os.environ.get("SCALE_SECONDS", "20"))
ROUNDS = int(os.environ.get("SCALE_ROUNDS", "3"))
THREADS, CONNECTIONS = 1, 8  # a moderate fixed load: latency, not peak throughput
WARMUP_SECONDS = 3
SAMPLE = 10_000
REVOKED_SHARE = 0.01
REVOKE_CONCURRENCY = 8
RSS_TARGET_MB = 200.0
P99_TARGET = 1.2

TARGETS = [
    Target("QR JSON /api/v1/verify (10k certs)", "verify", "verify-cold.txt"),
    Target("lookup POST number+name", "verify", "lookup-number.jsonl", method="POST"),
    Target("lookup POST ID+name", "verify", "lookup-id.jsonl", method="POST"),
]
# The tables whose sizes are reported (the rest of the schema is a few hundred kB).
TABLES = ("certificates", "certificate_signatures", "certificate_events", "audit_log", "batches",
          "lookup_throttle")  # fmt: skip


def log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Size:
    label: str  # small | big
    certs: int
    database: str
    state: Path
    dsn: str = ""
    sample: list[dict[str, str]] = field(default_factory=list)
    seed: dict[str, Any] = field(default_factory=dict)  # the seed's meta plus memory and load
    spread: dict[str, float] = field(default_factory=dict)
    revocation: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    indexes: dict[str, int] = field(default_factory=dict)
    database_bytes: int = 0
    status_load: dict[str, float] = field(default_factory=dict)
    results: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # target -> rounds
    rss: list[dict[str, float]] = field(default_factory=list)  # per round: per-worker RSS/HWM

    def env(self) -> dict[str, str]:
        return bench_http.base_env(self.dsn, self.state)


# ------------------------------------------------------------------------------------ seeding


class MemoryWatch(threading.Thread):
    """Samples the VmRSS of this process's descendants every second (the ``verify seed`` process and
    its signing workers), with the /proc readers of loadtests.drills, and adds up where the CPU time
    goes: the seed process, its signing workers, and the PostgreSQL backends of ``database``."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.database = database.encode()
        self.stop = threading.Event()
        self.peak_main = 0.0
        self.peak_worker = 0.0
        self.series: list[tuple[float, float]] = []  # (seconds, VmRSS of the seed process)
        self.cpu: dict[str, dict[int, float]] = {"seed": {}, "signing": {}, "postgres": {}}

    def run(self) -> None:
        started = time.monotonic()
        me = os.getpid()
        while not self.stop.wait(1.0):
            parents = {p.pid: p.ppid for p in processes()}
            mine = {pid for pid in parents if _descends(pid, me, parents)}
            main = [
                pid for pid in mine if _cmdline(pid)[1:2] == [str(ROOT / ".venv" / "bin" / "verify").encode()]
            ]
            if not main:
                continue
            rss = status_mb(set(main), "VmRSS")
            self.peak_main = max(self.peak_main, rss)
            self.series.append((round(time.monotonic() - started, 1), round(rss, 1)))
            workers = {pid for pid in mine if _descends(pid, main[0], parents)}
            self.peak_worker = max(self.peak_worker, status_mb(workers, "VmRSS"))
            backends = {pid for pid in parents if _is_backend(_cmdline(pid), self.database)}
            for kind, pids in (("seed", main), ("signing", workers), ("postgres", backends)):
                for pid in pids:
                    self.cpu[kind][pid] = max(self.cpu[kind].get(pid, 0.0), _cpu_seconds(pid))

    def cpu_seconds(self) -> dict[str, float]:
        return {kind: round(sum(by_pid.values()), 1) for kind, by_pid in self.cpu.items()}


def _descends(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    seen = 0
    while pid in parents and seen < 64:
        pid, seen = parents[pid], seen + 1
        if pid == ancestor:
            return True
    return False


def _cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _is_backend(args: list[bytes], database: bytes) -> bool:
    # A backend's title: "postgres: <user> <database> [local] <state>" (one argument).
    return bool(args) and args[0].startswith(b"postgres: ") and database in args[0].split()[2:3]


def _cpu_seconds(pid: int) -> float:
    """utime + stime of /proc/<pid>/stat, in seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(size: Size) -> None:
    """Seed (or reuse) the database of one size and record how long it took and how much memory."""
    memory_file = size.state / "seed-memory.json"
    watch = MemoryWatch(size.database)
    load_before = os.getloadavg()
    watch.start()
    try:
        size.dsn, size.sample, meta = bench_http.ensure_data(size.database, size.certs, size.state, SAMPLE)
    finally:
        watch.stop.set()
        watch.join()
    if watch.series:  # seeded just now
        memory = {
            "peak_seed_mb": round(watch.peak_main, 1),
            "peak_signing_worker_mb": round(watch.peak_worker, 1),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "cpu_seconds": watch.cpu_seconds(),
            "series": watch.series[:: max(1, len(watch.series) // 200)],
        }
        memory_file.write_text(json.dumps(memory, indent=1))
    memory = json.loads(memory_file.read_text()) if memory_file.exists() else {}
    size.seed = {**meta, **memory}
    size.seed["rate"] = size.certs / meta["wall_seconds"] if meta.get("wall_seconds") else 0.0


async def sample_spread(size: Size) -> None:
    """Where the sampled certificates lie in the table, as the share of all rows stored before them
    (heap order is seeding order: 0 = the first certificate seeded, 1 = the last), so a sample that
    covered only the first rows would show. Active rows only (the sample is never revoked, and a
    revoked row's new version moves); the empty pages COPY's bulk extension leaves do not count."""
    conn = await asyncpg.connect(size.dsn)
    try:
        per_page = await conn.fetch(
            "SELECT (ctid::text::point)[0]::bigint AS page, count(*) AS n FROM certificates"
            " WHERE status = 'active' GROUP BY 1 ORDER BY 1"
        )
        rows = await conn.fetch(
            "SELECT (ctid::text::point)[0]::bigint AS page FROM certificates WHERE number = ANY($1::text[])",
            [s["number"] for s in size.sample],
        )
    finally:
        await conn.close()
    before: dict[int, int] = {}
    total = 0
    for r in per_page:
        before[r["page"]] = total
        total += r["n"]
    where = sorted(before[r["page"]] / total for r in rows)
    q = statistics.quantiles(where, n=10)
    deciles = [sum(1 for w in where if i / 10 <= w < (i + 1) / 10) for i in range(10)]
    size.spread = {
        "found": len(where), "min": where[0], "p10": q[0], "p50": q[4], "p90": q[8], "max": where[-1],
        "fullest_decile": max(deciles) / len(where), "emptiest_decile": min(deciles) / len(where),
    }  # fmt: skip


# ------------------------------------------------------------------------------------ revocation


async def revoke(size: Size) -> None:
    """1% of the certificates revoked through ``Registry.certificate_event`` (the path of ``verify
    revoke``), never a sampled one; resumes where a previous run stopped."""
    want = round(size.certs * REVOKED_SHARE)
    settings = Settings.from_env(size.env())
    reg = await runtime.open_registry(settings, dsn=size.dsn, max_size=REVOKE_CONCURRENCY + 1)
    done_file = size.state / "revoked.json"
    try:
        have: int = await reg.pool.fetchval("SELECT count(*) FROM certificates WHERE status = 'revoked'")
        if have >= want:
            size.revocation = json.loads(done_file.read_text()) if done_file.exists() else {"count": have}
            log(f"{size.database}: {have:,} certificates already revoked")
            return
        log(f"{size.database}: revoking {want - have:,} certificates (1%) through Registry.certificate_event")
        t = time.perf_counter()
        picked = await reg.pool.fetch(
            "SELECT number FROM certificates WHERE status = 'active' AND number <> ALL($1::text[])"
            " ORDER BY random() LIMIT $2",
            [s["number"] for s in size.sample],
            want - have,
        )
        pick_seconds = time.perf_counter() - t
        numbers = iter([r["number"] for r in picked])
        today = today_cst()

        async def worker() -> None:
            for number in numbers:
                await reg.certificate_event(
                    CertificateEvent(number, "revoked", today, "data_error",
                                     "scale run: synthetic revocation (loadtests.scale)", "loadtests.scale",
                                     document_ref="SCALE-1PCT"),
                    actor="cli:scale",
                )  # fmt: skip

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(REVOKE_CONCURRENCY)))
        seconds = time.perf_counter() - t
        size.revocation = {
            "count": want, "seconds": round(seconds, 1), "rate": round((want - have) / seconds, 1),
            "pick_seconds": round(pick_seconds, 1), "path": "Registry.certificate_event",
            "concurrency": REVOKE_CONCURRENCY,
        }  # fmt: skip
        done_file.write_text(json.dumps(size.revocation, indent=2))
        log(f"{size.database}: revoked {want - have:,} in {seconds:.0f} s ({size.revocation['rate']:,.0f}/s)")
    finally:
        await reg.pool.close()


# ------------------------------------------------------------------------------------ sizes


async def measure_database(size: Size) -> None:
    """VACUUM ANALYZE, sizes on disk, and the status view's load (query + build, median of 5)."""
    conn = await asyncpg.connect(size.dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
        rows = await conn.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) AS total, pg_relation_size(c.oid) AS heap,"
            " pg_indexes_size(c.oid) AS indexes FROM pg_class c WHERE c.oid = ANY($1::regclass[])",
            list(TABLES),
        )
        size.sizes = {
            r["relname"]: {"total": r["total"], "heap": r["heap"], "indexes": r["indexes"]} for r in rows
        }
        index_rows = await conn.fetch(
            "SELECT i.indexrelid::regclass::text AS name, pg_relation_size(i.indexrelid) AS bytes"
            " FROM pg_index i WHERE i.indrelid = ANY($1::regclass[]) ORDER BY 2 DESC",
            ["certificates", "certificate_signatures"],
        )
        size.indexes = {r["name"]: r["bytes"] for r in index_rows}
        size.database_bytes = await conn.fetchval("SELECT pg_database_size(current_database())")
        timings = []
        count = 0
        for _ in range(5):
            t = time.perf_counter()
            _, certificates, institutions, keys = await status.status_snapshot_rows(conn)
            build_snapshot(certificates, institutions, keys, as_of=datetime.now(UTC))
            timings.append(time.perf_counter() - t)
            count = len(certificates)
        checks = []
        for _ in range(5):  # what the 30-second background refresh costs when nothing changed
            t = time.perf_counter()
            await status.certificate_events_count(conn)
            await status.issuer_and_key_rows(conn)
            checks.append(time.perf_counter() - t)
        size.status_load = {
            "rows": count,
            "ms": statistics.median(timings) * 1000,
            "check_ms": statistics.median(checks) * 1000,
        }
    finally:
        await conn.close()


# ------------------------------------------------------------------------------------ serving


@contextlib.contextmanager
def serve(size: Size) -> Iterator[tuple[int, set[int]]]:
    """``verify serve --workers 2`` on this size's database; yields (port, worker pids)."""
    port = free_port()
    env = {**size.env(), "VERIFY_TRUST_PROXY": "1"}
    logfile = open(size.state / "verify.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "verify"), "serve", "--workers", "2", "--port", str(port)],
        env=env, cwd=ROOT, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        bench_http.wait_ready("verify", f"http://127.0.0.1:{port}/healthz", proc, 180, size.state)
        workers: set[int] = set()
        for _ in range(400):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                workers.add(json.loads(r.read())["status_view"]["worker"])
            if len(workers) >= 2:
                break
        yield port, workers
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        logfile.close()


def check_answers(port: int, size: Size) -> None:
    """One request per target by hand first: valid, found (the sample is never revoked)."""
    s = size.sample[0]
    for path, body in (
        (f"/api/v1/verify/{s['qr_path'].rpartition('/')[2]}", None),
        ("/api/v1/lookup", {"number": s["number"], "name": s["name"]}),
        ("/api/v1/lookup", {"id_number": s["id_number"], "id_type": s["id_type"], "name": s["name"]}),
    ):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", data=data,
            headers={"content-type": "application/json", "accept": "application/json",
                     "x-forwarded-for": "10.255.255.1"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            answer = json.loads(r.read())
        if not (answer.get("outcome") == "valid" or answer.get("found") is True):
            raise SystemExit(f"unexpected answer from {path} on {size.database}: {answer}")


def measure_round(size: Size, round_no: int) -> None:
    with serve(size) as (port, workers):
        check_answers(port, size)
        shift = round_no % len(TARGETS)
        order = TARGETS[shift:] + TARGETS[:shift]
        for t in order:
            bench_http.run_wrk(
                t, port, WARMUP_SECONDS, state=size.state, threads=THREADS, connections=CONNECTIONS
            )
        for t in order:
            result = bench_http.run_wrk(
                t, port, SECONDS, state=size.state, threads=THREADS, connections=CONNECTIONS
            )
            result["load1"] = os.getloadavg()[0]
            size.results.setdefault(t.name, []).append(result)
            log(f"round {round_no + 1} {size.label} {t.name}: {result['rps']:,.0f} req/s, p50 "
                f"{result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, errors {result['errors']:.0f}, "
                f"load {result['load1']:.2f}")  # fmt: skip
        rss = {f"rss_{i}": status_mb({pid}, "VmRSS") for i, pid in enumerate(sorted(workers))}
        rss |= {f"hwm_{i}": status_mb({pid}, "VmHWM") for i, pid in enumerate(sorted(workers))}
        size.rss.append(rss)
        log(
            f"round {round_no + 1} {size.label} worker RSS: "
            + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items())
        )


# ------------------------------------------------------------------------------------ report


def _mb(n: float) -> str:
    if n < 2**20:
        return f"{n / 2**10:,.0f} kB"
    return f"{n / 2**20:,.0f} MB" if n < 2**30 else f"{n / 2**30:,.2f} GB"


def _median(size: Size, target: str, key: str) -> float:
    return statistics.median(r[key] for r in size.results[target])


def worker_rss(size: Size) -> float:
    """The largest worker VmRSS after any round."""
    return max(v for r in size.rss for k, v in r.items() if k.startswith("rss_"))


def worker_hwm(size: Size) -> float:
    return max(v for r in size.rss for k, v in r.items() if k.startswith("hwm_"))


def tables(small: Size, big: Size) -> list[str]:
    s, b = small, big
    n_s, n_b = f"{s.certs:,}", f"{b.certs:,}"

    def row(label: str, a: str, c: str, ratio: str = "", target: str = "") -> str:
        return f"| {label} | {a} | {c} | {ratio} | {target} |"

    def size_row(table: str) -> str:
        x, y = s.sizes[table], b.sizes[table]
        return row(f"`{table}`: total (heap + indexes)",
                   f"{_mb(x['total'])} ({_mb(x['heap'])} + {_mb(x['indexes'])})",
                   f"{_mb(y['total'])} ({_mb(y['heap'])} + {_mb(y['indexes'])})",
                   f"{y['total'] / max(1, x['total']):.1f}×")  # fmt: skip

    def rev(z: Size) -> str:
        r = z.revocation
        if "seconds" in r:
            return f"{r['count']:,} in {r['seconds']:,.0f} s ({r['rate']:,.0f}/s)"
        return f"{r.get('count', 0):,}"

    def cpu(z: Size) -> str:
        c = z.seed.get("cpu_seconds")
        return f"{c['seed']:,.0f} / {c['signing']:,.0f} / {c['postgres']:,.0f} s" if c else "–"

    def spread(z: Size) -> str:
        p = z.spread
        return f"{p['min']:.3f} / {p['p50']:.2f} / {p['max']:.3f} (deciles {p['emptiest_decile']:.1%}–{p['fullest_decile']:.1%})"

    out = [
        f"| measure | {n_s} | {n_b} | big / small | target |",
        "|---|---:|---:|---:|---|",
        row("seed: wall time (`verify seed`, signed)", f"{s.seed['wall_seconds']:,.0f} s",
            f"{b.seed['wall_seconds']:,.0f} s ({b.seed['wall_seconds'] / 60:.0f} min)",
            f"{b.seed['wall_seconds'] / s.seed['wall_seconds']:.0f}×"),
        row("seed: rate", f"{s.seed['rate']:,.0f} certificates/s", f"{b.seed['rate']:,.0f} certificates/s",
            f"{b.seed['rate'] / s.seed['rate']:.2f}×"),
        row("seed: peak RSS, seed process / a signing worker",
            f"{s.seed.get('peak_seed_mb', 0):.0f} / {s.seed.get('peak_signing_worker_mb', 0):.0f} MB",
            f"{b.seed.get('peak_seed_mb', 0):.0f} / {b.seed.get('peak_signing_worker_mb', 0):.0f} MB", "", "bounded"),
        row("seed: CPU seconds, seed process / signing workers / PostgreSQL backend", cpu(s), cpu(b)),
        row("sample (10,000) position in the table: min / median / max", spread(s), spread(b), "",
            "uniform"),
        row("revoked (1%), `Registry.certificate_event`", rev(s), rev(b)),
        row("database size", _mb(s.database_bytes), _mb(b.database_bytes),
            f"{b.database_bytes / s.database_bytes:.1f}×"),
        *(size_row(t) for t in ("certificates", "certificate_signatures", "certificate_events", "audit_log")),
        row("bytes per certificate (database size / certificates)", f"{s.database_bytes / s.certs:,.0f}",
            f"{b.database_bytes / b.certs:,.0f}"),
        row("status view: exceptions held / full reload / background check when unchanged",
            f"{s.status_load['rows']:,} / {s.status_load['ms']:.0f} ms / {s.status_load['check_ms']:.1f} ms",
            f"{b.status_load['rows']:,} / {b.status_load['ms']:.0f} ms / {b.status_load['check_ms']:.1f} ms"),
        row("worker RSS after the runs, largest (peak VmHWM)", f"{worker_rss(s):.0f} MB ({worker_hwm(s):.0f} MB)",
            f"{worker_rss(b):.0f} MB ({worker_hwm(b):.0f} MB)", f"{worker_rss(b) / worker_rss(s):.2f}×",
            f"≤ {RSS_TARGET_MB:.0f} MB at {n_b}: {'met' if worker_rss(b) <= RSS_TARGET_MB else '**not met**'}"),
        "",
        f"| target (wrk -t{THREADS} -c{CONNECTIONS}) | p50 ms {n_s} | p50 ms {n_b} | p50 big/small "
        f"| p99 ms {n_s} | p99 ms {n_b} | p99 big/small (target ≤ {P99_TARGET}) | req/s {n_s} | req/s {n_b} "
        f"| errors / requests {n_s} | errors / requests {n_b} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for t in TARGETS:
        p50s, p50b = _median(s, t.name, "p50_ms"), _median(b, t.name, "p50_ms")
        p99s, p99b = _median(s, t.name, "p99_ms"), _median(b, t.name, "p99_ms")
        ratio = p99b / p99s
        mark = "" if ratio <= P99_TARGET else " **not met**"
        out.append(
            f"| {t.name} | {p50s:.2f} | {p50b:.2f} | {p50b / p50s:.2f}× | {p99s:.2f} | {p99b:.2f} "
            f"| {ratio:.2f}×{mark} | {_median(s, t.name, 'rps'):,.0f} | {_median(b, t.name, 'rps'):,.0f} "
            f"| {errors(s, t.name)} | {errors(b, t.name)} |"
        )
    return out


def errors(size: Size, target: str) -> str:
    rounds = size.results[target]
    return f"{sum(r['errors'] for r in rounds):,.0f} / {sum(r['requests'] for r in rounds):,.0f}"


def index_table(big: Size) -> list[str]:
    out = [f"| index at {big.certs:,} | size |", "|---|---:|"]
    out += [f"| `{name}` | {_mb(n)} |" for name, n in big.indexes.items()]
    return out


def notes(small: Size, big: Size, load_before: tuple[float, ...], load_after: tuple[float, ...]) -> list[str]:
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n", 1)[0]
    wrk_version = wrk_version.split(" Copyright", 1)[0].strip()
    pg = asyncio.run(_server_version(big.dsn))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    seed_loads = "; ".join(
        f"{z.label} {z.seed['load_before'][0]:.2f} → {z.seed['load_after'][0]:.2f}"
        for z in (small, big) if z.seed.get("load_before")
    )  # fmt: skip
    loads = [r["load1"] for z in (small, big) for rs in z.results.values() for r in rs]
    return [
        f"- Run {date.today().isoformat()}: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, "
        f"Python {platform.python_version()}, PostgreSQL {pg} (embedded, its default settings: "
        f"shared_buffers 128MB), {wrk_version or 'wrk'}. The machine is shared with other work: load "
        f"average (1/5/15 min) before the latency rounds {load_before[0]:.2f} / {load_before[1]:.2f} / "
        f"{load_before[2]:.2f}, after {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f}; "
        f"1-min load during the wrk runs {min(loads):.2f}–{max(loads):.2f}"
        + (f"; 1-min load before → after each seed: {seed_loads}." if seed_loads else "."),
        f"- Data: `verify seed --institutions {bench_http.INSTITUTIONS} --certificates N --sample-out …"
        f" --sample {SAMPLE}` into `{small.database}` and `{big.database}` (every certificate signed and "
        "published; the sample is drawn uniformly from all N, and its position in the table is checked "
        "from each row's heap page). Then 1% of each database's certificates (never a sampled one) "
        "revoked through the revocation use case (`Registry.certificate_event`, as `verify revoke`: "
        f"event row, status, audit row, NOTIFY; {REVOKE_CONCURRENCY} at a time), then `VACUUM ANALYZE`.",
        f"- Load: `verify serve --workers 2` (production settings except `VERIFY_TRUST_PROXY=1`, random "
        f"X-Forwarded-For per request) on one database at a time, in the order small, big, small, big, …"
        f" ({ROUNDS} rounds, a fresh server each time); per target a {WARMUP_SECONDS} s warm-up, then "
        f"`wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s` (closed loop: 8 connections, each sending its next "
        "request when the answer arrives); p50, p99 and req/s are medians over the rounds. Worker RSS is "
        "VmRSS of each worker after a round's runs (with the status view holding every revoked "
        "certificate).",
    ]


async def _server_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


def write_csv(small: Size, big: Size) -> None:
    with open(CSV_OUT, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["certificates", "measure", "round", "value", "unit"])
        for z in (small, big):
            for key, unit in (("wall_seconds", "s"), ("rate", "certificates/s"), ("peak_seed_mb", "MB"),
                              ("peak_signing_worker_mb", "MB")):  # fmt: skip
                if key in z.seed:
                    w.writerow([z.certs, f"seed {key}", "", f"{z.seed[key]:.1f}", unit])
            for key, value in z.spread.items():
                w.writerow([z.certs, f"sample position {key}", "", f"{value:.4f}", "fraction"])
            for key in ("count", "seconds", "rate"):
                if key in z.revocation:
                    w.writerow([z.certs, f"revoked {key}", "", z.revocation[key], ""])
            w.writerow([z.certs, "database size", "", z.database_bytes, "bytes"])
            for table, parts in z.sizes.items():
                for part, n in parts.items():
                    w.writerow([z.certs, f"{table} {part}", "", n, "bytes"])
            for name, n in z.indexes.items():
                w.writerow([z.certs, f"index {name}", "", n, "bytes"])
            w.writerow([z.certs, "status view rows", "", z.status_load["rows"], "certificates"])
            w.writerow([z.certs, "status view reload", "", f"{z.status_load['ms']:.1f}", "ms"])
            w.writerow([z.certs, "status view unchanged check", "", f"{z.status_load['check_ms']:.2f}", "ms"])
            for target, rounds in z.results.items():
                for i, r in enumerate(rounds, 1):
                    for key, unit in (("p50_ms", "ms"), ("p99_ms", "ms"), ("rps", "req/s"),
                                      ("errors", "count"), ("requests", "count"), ("load1", "load")):  # fmt: skip
                        w.writerow([z.certs, f"{target} {key}", i, f"{r[key]:.2f}", unit])
                for key in ("p50_ms", "p99_ms", "rps"):
                    w.writerow([z.certs, f"{target} {key}", "median", f"{_median(z, target, key):.2f}", ""])
            for i, r in enumerate(z.rss, 1):
                for key, value in r.items():
                    w.writerow([z.certs, f"worker {key}", i, f"{value:.1f}", "MB"])


SECTION = "## Scale: 10 million certificates"


def write_doc(block_lines: list[str]) -> None:
    update_marked_section(DOC, START, END, SECTION, "\n".join(block_lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-write", action="store_true", help="print the table; write no file")
    parser.add_argument("--data-only", action="store_true", help="seed, revoke and measure sizes; no load")
    args = parser.parse_args()
    if shutil.which("wrk") is None and not args.data_only:
        raise SystemExit("wrk is missing: apt-get install -y wrk (make scale does it)")
    small = Size("small", SMALL, "verify_scale_small", STATE / "small")
    big = Size("big", BIG, "verify_scale_big", STATE / "big")
    for z in (small, big):
        z.state.mkdir(parents=True, exist_ok=True)
        seed(z)
        log(f"{z.database}: {z.certs:,} certificates, seeded in {z.seed['wall_seconds']:,.0f} s "
            f"({z.seed['rate']:,.0f}/s), seed process peak RSS {z.seed.get('peak_seed_mb', 0):.0f} MB")  # fmt: skip
        asyncio.run(sample_spread(z))
        log(f"{z.database}: sample position in the table {z.spread}")
        asyncio.run(revoke(z))
        asyncio.run(measure_database(z))
        log(f"{z.database}: {_mb(z.database_bytes)} on disk; status view {z.status_load}")
        bench_http.write_lines(z.sample, z.state)
    if args.data_only:
        return
    load_before = os.getloadavg()
    for round_no in range(ROUNDS):
        for z in (small, big):
            measure_round(z, round_no)
    load_after = os.getloadavg()
    block = [
        *notes(small, big, load_before, load_after),
        "",
        *tables(small, big),
        "",
        *index_table(big),
        "",
        "Every figure and round is in [docs/scale.csv](scale.csv). Reproduce: `make scale` (`SCALE_CERTS`, "
        "`SCALE_SMALL`, `SCALE_SECONDS`, `SCALE_ROUNDS`); seeded databases are reused.",
    ]
    print("\n".join(["", *block]))
    if not args.no_write:
        write_csv(small, big)
        write_doc(block)
        log(f"wrote {CSV_OUT.relative_to(ROOT)} and the scale section of {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

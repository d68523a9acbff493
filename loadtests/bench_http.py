"""HTTP benchmark (``make bench-http``): the running service under wrk, beside reference peers
measured in the same rounds on the same machine and database.

1. Seeds ``BENCH_HTTP_CERTS`` (default 100,000) signed certificates with ``verify seed`` into a
   database of its own (``verify_bench_http`` on the embedded cluster), with a 10,000-line sample
   file; reused when already there (state under var/bench-http/).
2. Starts ``verify serve --workers 2`` (production settings, except ``VERIFY_TRUST_PROXY=1``: wrk
   sends a random X-Forwarded-For address per request, so the per-address lookup budget, which is
   still checked in the database on every lookup, never refuses the load generator), the two peers
   and the ceiling (loadtests/peers/, 2 workers each).
3. Runs ``wrk -t2 -c64 -d${BENCH_HTTP_SECONDS:-15}s`` per target, ``BENCH_HTTP_ROUNDS`` (default 3)
   interleaved rounds with the order rotated each round, and reports medians.
4. Prints the table and writes it into docs/BENCHMARKS.md (between the bench-http markers) and
   docs/bench-http.csv (every round, then the medians).

Everything (wrk, servers, PostgreSQL) shares the machine's cores: compare ratios, not absolutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from loadtests.local import free_port, update_marked_section
from verify.config import Settings
from verify.services import runtime

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "var" / "bench-http"
DATABASE = "verify_bench_http"
LUA = ROOT / "loadtests" / "wrk" / "lines.lua"
DOC = ROOT / "docs" / "BENCHMARKS.md"
CSV_OUT = ROOT / "docs" / "bench-http.csv"
START, END = "<!-- bench-http:start -->", "<!-- bench-http:end -->"

CERTS = int(os.environ.get("BENCH_HTTP_CERTS", "100000"))
SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "15"))
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
INSTITUTIONS = 660  # Henan scale (rule 74), as bench_registry seeds
SAMPLE = 10_000  # distinct certificates of the "cold" targets
HOT = 100  # distinct certificates of the "hot" target
WORKERS = 2
# Bench-only secrets for a throwaway database: never used anywhere else.
PASSPHRASE = "bench-http passphrase, not a secret"  # noqa: S105 - a throwaway bench key
INDEX_KEY = hashlib.sha256(b"verify bench-http index key").hexdigest()
ENC_KEY = hashlib.sha256(b"verify bench-http encryption key").hexdigest()


@dataclass
class Target:
    name: str
    server: str  # which server answers: verify, peer_a, peer_b, ceiling
    lines: str  # file of request lines under STATE
    method: str = "GET"
    accept: str = "application/json"
    rounds: list[dict[str, float]] = field(default_factory=list)


TARGETS = [
    Target("QR JSON /api/v1/verify cold (10k certs)", "verify", "verify-cold.txt"),
    Target("QR JSON /api/v1/verify hot (100 certs)", "verify", "verify-hot.txt"),
    Target("QR landing page /c/ HTML cold (10k)", "verify", "landing-cold.txt", accept="text/html"),
    Target("lookup POST number+name", "verify", "lookup-number.jsonl", method="POST"),
    Target("lookup POST ID+name", "verify", "lookup-id.jsonl", method="POST"),
    Target("peer A: Starlette+asyncpg PK SELECT", "peer_a", "peer.txt"),
    Target("peer B: FastAPI+SQLAlchemy ORM", "peer_b", "peer.txt"),
    Target("ceiling: Starlette, in-process dict", "ceiling", "peer.txt"),
]


def log(message: str) -> None:
    print(f"[bench-http {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def base_env(dsn: str, state: Path = STATE) -> dict[str, str]:
    """The environment of the CLI and the service for a benchmark database (keys under ``state``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    env.update(
        VERIFY_HOME=str(ROOT / "var"),
        VERIFY_DATABASE_URL=dsn,
        VERIFY_SIGNING_KEYS_DIR=str(state / "signing-keys"),
        VERIFY_PUBLIC_KEYS_DIR=str(state / "public-keys"),
        VERIFY_KEY_PASSPHRASE=PASSPHRASE,
        VERIFY_ID_INDEX_KEY=INDEX_KEY,
        VERIFY_ID_ENC_KEY=ENC_KEY,
    )
    return env


def verify_cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "verify"), *args], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout


# ------------------------------------------------------------------------------------ the data


async def _signed_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        if not await conn.fetchval("SELECT to_regclass('certificate_signatures') IS NOT NULL"):
            return 0
        count: int = await conn.fetchval(
            "SELECT count(*) FROM certificate_signatures s JOIN certificates c ON c.number = s.number"
            " JOIN batches b ON b.id = c.batch_id WHERE b.state = 'published' AND b.submitted_by = 'seed'"
        )
        return count
    finally:
        await conn.close()


async def _recreate(admin_dsn: str, database: str = DATABASE) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {database}")
    finally:
        await conn.close()


def ensure_data(
    database: str = DATABASE, certs: int = CERTS, state: Path = STATE, sample_size: int = SAMPLE
) -> tuple[str, list[dict[str, str]], dict[str, Any]]:
    """The benchmark database's DSN and sample lines, seeding them first when missing (a fresh
    database, ``certs`` signed certificates, a ``sample_size``-line sample file under ``state``).
    Shared with loadtests.scale, which seeds two databases of its own."""
    settings = Settings.from_env({"VERIFY_HOME": str(ROOT / "var")})
    runtime.ensure_database(settings, database)
    # The schema owner's URL: a fresh database must be migrated by its owner (D37), and the service
    # and the peers then read it with the same role, so that they differ only in their code.
    dsn = runtime.migration_dsn(settings, database)
    sample_file, meta_file = state / "sample.jsonl", state / "seeded.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    if (
        meta.get("certificates") == certs
        and sample_file.exists()
        and asyncio.run(_signed_count(dsn)) == certs
    ):
        log(f"reusing {certs:,} seeded certificates in {database}")
    else:
        log(f"seeding {certs:,} signed certificates into {database} (fresh database)")
        asyncio.run(_recreate(runtime.embedded_cluster(settings).dsn("postgres"), database))
        state.mkdir(parents=True, exist_ok=True)
        env = base_env(dsn, state)
        verify_cli(env, "db", "migrate")
        verify_cli(env, "keys", "dev")
        t = time.perf_counter()
        out = verify_cli(
            env, "seed", "--institutions", str(INSTITUTIONS), "--certificates", str(certs),
            "--seed", "20261202", "--sample-out", str(sample_file), "--sample", str(sample_size),
        )  # fmt: skip
        seconds = time.perf_counter() - t
        meta = {**json.loads(out), "certificates": certs, "wall_seconds": round(seconds, 1)}
        meta_file.write_text(json.dumps(meta, indent=2))
        log(f"seeded in {seconds:.0f} s ({certs / seconds:,.0f} certificates/s, with signing)")
        conn_env = dsn

        async def analyze() -> None:
            conn = await asyncpg.connect(conn_env)
            try:
                await conn.execute("VACUUM ANALYZE")
            finally:
                await conn.close()

        asyncio.run(analyze())
    sample = [json.loads(line) for line in sample_file.read_text(encoding="utf-8").splitlines() if line]
    return dsn, sample, meta


def write_lines(sample: list[dict[str, str]], state: Path = STATE) -> None:
    """One request per line for the wrk script (loadtests/wrk/lines.lua), under ``state``."""
    payloads = [s["qr_path"].rpartition("/")[2] for s in sample]
    files = {
        "verify-cold.txt": [f"/api/v1/verify/{p}" for p in payloads],
        "verify-hot.txt": [f"/api/v1/verify/{p}" for p in payloads[:HOT]],
        "landing-cold.txt": [s["qr_path"] for s in sample],
        "lookup-number.jsonl": [
            json.dumps({"number": s["number"], "name": s["name"]}, ensure_ascii=False) for s in sample
        ],
        "lookup-id.jsonl": [
            json.dumps(
                {"id_number": s["id_number"], "id_type": s["id_type"], "name": s["name"]}, ensure_ascii=False
            )
            for s in sample
        ],  # fmt: skip
        "peer.txt": [f"/n/{s['number']}" for s in sample],
    }
    for name, lines in files.items():
        (state / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------ the servers


@contextlib.contextmanager
def servers(dsn: str) -> Iterator[dict[str, int]]:
    """Start the service and the peers (each in its own process group); stop them on exit."""
    env = base_env(dsn)
    ports = {name: free_port() for name in ("verify", "peer_a", "peer_b", "ceiling")}
    service_env = {**env, "VERIFY_TRUST_PROXY": "1"}
    peer_env = {**env, "PEER_DSN": dsn, "PEER_SAMPLE": str(STATE / "sample.jsonl")}
    python = str(ROOT / ".venv" / "bin" / "python")
    commands = {
        "verify": ([str(ROOT / ".venv" / "bin" / "verify"), "serve", "--workers", str(WORKERS),
                    "--port", str(ports["verify"])], service_env),
        **{
            name: ([python, "-m", "uvicorn", f"loadtests.peers.{name}:app", "--workers", str(WORKERS),
                    "--port", str(ports[name]), "--no-access-log", "--log-level", "warning"], peer_env)
            for name in ("peer_a", "peer_b", "ceiling")
        },
    }  # fmt: skip
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, (command, proc_env) in commands.items():
            logfile = open(STATE / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            procs[name] = subprocess.Popen(
                command, env=proc_env, cwd=ROOT, stdout=logfile, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        first = (STATE / "peer.txt").read_text().split("\n", 1)[0]
        for name, port in ports.items():
            path = "/healthz" if name == "verify" else first
            wait_ready(name, f"http://127.0.0.1:{port}{path}", procs[name])
        yield ports
    finally:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_ready(
    name: str, url: str, proc: subprocess.Popen[bytes], within: float = 90, logs: Path = STATE
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}; see {logs / (name + '.log')}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback http
            if r.status == 200:
                return
        time.sleep(0.3)
    raise SystemExit(f"{name} did not answer {url} within {within:.0f} s")


# ------------------------------------------------------------------------------------ wrk


def run_wrk(
    target: Target, port: int, seconds: int, *, state: Path = STATE, threads: int = 2, connections: int = 64
) -> dict[str, float]:
    env = {
        **os.environ,
        "WRK_LINES": str(state / target.lines),
        "WRK_METHOD": target.method,
        "WRK_ACCEPT": target.accept,
    }
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA),
               f"http://127.0.0.1:{port}"]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary for {target.name}:\n{out}")
    s = json.loads(line.removeprefix("WRK_JSON "))
    errors = s["connect"] + s["read"] + s["write"] + s["timeout"] + s["status"]
    return {
        "rps": s["requests"] / (s["duration_us"] / 1e6),
        "p50_ms": s["p50_us"] / 1000,
        "p99_ms": s["p99_us"] / 1000,
        "errors": errors,
        "requests": s["requests"],
    }


def check_answers(ports: dict[str, int], sample: list[dict[str, str]]) -> None:
    """One request per target by hand first: the load must be answered, not refused."""
    s = sample[0]
    payload_text = s["qr_path"].rpartition("/")[2]
    for url, body in (
        (f"http://127.0.0.1:{ports['verify']}/api/v1/verify/{payload_text}", None),
        (f"http://127.0.0.1:{ports['verify']}/api/v1/lookup", {"number": s["number"], "name": s["name"]}),
        (f"http://127.0.0.1:{ports['verify']}/api/v1/lookup",
         {"id_number": s["id_number"], "id_type": s["id_type"], "name": s["name"]}),
        *((f"http://127.0.0.1:{ports[p]}/n/{s['number']}", None) for p in ("peer_a", "peer_b", "ceiling")),
    ):  # fmt: skip
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json", "accept": "application/json"}
        request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback http
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
            answer = json.loads(r.read())
        ok = answer.get("outcome") == "valid" or answer.get("found") is True
        if not ok:
            raise SystemExit(f"unexpected answer from {url}: {answer}")


# ------------------------------------------------------------------------------------ report


def medians(t: Target) -> dict[str, float]:
    return {
        "rps": statistics.median(r["rps"] for r in t.rounds),
        "p50_ms": statistics.median(r["p50_ms"] for r in t.rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in t.rounds),
        "errors": sum(r["errors"] for r in t.rounds),
        "requests": sum(r["requests"] for r in t.rounds),
    }


def ratio(t: Target, reference: Target) -> float:
    """The median over rounds of this target's req/s over the reference's in the same round: the
    noise of a shared machine moves both alike within a round, less so across rounds."""
    return statistics.median(a["rps"] / b["rps"] for a, b in zip(t.rounds, reference.rounds, strict=True))


def table(rows: list[tuple[Target, dict[str, float]]]) -> list[str]:
    peer_a = next(t for t, _ in rows if t.server == "peer_a")
    ceiling = next(t for t, _ in rows if t.server == "ceiling")
    out = [
        "| target | req/s | p50 ms | p99 ms | errors / requests | vs peer A | vs ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t, m in rows:
        out.append(
            f"| {t.name} | {m['rps']:,.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} "
            f"| {m['errors']:,.0f} / {m['requests']:,.0f} | {ratio(t, peer_a):.2f}× | {ratio(t, ceiling):.2f}× |"
        )
    return out


def environment(
    meta: dict[str, Any], load_before: tuple[float, float, float], load_after: tuple[float, float, float]
) -> list[str]:
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n", 1)[0]
    wrk_version = wrk_version.split(" Copyright", 1)[0].strip()
    return [
        f"- Run {date.today().isoformat()}: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {wrk_version or 'wrk'}; load average before the run "
        f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}, after "
        f"{load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f} (1/5/15 min; the machine is shared "
        "with other work, so rounds vary).",
        f"- Data: {CERTS:,} signed certificates from `verify seed` ({INSTITUTIONS} institutions) in the "
        f"`{DATABASE}` database of the embedded PostgreSQL; seeding took {meta.get('wall_seconds', '?')} s.",
        f"- Load: `wrk -t2 -c64 -d{SECONDS}s` per target, {ROUNDS} interleaved rounds (order rotated each "
        "round); req/s, p50 and p99 are medians over the rounds, the ratios are medians of the same-round "
        "ratios; errors are socket errors + non-2xx answers, summed over the rounds.",
    ]


def write_outputs(rows: list[tuple[Target, dict[str, float]]], notes: list[str]) -> None:
    with open(CSV_OUT, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["target", "round", "req_per_s", "p50_ms", "p99_ms", "errors", "requests"])
        for t, m in rows:
            for i, r in enumerate(t.rounds, 1):
                w.writerow([t.name, i, f"{r['rps']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
                            int(r["errors"]), int(r["requests"])])  # fmt: skip
            w.writerow([t.name, "median", f"{m['rps']:.0f}", f"{m['p50_ms']:.2f}", f"{m['p99_ms']:.2f}",
                        int(m["errors"]), int(m["requests"])])  # fmt: skip
    body = "\n".join([
        *notes,
        "",
        *table(rows),
        "",
        "Every round is in [docs/bench-http.csv](bench-http.csv). Reproduce: `make bench-http`",
        "(`BENCH_HTTP_CERTS`, `BENCH_HTTP_SECONDS`, `BENCH_HTTP_ROUNDS` scale it).",
    ])  # fmt: skip
    update_marked_section(DOC, START, END, SECTION, body)


SECTION = """## HTTP under load: the service beside reference peers (`make bench-http`)

`python -m loadtests.bench_http` runs the real server (`verify serve --workers 2`, production
settings except `VERIFY_TRUST_PROXY=1`, so that wrk can send a random `X-Forwarded-For` per
request: the per-address lookup budget is still checked in the database on every lookup, it just
never refuses the load generator) and three reference apps of a few dozen lines each
(`loadtests/peers/`, 2 uvicorn workers each, no access log) on the same seeded database:
**peer A** is Starlette + uvicorn + asyncpg doing the one primary-key `SELECT` of a published
certificate (the query `verify.db.certificates.published_certificate` runs) and answering JSON;
**peer B** is FastAPI + SQLAlchemy 2 async ORM (asyncpg driver) doing the same; the **ceiling** is
Starlette answering the same JSON from an in-process dict (no database). wrk, the servers and
PostgreSQL share the same cores, so only the ratios carry over to other machines. The service's
own access log is on (its production default); the peers have none."""


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (make bench-http does it)")
    load_before = os.getloadavg()
    dsn, sample, meta = ensure_data()
    write_lines(sample)
    log(f"{len(sample):,} sample certificates; starting the service and the peers")
    with servers(dsn) as ports:
        check_answers(ports, sample)
        log("warming up every target (3 s each)")
        for t in TARGETS:
            run_wrk(t, ports[t.server], 3)
        for round_no in range(ROUNDS):
            shift = round_no * 3 % len(TARGETS)
            order = TARGETS[shift:] + TARGETS[:shift]
            for t in order:
                result = run_wrk(t, ports[t.server], SECONDS)
                t.rounds.append(result)
                log(f"round {round_no + 1}/{ROUNDS} {t.name}: {result['rps']:,.0f} req/s, "
                    f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, errors {result['errors']:.0f}")  # fmt: skip
    rows = [(t, medians(t)) for t in TARGETS]
    notes = environment(meta, load_before, os.getloadavg())
    print("\n".join(["", *notes, "", *table(rows)]))
    write_outputs(rows, notes)
    log(f"wrote {CSV_OUT.relative_to(ROOT)} and the bench-http section of {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

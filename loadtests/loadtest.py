"""Load test of the public service with the real traffic mix (``make loadtest``, ``make loadtest-smoke``).

    python -m loadtests.loadtest --seconds 60 [--users 200] [--workers 2] [--sample FILE] [--shared-cluster]
    python -m loadtests.loadtest --smoke        # 20 s, a few users; no docs written; exit 1 on any failure

What it does, and undoes:

1. **Database.** Its own embedded PostgreSQL cluster under ``var/loadtest/home`` (kept between runs,
   so the data is loaded once; started here and stopped at the end), or with ``--shared-cluster``
   a dedicated database ``verify_loadtest`` on the cluster of ``verify db url`` (created if missing;
   that cluster is started only if it is not running, and then stopped again).
2. **Data.** ``verify keys dev`` and ``verify demo --ensure`` with ``VERIFY_HOME=var/loadtest/home``.
   The sample of certificates the users draw from is ``--sample FILE`` if given; otherwise
   ``verify seed --sample-out`` when that option exists (run once, the file kept in var/loadtest);
   otherwise built from the demo data: ``verify demo`` (number, name, ID) joined with
   ``verify qr --all --url`` (the number read from each signed payload).
3. **Server.** ``verify serve --workers 2`` on a free loopback port with production settings: access
   log on (``VERIFY_ACCESS_LOG=1``, stderr to ``var/loadtest/logs/server.log``), the production lookup
   budgets, and ``VERIFY_TRUST_PROXY=1`` as behind the production proxy — the one allowance for the
   load generator: each simulated user sends its own private ``X-Forwarded-For`` address, so the
   10-a-minute budget applies per simulated client (loadtests/locustfile.py explains it).
4. **Load.** locust headless with ``--workers`` worker processes (``--processes N``; a master and
   ``--worker`` processes on a locust without it) for ``--seconds``.
5. **Results.** p50 / p95 / p99, req/s and failure ratio per scenario from locust's ``--csv`` output:
   ``docs/loadtest.csv`` and a Markdown table in docs/BENCHMARKS.md between ``<!-- loadtest:start -->``
   and ``<!-- loadtest:end -->`` (not with ``--smoke``).

Every process it started (server, locust, a cluster it started) is stopped at the end, also on
failure or Ctrl-C.
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
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from loadtests.local import free_port, update_marked_section

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "loadtest"
HOME = WORK / "home"
LOGS = WORK / "logs"
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
CSV_OUT = ROOT / "docs" / "loadtest.csv"
BENCHMARKS = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- loadtest:start -->", "<!-- loadtest:end -->"
SECTION_TITLE = "## Load test: the public traffic mix (locust)"
DATABASE = "verify_loadtest"
SAMPLE_ENV = "VERIFY_LOADTEST_SAMPLE"  # loadtests.locustfile.SAMPLE_ENV (not imported: it imports locust)
TOKEN_ENV = "VERIFY_LOADTEST_TOKEN"  # noqa: S105 - the name of a variable; loadtests.locustfile.TOKEN_ENV
VERIFIER = "loadtest-verifier"
SEED_SAMPLES = {
    False: WORK / "seed-sample-own.jsonl",
    True: WORK / "seed-sample-shared.jsonl",
}  # per database
DEMO_SAMPLE = WORK / "demo-sample.jsonl"
SEED_ARGS = ("--institutions", "40", "--certificates", "20000", "--seed", "20261202", "--sample", "2000")
SMOKE = {"seconds": 20, "users": 8, "spawn_rate": 8}


def log(message: str) -> None:
    print(f"[loadtest] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- processes


class Processes:
    """Every process this run starts, each in a session of its own, stopped by id at the end."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, label: str, cmd: Sequence[str], env: dict[str, str], out: Path
    ) -> subprocess.Popen[bytes]:
        with out.open("ab") as sink:
            proc = subprocess.Popen(
                list(cmd), env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append((label, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
        """SIGTERM the process (uvicorn and locust stop their own children), then SIGKILL what is
        left of its process group (the session it was started in) after ``grace`` seconds."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group of this process only (start_new_session)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self.running = [(lbl, p) for lbl, p in self.running if p is not proc]

    def stop_all(self) -> None:
        for label, proc in reversed(self.running):
            log(f"stopping {label} (pid {proc.pid})")
            self.stop(proc)


# ------------------------------------------------------------------------------------ verify CLI


def verify(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "verify", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(
            f"verify {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}{done.stdout[-2000:]}"
        )
    return done.stdout


def base_env(base_url: str) -> dict[str, str]:
    """Production settings (the defaults), with this run's home, URL, keys directory and access log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VERIFY_", "LOCUST_"))}
    env.update(
        VERIFY_HOME=str(HOME),
        VERIFY_PUBLIC_URL=base_url,
        VERIFY_PUBLIC_KEYS_DIR=str(HOME / "public-keys"),  # never the repository's keys/
        VERIFY_ACCESS_LOG="1",
        VERIFY_TRUST_PROXY="1",  # the load generator's allowance (module docstring)
        # One verifier account sends every batch of the run: its daily rows are the load
        # generator's allowance too (the default 50,000 a day is one account's real use).
        VERIFY_BATCH_ROWS_PER_DAY="1000000000",
    )
    return env


def cluster_running(env: dict[str, str]) -> bool:
    try:
        return bool(json.loads(verify(env, "db", "status", timeout=60)).get("running"))
    except (SystemExit, ValueError):
        return False


def dedicated_database(shared_env: dict[str, str]) -> str:
    """The DSN of ``verify_loadtest`` on the cluster of ``verify db url``, created if missing."""
    import asyncpg

    dsn = verify(shared_env, "db", "url", timeout=60).strip()
    parts = urlsplit(dsn)
    target = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    admin = urlunsplit(parts._replace(path="/postgres"))

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
                log(f"created database {DATABASE}")
        finally:
            await conn.close()

    asyncio.run(create())
    return target


@contextlib.contextmanager
def database(env: dict[str, str], shared: bool) -> Iterator[None]:
    """Point ``env`` at this run's database; stop a cluster this run started, at the end."""
    if shared:
        shared_env = {k: v for k, v in env.items() if k != "VERIFY_HOME"}
        if "VERIFY_HOME" in os.environ:
            shared_env["VERIFY_HOME"] = os.environ["VERIFY_HOME"]
        cluster_env = shared_env
    else:
        cluster_env = env
    started = False
    try:
        if not cluster_running(cluster_env):
            log(
                "starting the embedded PostgreSQL cluster"
                + (" (shared)" if shared else f" under {HOME.relative_to(ROOT)}")
            )
            verify(cluster_env, "db", "start")
            started = True
        if shared:
            env["VERIFY_DATABASE_URL"] = dedicated_database(shared_env)
        yield
    finally:
        if started:
            log("stopping the embedded PostgreSQL cluster this run started")
            subprocess.run([sys.executable, "-m", "verify", "db", "stop"], env=cluster_env, cwd=ROOT,
                           capture_output=True, timeout=120, check=False)  # fmt: skip


# ---------------------------------------------------------------------------------------- sample


def demo_sample(env: dict[str, str], out: Path) -> Path:
    """The demo certificates as sample lines: ``verify demo`` joined with ``verify qr --all --url``."""
    from verify.domain import payload

    paths: dict[str, str] = {}
    for url in verify(env, "qr", "--all", "--url").split():
        segment = url.rsplit("/", 1)[-1]
        record, _body, _signature = payload.decode(payload.payload_from_path(segment))
        paths[record.number] = "/" + url.split("://", 1)[-1].split("/", 1)[-1]  # "/C/<payload>"
    lines = []
    for line in verify(env, "demo").splitlines():
        if not line.strip():
            continue
        c = json.loads(line)
        row = {k: c.get(k) for k in ("number", "name", "id_type", "id_number", "institution")}
        row["qr_path"] = paths.get(c["number"])
        lines.append(json.dumps(row, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"sample: {len(lines)} demo certificates, {len(paths)} with a signed QR payload")
    return out


def sample_matches(env: dict[str, str], path: Path) -> bool:
    """Whether the sample's first certificate is published in this database (a sample kept from a
    database since wiped must not be used: every lookup would miss)."""
    try:
        with path.open(encoding="utf-8") as f:
            number = json.loads(next(line for line in f if line.strip()))["number"]
        verify(env, "qr", str(number), "--url", timeout=120)
    except (OSError, StopIteration, ValueError, KeyError, SystemExit):
        return False
    return True


def prepare_data(env: dict[str, str], sample: Path | None, shared: bool) -> tuple[Path, str]:
    """Keys and demo data in the database; returns the sample file and where it came from."""
    verify(env, "keys", "dev")
    verify(env, "demo", "--ensure")
    if sample is not None:
        return sample, f"`--sample {sample.name}`"
    seed_sample = SEED_SAMPLES[shared]
    if seed_sample.exists() and not sample_matches(env, seed_sample):
        log(f"{seed_sample.name} does not match this database: seeding again")
        seed_sample.unlink()
    if "--sample-out" in verify(env, "seed", "--help"):
        if not seed_sample.exists():
            log("seeding once: verify seed " + " ".join(SEED_ARGS))
            try:
                verify(env, "seed", *SEED_ARGS, "--sample-out", str(seed_sample))
            except SystemExit as exc:
                log(f"verify seed --sample-out failed, using the demo data instead:\n{exc}")
                seed_sample.unlink(missing_ok=True)
        if seed_sample.exists() and seed_sample.stat().st_size > 0:
            return seed_sample, "`verify seed " + " ".join(SEED_ARGS) + " --sample-out`"
    return demo_sample(env, DEMO_SAMPLE), "the demo data (`verify demo`, `verify qr --all --url`)"


def verifier_token(env: dict[str, str]) -> str:
    """An API token of the verifier account the batch-verification users send (created once)."""
    if VERIFIER not in verify(env, "accounts", "list"):
        verify(env, "accounts", "add", VERIFIER, "--role", "verifier", "--name", "load test")
    token: str = json.loads(verify(env, "accounts", "token", VERIFIER, "--label", "loadtest"))["token"]
    return token


# ---------------------------------------------------------------------------------------- server


def wait_healthy(proc: subprocess.Popen[bytes], base: str, log_file: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit("the server exited:\n" + log_file.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:  # noqa: S310 - our own loopback server
                if json.loads(r.read()).get("ok"):
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server did not come up:\n" + log_file.read_text(errors="replace")[-3000:])
        time.sleep(0.3)


# ---------------------------------------------------------------------------------------- locust


def locust_has_processes() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "locust", "--help"], capture_output=True, text=True, check=False
    )
    return "--processes" in done.stdout


def run_locust(
    procs: Processes, env: dict[str, str], base: str, args: argparse.Namespace, prefix: Path, log_file: Path
) -> int:
    common = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
    master = [
        *common, "--headless", "--host", base, "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
        "--run-time", f"{args.seconds}s", "--stop-timeout", "5", "--csv", str(prefix), "--only-summary",
    ]  # fmt: skip
    if locust_has_processes():
        proc = procs.start("locust", [*master, "--processes", str(args.workers)], env, log_file)
    else:
        port = free_port()
        master += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                   "--expect-workers", str(args.workers), "--expect-workers-max-wait", "60"]  # fmt: skip
        proc = procs.start("locust master", master, env, log_file)
        for n in range(args.workers):
            worker = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            procs.start(f"locust worker {n + 1}", worker, env, log_file)
    try:
        return proc.wait(timeout=args.seconds + 120)
    except subprocess.TimeoutExpired:
        log("locust did not finish in time")
        return -1


# --------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Row:
    method: str
    name: str
    requests: int
    failures: int
    rps: float
    p50: str
    p95: str
    p99: str

    @property
    def scenario(self) -> str:
        return f"{self.method} {self.name}" if self.method else "all"

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def read_stats(prefix: Path) -> list[Row]:
    path = prefix.with_name(prefix.name + "_stats.csv")
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        rows = [
            Row(r["Type"], r["Name"], int(r["Request Count"]), int(r["Failure Count"]),
                float(r["Requests/s"]), r["50%"], r["95%"], r["99%"])
            for r in csv.DictReader(f)
        ]  # fmt: skip
    scenarios = sorted((r for r in rows if r.name != "Aggregated"), key=lambda r: (-r.requests, r.name))
    return scenarios + [r for r in rows if r.name == "Aggregated"]


def read_failures(prefix: Path) -> list[tuple[str, str, str]]:
    path = prefix.with_name(prefix.name + "_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [(f"{r['Method']} {r['Name']}", r["Error"], r["Occurrences"]) for r in csv.DictReader(f)]


def write_csv(rows: list[Row], out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(
            [
                "scenario",
                "requests",
                "failures",
                "failure_ratio",
                "requests_per_s",
                "p50_ms",
                "p95_ms",
                "p99_ms",
            ]
        )
        for r in rows:
            w.writerow(
                [
                    r.scenario,
                    r.requests,
                    r.failures,
                    f"{r.failure_ratio:.4f}",
                    f"{r.rps:.2f}",
                    r.p50,
                    r.p95,
                    r.p99,
                ]
            )


def _ms(value: str) -> str:
    return value if value in ("", "N/A") else f"{float(value):,.0f}"


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| scenario | requests | req/s | p50 ms | p95 ms | p99 ms | failures |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        label = f"`{r.scenario}`" if r.method else "**all**"
        lines.append(
            f"| {label} | {r.requests:,} | {r.rps:,.1f} | {_ms(r.p50)} | {_ms(r.p95)} | {_ms(r.p99)} "
            f"| {r.failures:,} ({r.failure_ratio:.2%}) |"
        )
    return "\n".join(lines)


def report(
    rows: list[Row], failures: list[tuple[str, str, str]], args: argparse.Namespace, facts: dict[str, str]
) -> str:
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    text = [
        SECTION_INTRO,
        f"Last run {when}: {args.seconds} s, {args.users} simulated users (spawned at {args.spawn_rate}/s), "
        f"{args.workers} locust worker processes, `verify serve --workers {args.server_workers}` with the "
        f"access log on, data: {facts['sample']}. Machine: {facts['machine']}; load average before the "
        f"run {facts['load']}. The load generator shares the machine with the server and the database.",
        "",
        markdown_table(rows),
        "",
    ]
    if failures:
        text += ["Failures:", ""] + [f"- `{name}`: {error} ({n}×)" for name, error, n in failures] + [""]
    else:
        text += [
            "No failures: every answer was one its scenario expects (expected 404 / 422 / 400 included).",
            "",
        ]
    text += [
        "Percentiles are locust's (rounded to 2 significant digits above 100 ms); the same figures are "
        "in [loadtest.csv](loadtest.csv). Reproduce: `make loadtest` "
        f"(`python -m loadtests.loadtest --seconds {args.seconds} --users {args.users} --workers {args.workers}`).",
    ]
    return "\n".join(text)


SECTION_INTRO = """\
`make loadtest` (`python -m loadtests.loadtest --seconds 60`) drives the public service with the
traffic mix the centre expects (loadtests/locustfile.py): 70 % QR scans (the landing page
`GET /c/{payload}` and its JSON twin `GET /api/v1/verify/{payload}`), 15 % number + name lookups
(a fifth of them with an unknown number or a wrong name: `… miss`, answered 404), 5 % ID + name
lookups, 5 % institution pages (page and JSON), ~1 % malformed input (tampered payloads, malformed
numbers, NUL bytes: expected 200 `forged` / 4xx); batch verification (5 %) is not in the mix yet.
An expected 4xx is a success; a 5xx, a connection error or any other status is a failure.

The server runs as in production (`verify serve --workers 2`, access log on, the production lookup
budgets) on its own embedded PostgreSQL under var/loadtest. The one allowance for the load
generator: `VERIFY_TRUST_PROXY=1`, as behind the production proxy, and every simulated user sends
its own random `X-Forwarded-For` address from 10.0.0.0/8, so the budget of 10 lookups a minute
applies per simulated client as it does per phone; a simulated user about to pass it moves to a new
address (another client), so a 429 is never the generator's own doing and counts as a failure.
Users wait 0.5–3 s between requests. `make loadtest-smoke` (20 s, a few users, CI) writes nothing
and fails on any failure.
"""


def update_benchmarks(body: str, path: Path = BENCHMARKS) -> None:
    """Replace the text between the markers; add the section with its markers at the end if absent."""
    update_marked_section(path, START, END, SECTION_TITLE, body)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtests.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, help="run time (default 60; 20 with --smoke)")
    p.add_argument("--users", type=int, help="simulated users (default 200; 8 with --smoke)")
    p.add_argument("--spawn-rate", type=float, help="users started per second (default 40)")
    p.add_argument("--workers", type=int, default=2, help="locust worker processes (default 2)")
    p.add_argument("--server-workers", type=int, default=2, help="verify serve --workers (default 2)")
    p.add_argument(
        "--smoke", action="store_true", help="short CI run: no docs written, exit 1 on any failure"
    )
    p.add_argument(
        "--sample", type=Path, help="JSON lines of certificates to draw from (verify seed --sample-out)"
    )
    p.add_argument("--shared-cluster", action="store_true",
                   help=f"use a database {DATABASE} on the cluster of `verify db url` instead of an own cluster")  # fmt: skip
    args = p.parse_args(argv)
    defaults = SMOKE if args.smoke else {"seconds": 60, "users": 200, "spawn_rate": 40}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.seconds < 1 or args.users < 1 or args.workers < 1:
        p.error("--seconds, --users and --workers must be positive")
    if args.sample is not None and not args.sample.is_file():
        p.error(f"no such sample file: {args.sample}")
    return args


def terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the clean-up below, as Ctrl-C does


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, terminated)
    for d in (HOME, LOGS):
        d.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = base_env(base)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    server_log, locust_log = LOGS / f"server-{stamp}.log", LOGS / f"locust-{stamp}.log"
    prefix = WORK / "csv" / stamp / "locust"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    procs = Processes()
    load = "n/a"
    with contextlib.suppress(OSError):
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        with database(env, args.shared_cluster):
            try:  # the server and locust stop before the database does
                sample, source = prepare_data(env, args.sample, args.shared_cluster)
                log(f"serving on {base} (log: {server_log.relative_to(ROOT)})")
                server = procs.start(
                    "server",
                    [sys.executable, "-m", "verify", "serve", "--host", "127.0.0.1", "--port", str(port),
                     "--workers", str(args.server_workers)],
                    env, server_log,
                )  # fmt: skip
                wait_healthy(server, base, server_log)
                log(f"locust: {args.users} users, {args.workers} processes, {args.seconds} s")
                log(f"locust log: {locust_log.relative_to(ROOT)}")
                locust_env = {**env, SAMPLE_ENV: str(sample), TOKEN_ENV: verifier_token(env)}
                code = run_locust(procs, locust_env, base, args, prefix, locust_log)
            finally:
                procs.stop_all()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    rows = read_stats(prefix)
    failures = read_failures(prefix)
    if rows and not failures:
        shutil.rmtree(prefix.parent, ignore_errors=True)  # kept only to look into failures
    if rows:
        print(markdown_table(rows))
    for name, error, n in failures:
        print(f"failure: {name}: {error} ({n}x)")
    total = next((r for r in rows if not r.method), None)
    if total is None or total.requests == 0:
        log("nothing ran: no requests were made\n" + locust_log.read_text(errors="replace")[-3000:])
        return 1
    if code not in (0, 1):  # 1 = locust saw failures, judged below
        log(f"locust exited with {code}\n" + locust_log.read_text(errors="replace")[-3000:])
        return 1
    if args.smoke:
        if total.failures:
            log(f"smoke test failed: {total.failures} of {total.requests} requests failed")
            return 1
        log(f"smoke test passed: {total.requests} requests, no failures")
        return 0
    write_csv(rows, CSV_OUT)
    facts = {"sample": source, "machine": machine(), "load": load}
    update_benchmarks(report(rows, failures, args, facts))
    log(f"wrote {CSV_OUT.relative_to(ROOT)} and the table in {BENCHMARKS.relative_to(ROOT)}")
    return 1 if total.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Reliability drills (``make drills``): faults a real deployment meets, each measured against the
real CLI, server and database, with the result written to docs/RELIABILITY.md.

Each drill runs on its own throwaway embedded PostgreSQL under /tmp and returns rows of
(drill, what it does, figure, pass/fail). The test suite runs the same functions with smaller
inputs (tests/cli/test_bounded.py), so the drills and the tests cannot drift apart.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from loadtests.local import free_port, stop
from verify.db.cluster import EmbeddedCluster
from verify.domain import holder_ids as ids
from verify.domain.batch import columns

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
INSTITUTION = "S000041010012"  # a demo institution; its filed scope holds 家政服务员 4-10-01-06
# Bounded failure promised by the CLI when the database goes away (README, "Exit codes").
CLI_BOUND_SECONDS = 30.0


@dataclass(frozen=True)
class Result:
    drill: str
    what: str
    figure: str
    passed: bool


@dataclass
class Site:
    """A throwaway database plus the environment that points the CLI at it."""

    cluster: EmbeddedCluster
    home: Path
    env: dict[str, str]

    def verify(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "verify", *args], env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip


@contextmanager
def site() -> Iterator[Site]:
    base = Path(tempfile.mkdtemp(prefix="verify-drill-", dir="/tmp"))
    cluster = EmbeddedCluster(base / "pg")
    try:
        cluster.ensure_running()
        cluster.ensure_database("verify")
        env = {
            **os.environ,
            "VERIFY_HOME": str(base / "home"),
            "VERIFY_DATABASE_URL": cluster.dsn("verify"),
            "VERIFY_ID_INDEX_KEY": os.urandom(32).hex(),
            "VERIFY_ID_ENC_KEY": os.urandom(32).hex(),
            "VERIFY_LOG_LEVEL": "warning",
        }
        s = Site(cluster, base / "home", env)
        for step in (("keys", "dev"), ("demo", "--ensure", "--summary")):
            done = s.verify(*step)
            if done.returncode != 0:
                raise RuntimeError(f"verify {' '.join(step)} failed: {done.stderr[-2000:]}")
        yield s
    finally:
        try:
            cluster.stop("immediate")
        finally:
            shutil.rmtree(base, ignore_errors=True)


def batch_csv(rows: int, first_serial: int = 500_000) -> bytes:
    """A valid batch of ``rows`` 家政服务员 certificates of the demo institution (distinct holders).
    Serials start far above the demo data's (which numbers each year and level from 1)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([c.header_zh for c in columns.COLUMNS[:10]])
    for i in range(rows):
        serial = first_serial + i
        birth = date.fromordinal(date(1970, 1, 1).toordinal() + serial % 12000)
        person = ids.make_resident_id("410105", birth, 1 + serial // 12000 % 998)
        w.writerow([f"{INSTITUTION}264{serial:06d}", f"张{chr(0x4E00 + serial % 2000)}", "居民身份证", person,
                    "4-10-01-06", "家政服务员", "母婴护理员", "四级/中级工", "2026-10-20", "纸质"])  # fmt: skip
    return out.getvalue().encode()


@dataclass(frozen=True)
class Proc:
    pid: int
    state: str
    ppid: int
    pgrp: int


def processes() -> Iterator[Proc]:
    """Every process of /proc/<pid>/stat (the fields after the command name, which may hold spaces)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        yield Proc(int(entry.name), fields[0], int(fields[1]), int(fields[2]))


def _group_members(pgid: int) -> list[int]:
    """Live processes of a process group (zombies excluded)."""
    return [p.pid for p in processes() if p.pgrp == pgid and p.state != "Z"]


def children(pid: int) -> list[int]:
    return [p.pid for p in processes() if p.ppid == pid]


def _reason(stderr: str) -> str:
    """The error slug of a CLI failure (its JSON on stderr), or the last line of a traceback."""
    import json

    try:
        body = json.loads(stderr[stderr.index("{") :])
        problems = body.get("problems") or [{}]
        first = problems[0].get("code")
        return str(body["error"]) + (f" ({first}, line {problems[0].get('line')})" if first else "")
    except (ValueError, KeyError, TypeError, AttributeError):
        lines = stderr.strip().splitlines()
        return lines[-1][:120] if lines else "no message"


def _kill_postgres(postmaster: int) -> None:
    """SIGKILL the postmaster and every backend (as an OOM kill or a power cut would)."""
    for pid in [postmaster, *children(postmaster)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait_for(predicate: object, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(step)
    return False


def _batches(s: Site) -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import asyncio, asyncpg, sys\n"
         "async def main():\n c = await asyncpg.connect(sys.argv[1])\n"
         " print(await c.fetchval('SELECT count(*) FROM batches'))\n await c.close()\n"
         "asyncio.run(main())", s.env["VERIFY_DATABASE_URL"]],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout)


def _start_import(s: Site, path: Path) -> subprocess.Popen[str]:
    # Output goes to files, never pipes: a rejected batch prints its problems, and a full pipe
    # would block the command (and the drill would measure that instead).
    with (s.home / "import.out").open("w") as out, (s.home / "import.err").open("w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "verify", "import", str(path), "--institution", INSTITUTION],
            env=s.env, stdout=out, stderr=err, text=True, start_new_session=True,
        )  # fmt: skip


def _finish(s: Site, proc: subprocess.Popen[str], timeout: float) -> str:
    """Wait for the command (killing it after ``timeout``); returns what it wrote to stderr."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return (s.home / "import.err").read_text(encoding="utf-8", errors="replace")


def import_with_database_killed(rows: int = 200_000) -> list[Result]:
    """kill -9 the postmaster (and its backends) while ``verify import`` runs."""
    out = []
    with site() as s:
        path = s.home / "big.csv"
        path.write_bytes(batch_csv(rows))
        before = _batches(s)
        proc = _start_import(s, path)
        # Kill once the row checkers run (the import is mid-way, whatever the machine's speed).
        _wait_for(lambda: len(_group_members(proc.pid)) >= 3 or proc.poll() is not None, 60)
        pid = s.cluster.status().get("pid")
        assert isinstance(pid, int)
        _kill_postgres(pid)
        killed = time.monotonic()
        running = proc.poll() is None
        err = _finish(s, proc, 120)
        took = time.monotonic() - killed
        # The forkserver and checkers leave when they read EOF from the exited parent: give them
        # the same few seconds the interrupt drill does before counting what is left.
        _wait_for(lambda: not _group_members(proc.pid), 5)
        left = _group_members(proc.pid)
        for orphan in left:
            os.kill(orphan, signal.SIGKILL)
        out.append(Result(
            "kill -9 PostgreSQL mid-import",
            f"`verify import` of {rows:,} rows; the database is killed while the rows are checked",
            f"exit {proc.returncode} after {took:.1f} s; {len(left)} processes left; {_reason(err)}",
            running and proc.returncode == 6 and took < CLI_BOUND_SECONDS and not left and _reason(err).startswith("unavailable"),
        ))  # fmt: skip
        s.cluster.ensure_running()
        after = _batches(s)
        out.append(Result(
            "… nothing half-written", "batches in the database after the restart",
            f"{after - before} new batches", after == before,
        ))  # fmt: skip
    return out


def import_interrupted(rows: int = 200_000) -> list[Result]:
    """SIGTERM and SIGINT to ``verify import`` while its checker processes run."""
    out = []
    with site() as s:
        path = s.home / "big.csv"
        path.write_bytes(batch_csv(rows))
        for sig in (signal.SIGTERM, signal.SIGINT):
            proc = _start_import(s, path)
            helpers = _wait_for(lambda p=proc: len(_group_members(p.pid)) >= 3, 60)
            peak = len(_group_members(proc.pid))
            running = proc.poll() is None
            proc.send_signal(sig)
            sent = time.monotonic()
            err = _finish(s, proc, 60)
            took = time.monotonic() - sent
            _wait_for(lambda p=proc: not _group_members(p.pid), 5)
            left = _group_members(proc.pid)
            for orphan in left:
                os.kill(orphan, signal.SIGKILL)
            out.append(Result(
                f"{sig.name} during import",
                f"`verify import` of {rows:,} rows with {peak - 1} helper processes running",
                f"exit {proc.returncode} after {took:.1f} s; {len(left)} orphans"
                + ("" if running else f" (it had already ended: {_reason(err)})"),
                helpers and running and not left and took < CLI_BOUND_SECONDS and proc.returncode in (130, 143),
            ))  # fmt: skip
    return out


# ---------------------------------------------------------------- drills against the running server


def worker_pids(base: str, want: int = 2, tries: int = 400) -> set[int]:
    """The worker pids answering new connections (the kernel spreads connections between them)."""
    import httpx

    seen: set[int] = set()
    for _ in range(tries):
        try:
            seen.add(httpx.get(f"{base}/healthz", timeout=2).json()["status_view"]["worker"])
        except (httpx.HTTPError, ValueError, KeyError):
            time.sleep(0.1)
        if len(seen) >= want:
            break
    return seen


@contextmanager
def serving(s: Site, workers: int = 2) -> Iterator[str]:
    port = free_port()
    log = (s.home / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "verify", "serve", "--port", str(port), "--workers", str(workers)],
        env={**s.env, "VERIFY_TRUST_PROXY": "1"}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        if len(worker_pids(base, workers)) < workers:
            raise RuntimeError(f"the server did not come up: {(s.home / 'server.log').read_text()[-2000:]}")
        yield base
    finally:
        stop(proc, timeout=30)
        log.close()


def _demo_certificate(s: Site) -> tuple[str, str, str]:
    """(number, name, QR path) of a valid demo certificate."""
    import json
    from urllib.parse import urlsplit

    certs = [json.loads(line) for line in s.verify("demo").stdout.splitlines() if line.startswith("{")]
    urls = {u.rsplit("/", 1)[-1]: u for u in s.verify("qr", "--all", "--url").stdout.split()}
    from verify.domain import payload as qr_payload

    by_number = {}
    for text, url in urls.items():
        record, _, _ = qr_payload.decode(qr_payload.payload_from_path(text))
        by_number[record.number] = urlsplit(url).path
    cert = next(c for c in certs if c["status"] == "active" and c["number"] in by_number)
    return cert["number"], cert["name"], by_number[cert["number"]]


def database_down() -> list[Result]:
    """Stop PostgreSQL under a running two-worker server, probe every kind of route, start it again."""
    import httpx

    out = []
    with site() as s:
        number, name, qr_path = _demo_certificate(s)
        with serving(s) as base:
            page = {"accept": "text/html"}

            def probes() -> dict[str, tuple[int, float, str]]:
                answers = {}
                calls: dict[str, Callable[[httpx.Client], httpx.Response]] = {
                    "API lookup": lambda c: c.post("/api/v1/lookup", json={"number": number, "name": name}),
                    "form lookup": lambda c: c.post(
                        "/lookup", data={"number": number, "name": name}, headers=page
                    ),
                    "institution API": lambda c: c.get(f"/api/v1/institutions/{INSTITUTION}"),
                    "institution page": lambda c: c.get(f"/institutions/{INSTITUTION}", headers=page),
                    "QR verify (JSON)": lambda c: c.get(f"/api/v1/verify/{qr_path.rsplit('/', 1)[-1]}"),
                    "QR landing page": lambda c: c.get(qr_path),
                }
                with httpx.Client(base_url=base, timeout=10) as c:
                    for label, call in calls.items():
                        t = time.perf_counter()
                        r = call(c)
                        answers[label] = (
                            r.status_code,
                            time.perf_counter() - t,
                            r.headers.get("retry-after", ""),
                        )
                return answers

            before = probes()
            s.cluster.stop("immediate")
            during = probes()
            database = [k for k in during if not k.startswith("QR")]
            slowest = max(during[k][1] for k in database)
            ok = all(during[k][0] == 503 and during[k][2] for k in database)
            qr_ok = all(during[k][0] == 200 for k in during if k.startswith("QR"))
            out.append(Result(
                "PostgreSQL stopped under a running server",
                "lookups (API and form), institution API and page while the database is down",
                f"503 + Retry-After on {sum(during[k][0] == 503 for k in database)}/{len(database)} routes, "
                f"slowest {slowest * 1000:.0f} ms",
                all(v[0] == 200 for v in before.values()) and ok and slowest < 1.0,
            ))  # fmt: skip
            out.append(Result(
                "… QR verification meanwhile", "QR JSON and landing page from the status view",
                ", ".join(f"{k} {during[k][0]}" for k in during if k.startswith("QR")), qr_ok,
            ))  # fmt: skip
            restarted = time.monotonic()
            s.cluster.ensure_running()
            back = None
            while time.monotonic() - restarted < 60:
                if all(v[0] == 200 for v in probes().values()):
                    back = time.monotonic() - restarted
                    break
                time.sleep(0.2)
            out.append(Result(
                "… database back", "every route answers 200 again, no server restart",
                f"after {back:.1f} s" if back is not None else "not within 60 s", back is not None,
            ))  # fmt: skip
    return out


def worker_killed_under_load(seconds: float = 8.0, concurrency: int = 16) -> list[Result]:
    """kill -9 one of two workers while clients scan QR codes; count what fails, and the respawn."""
    import asyncio

    import httpx

    with site() as s:
        _, _, qr_path = _demo_certificate(s)
        with serving(s) as base:
            victims = sorted(worker_pids(base))
            counts = {"ok": 0, "failed": 0}

            async def client(deadline: float) -> None:
                async with httpx.AsyncClient(base_url=base, timeout=5) as c:
                    while time.monotonic() < deadline:
                        try:
                            r = await c.get(qr_path)
                            counts["ok" if r.status_code == 200 else "failed"] += 1
                        except httpx.HTTPError:
                            counts["failed"] += 1

            async def load() -> float:
                deadline = time.monotonic() + seconds
                tasks = [asyncio.create_task(client(deadline)) for _ in range(concurrency)]
                await asyncio.sleep(seconds / 3)
                os.kill(victims[0], signal.SIGKILL)
                killed = time.monotonic()
                await asyncio.gather(*tasks)
                return killed

            killed = asyncio.run(load())
            respawned = worker_pids(base, 2)
            back = time.monotonic() - killed
            total = counts["ok"] + counts["failed"]
            replaced = len(respawned) == 2 and victims[0] not in respawned
    return [Result(
        "kill -9 of a worker under load",
        f"{concurrency} clients scanning QR codes for {seconds:.0f} s against two workers; one killed",
        f"{counts['failed']} of {total:,} requests failed ({counts['failed'] / max(total, 1):.2%}); "
        f"replacement worker serving {back:.1f} s after the kill",
        counts["failed"] <= 2 * concurrency and replaced,
    )]  # fmt: skip


def status_mb(pids: set[int], field: str) -> float:
    """The largest ``field`` (``VmRSS``, ``VmHWM``: kB in /proc/<pid>/status) of ``pids``, in MB."""
    largest = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    largest = max(largest, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return largest


def upload_bombs() -> list[Result]:
    """POST every bomb of tests/unit/test_upload_bombs.py to the running server."""
    import httpx

    from tests.unit.test_upload_bombs import BOMBS

    out = []
    with site() as s:
        token = s.verify("institutions", "token", INSTITUTION).stdout.strip().splitlines()[-1]
        with serving(s) as base:
            workers = worker_pids(base)
            with httpx.Client(base_url=base, timeout=120) as c:
                for name, (filename, build, code) in BOMBS.items():
                    data = build()
                    before = status_mb(workers, "VmRSS")
                    t = time.perf_counter()
                    r = c.post(f"/api/v1/batches?filename={filename}", content=data,
                               headers={"authorization": f"Bearer {token}"})  # fmt: skip
                    took = time.perf_counter() - t
                    growth = status_mb(workers, "VmHWM") - before
                    got = (
                        r.json().get("problems", [{}])[0].get("code")
                        if r.headers.get("content-type", "").startswith("application/json")
                        else None
                    )
                    out.append(Result(
                        f"upload bomb: {name}", f"{len(data) / 1024:,.0f} KB {filename} to POST /api/v1/batches",
                        f"{r.status_code} {got} in {took:.2f} s; worker peak RSS +{max(growth, 0):.0f} MB",
                        r.status_code in (400, 413) and got == code and took < 1.0 and growth < 100,
                    ))  # fmt: skip
            alive = worker_pids(base)
            out.append(Result("… workers after the bombs", "the same worker processes still serving",
                              f"{len(alive & workers)}/{len(workers)} alive", alive == workers))  # fmt: skip
    return out


def markdown(results: list[Result]) -> str:
    lines = ["| drill | what it does | figure | result |", "|---|---|---|---|"]
    lines += [
        f"| {r.drill} | {r.what} | {r.figure} | {'pass' if r.passed else '**FAIL**'} |" for r in results
    ]
    return "\n".join(lines)


DRILLS = {
    "database-down": database_down,
    "import-killed": import_with_database_killed,
    "import-interrupted": import_interrupted,
    "worker-killed": worker_killed_under_load,
    "upload-bombs": upload_bombs,
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("drills", nargs="*", default=list(DRILLS))
    p.add_argument("--write", action="store_true", help="write the table into docs/RELIABILITY.md")
    args = p.parse_args()
    results: list[Result] = []
    for name in args.drills:
        results += DRILLS[name]()
        print(markdown(results), flush=True)
    if args.write:
        doc = DOCS / "RELIABILITY.md"
        text = doc.read_text(encoding="utf-8")
        start, end = "<!-- drills:start -->", "<!-- drills:end -->"
        head, rest = text.split(start)
        _, tail = rest.split(end)
        stamp = f"Measured {time.strftime('%Y-%m-%d')} by `make drills` ({os.cpu_count()} cores)."
        doc.write_text(f"{head}{start}\n{stamp}\n\n{markdown(results)}\n{end}{tail}", encoding="utf-8")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Overload, kill -9 and soak drills (issue 9 item 5): ``make overload``, ``make soak``.

    python -m loadtests.overload [--max-lag-ms 0,50,250] [--front 64,128,256] [--seconds-overload 30]
                                 [--connections 4096]
    python -m loadtests.overload --soak [--minutes 10] [--max-lag-ms N]

The server runs as ``make loadtest`` runs it (loadtests/loadtest.py: ``verify serve --workers 2``,
production settings, access log on, ``VERIFY_TRUST_PROXY=1`` with a random X-Forwarded-For per
request, its own embedded PostgreSQL under var/loadtest with the ``verify seed`` sample), a fresh
server for each setting; the load is wrk with loadtests/wrk/paced.lua, on QR JSON scans
(``GET /api/v1/verify/<payload>``, 2,000 distinct certificates) unless said otherwise.

**The sustainable rate R** (a server with shedding off): the closed-loop throughput T
(``wrk -t2 -c64 -d15s``), then paced steps of 10 s at 20 %, 30 %, … of T over 512 connections; R is
the last step before the first one that fails to answer everything with a 200, to send on schedule
or to keep p99 within 50 ms. (Closed loop is not the rate to take 70 % or 2× of: answering 64
connections back to back batches the work, and paced arrivals, one per loop turn, cost a worker
about 1.4× the CPU each; 0.7 T paced is already past the latency knee.)

**Overload**, for each ``--max-lag-ms`` value (default 0 = off, 50, 250), its own server, and for each
``--front`` bound (default 64, 128, 256) the app with shedding off behind the nginx front that
``verify proxy-config`` writes (verify/http/front_proxy.py), nginx refusing what is over the bound:

1. 10 s paced at R: the *calm* phase (its 503s are counted: there must be none).
2. Paced traffic at 0.7 R (512 connections), from here to the end: 15 s alone first.
3. The surge: for ``--seconds-overload`` (30) a second wrk adds 1.3 R over ``--connections`` (4,096:
   far more clients than a worker serves at once), so 2 R is offered in all.
4. 45 s more of the 0.7 R traffic alone.

A probe runs through steps 2-4: 20 requests/s on a new connection each (a phone) and 10/s on one
kept-alive connection (a proxy's upstream connection), each noted with status, latency and
Retry-After. Reported per value: 503s at R and at 0.7 R; the rate sent and answered 200 during the
surge; the share of 503s; what a 503 costs the workers (their CPU during the surge less its 200s at
the cost of one in the surge with shedding off, per 503, against that cost); 503 and 200 latency
from the probe; wrk timeouts, socket errors, failed probe requests; connections the kernel dropped
from a full listen queue; the **recovery time**, from the end of the surge to the first probe
request that begins 5 s of answers all 200 and faster than 3× the p99 at R; the largest
requests-in-flight and loop lag the workers' "overloaded" log lines report. Targets: no 503 at calm
load; 503 with Retry-After under overload, p99 within 50 ms; no timeouts; recovery within 30 s.
The per-second counts of every run are kept in var/overload/timeline-lag<N>.csv.

**kill -9**: production settings, paced 0.7 R over 512 connections for 24 s; 8 s in, one worker is
killed with SIGKILL. Lost = non-2xx answers + socket errors + timeouts; the bound is the connections
the killed worker held just before (from /proc: its socket inodes among the established connections
of the server port; a request in flight on one is lost, and wrk counts one error for each of them,
idle or not, when it finds the connection gone). Also: how soon a new worker answers /healthz.

**Soak** (``--soak``): the traffic mix (35 % QR JSON, 35 % landing pages, 20 % lookups by number +
name, 10 % by ID + name), its sustainable rate found as above, then ``--minutes`` at 70 % of it;
the workers' VmRSS every 10 s. Targets: 0 errors (any non-2xx, socket error or timeout), RSS
growth from the end of the first minute to the end ≤ 10 %, 10 minutes.

Results: a Markdown table printed and written into docs/BENCHMARKS.md (between the ``overload`` and
the ``soak`` markers; not with ``--no-write``). Every process started (servers, wrk, a cluster this
run started) is stopped at the end, also on failure or Ctrl-C. Exit status 1 when no
``--max-lag-ms`` value meets every overload target, when the kill -9 drill or the soak fails.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from loadtests.drills import status_mb, worker_pids
from loadtests.loadtest import (
    HOME,
    Processes,
    base_env,
    database,
    machine,
    prepare_data,
    terminated,
    verify,
    wait_healthy,
)
from loadtests.local import free_port, update_marked_section

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "overload"
LOGS = WORK / "logs"
LUA = ROOT / "loadtests" / "wrk" / "paced.lua"
BENCHMARKS = ROOT / "docs" / "BENCHMARKS.md"
OVERLOAD_MARKERS = ("<!-- overload:start -->", "<!-- overload:end -->")
SOAK_MARKERS = ("<!-- soak:start -->", "<!-- soak:end -->")
OVERLOAD_TITLE = "## Overload: shedding at 2× the sustainable rate, kill -9 of a worker (`make overload`)"
SOAK_TITLE = "## Soak: 70 % of the sustainable rate for 10 minutes (`make soak`)"

DEFAULT_MAX_LAG_MS = (0, 50, 250)
DEFAULT_FRONTS = (64, 128, 256)
WORKERS = 2
WRK_TIMEOUT_S = 10
CLOSED_CONNECTIONS, CLOSED_THREADS, CLOSED_SECONDS, WARMUP_SECONDS = 64, 2, 15, 3
STEPS = tuple(f / 10 for f in range(2, 11))  # paced steps, as fractions of the closed-loop throughput
STEP_SECONDS, SUSTAINED_P99_MS = 10, 50.0
PACED_CONNECTIONS = 512
BACKGROUND_SHARE, OVERLOAD_FACTOR = 0.7, 2.0
CALM_SECONDS, PRE_SECONDS, POST_SECONDS = 10, 15, 45
PROBE_RATES = {"fresh": 20.0, "keepalive": 10.0}
PROBE_TIMEOUT_S = 10.0
PROBE_FRESH_THREADS = 256  # new-connection requests in flight at most (20/s × 10 s timeout = 200)
RECOVERY_HOLD_S, RECOVERY_FACTOR, RECOVERY_FLOOR_MS = 5.0, 3.0, 10.0
KILL_SECONDS, KILL_AT_S = 24, 8.0
SOAK_SHARE, SOAK_CONNECTIONS, RSS_EVERY_S, RSS_WARMUP_S = 0.7, 256, 10.0, 60.0

# The targets of issue 9 item 5.
SHED_WITHIN_MS = 50.0
RECOVER_WITHIN_S = 30.0
RSS_GROWTH_MAX = 0.10
SOAK_MINUTES_TARGET = 10.0


def log(message: str) -> None:
    print(f"[overload {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- wrk and its output


@dataclass(frozen=True, slots=True)
class Counts:
    """Requests sent and answers received (2xx, 503, other; 503s without Retry-After)."""

    sent: int = 0
    ok: int = 0
    shed: int = 0
    other: int = 0
    no_retry_after: int = 0

    def __add__(self, o: Counts) -> Counts:
        return Counts(
            self.sent + o.sent, self.ok + o.ok, self.shed + o.shed, self.other + o.other,
            self.no_retry_after + o.no_retry_after,
        )  # fmt: skip

    @property
    def answered(self) -> int:
        return self.ok + self.shed + self.other


@dataclass(frozen=True, slots=True)
class Wrk:
    """One wrk run as paced.lua's ``done()`` reports it; ``buckets`` are per second of CLOCK_MONOTONIC."""

    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    connect: int
    read: int
    write: int
    status: int  # answers >= 400, as wrk counts them
    timeout: int
    late: int  # send slots dropped because no connection was free
    buckets: Mapping[int, Counts] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write

    @property
    def totals(self) -> Counts:
        return sum(self.buckets.values(), Counts())


def parse_wrk(output: str) -> Wrk:
    """The ``WRK_JSON {...}`` line of paced.lua (the last one, if several); ValueError if none."""
    line = next((x for x in reversed(output.splitlines()) if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise ValueError("wrk printed no WRK_JSON summary line")
    s = json.loads(line.removeprefix("WRK_JSON "))
    buckets: dict[int, Counts] = {}
    for second, *values in s.get("buckets", []):
        buckets[int(second)] = buckets.get(int(second), Counts()) + Counts(*(int(v) for v in values))
    return Wrk(
        requests=int(s["requests"]), duration_s=s["duration_us"] / 1e6, p50_ms=s["p50_us"] / 1000,
        p99_ms=s["p99_us"] / 1000, connect=int(s["connect"]), read=int(s["read"]), write=int(s["write"]),
        status=int(s["status"]), timeout=int(s["timeout"]), late=int(s.get("late", 0)), buckets=buckets,
    )  # fmt: skip


def window(buckets: Mapping[int, Counts], start: float, end: float) -> tuple[Counts, int]:
    """The sum of the one-second buckets wholly inside [start, end), and how many seconds that is."""
    first, last = math.ceil(start), math.floor(end)
    seconds = range(first, last)
    return sum((buckets.get(s, Counts()) for s in seconds), Counts()), len(seconds)


def merge(*runs: Wrk) -> dict[int, Counts]:
    out: dict[int, Counts] = {}
    for run in runs:
        for second, counts in run.buckets.items():
            out[second] = out.get(second, Counts()) + counts
    return out


def write_lines(path: Path, requests: Sequence[tuple[str, str, str, str]]) -> Path:
    """paced.lua's request file: METHOD, Accept, path and body (may be empty), tab-separated."""
    with path.open("w", encoding="utf-8") as f:
        for method, accept, target, body in requests:
            f.write("\t".join([method, accept, target, *([body] if body else [])]) + "\n")
    return path


def qr_requests(sample: Sequence[Mapping[str, str]]) -> list[tuple[str, str, str, str]]:
    return [
        ("GET", "application/json", f"/api/v1/verify/{s['qr_path'].rpartition('/')[2]}", "") for s in sample
    ]


def mix_requests(
    sample: Sequence[Mapping[str, str]], seed: int = 20261202
) -> list[tuple[str, str, str, str]]:
    """The soak's mix: per 20 requests 7 QR JSON, 7 landing pages, 4 lookups by number and name,
    2 by ID and name (every one of a published certificate, so every answer is a 200), shuffled."""
    out = []
    for i, s in enumerate(sample):
        kind = i % 20
        if kind < 7:
            out.append(("GET", "application/json", f"/api/v1/verify/{s['qr_path'].rpartition('/')[2]}", ""))
        elif kind < 14:
            out.append(("GET", "text/html", s["qr_path"], ""))
        elif kind < 18:
            body = json.dumps({"number": s["number"], "name": s["name"]}, ensure_ascii=False)
            out.append(("POST", "application/json", "/api/v1/lookup", body))
        else:
            body = json.dumps(
                {"id_number": s["id_number"], "id_type": s["id_type"], "name": s["name"]}, ensure_ascii=False
            )
            out.append(("POST", "application/json", "/api/v1/lookup", body))
    random.Random(seed).shuffle(out)
    return out


class WrkRun:
    """A wrk process started in its own session (``Processes``), its output in a file."""

    def __init__(
        self, procs: Processes, label: str, lines: Path, base: str, seconds: int, connections: int,
        threads: int = 1, rate: float | None = None,
    ) -> None:  # fmt: skip
        self.procs, self.label, self.seconds = procs, label, seconds
        self.out = LOGS / f"wrk-{label}.out"
        self.out.unlink(missing_ok=True)
        env = {**os.environ, "WRK_LINES": str(lines), "WRK_THREADS": str(threads)}
        if rate:
            env["WRK_RATE"] = f"{rate:.1f}"
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", f"{WRK_TIMEOUT_S}s",
                   "-s", str(LUA), base]  # fmt: skip
        self.started = time.monotonic()
        self.proc = procs.start(f"wrk {label}", command, env, self.out)

    def finish(self) -> Wrk:
        try:
            self.proc.wait(timeout=self.seconds + 60)
        except subprocess.TimeoutExpired:
            log(f"wrk {self.label} did not finish in time")
        finally:
            self.procs.stop(self.proc)
        self.ended = time.monotonic()
        text = self.out.read_text(errors="replace")
        try:
            return parse_wrk(text)
        except ValueError:
            raise SystemExit(
                f"wrk {self.label} printed no summary (exit {self.proc.returncode}):\n{text[-3000:]}"
            ) from None


def run_wrk(procs: Processes, label: str, lines: Path, base: str, seconds: int, connections: int,
            threads: int = 1, rate: float | None = None) -> Wrk:  # fmt: skip
    return WrkRun(procs, label, lines, base, seconds, connections, threads, rate).finish()


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout
    return out.split("\n", 1)[0].split(" Copyright", 1)[0].strip() or "wrk"


# ------------------------------------------------------------------------------------------ probe


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # time.monotonic() when the request was sent
    kind: str  # "fresh" (a new connection) or "keepalive"
    status: int  # 0: no answer (timeout, refused or reset connection)
    ms: float
    retry_after: str | None


class Probe:
    """Requests at fixed rates, each one noted. ``fresh`` opens a new connection per request, sent on
    schedule by a pool of threads (so one request left hanging does not stop the others);
    ``keepalive`` sends one request after another on one connection (a new one after a failure)."""

    def __init__(self, port: int, paths: Sequence[str], rates: Mapping[str, float] = PROBE_RATES) -> None:
        self.port, self.paths = port, list(paths)
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=PROBE_FRESH_THREADS, thread_name_prefix="probe-fresh")
        self._threads = [
            threading.Thread(target=self._run, args=(kind, rate), name=f"probe-{kind}", daemon=True)
            for kind, rate in rates.items()
        ]

    def __enter__(self) -> Probe:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=PROBE_TIMEOUT_S + 5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _note(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def _request(self, conn: http.client.HTTPConnection, kind: str, path: str) -> tuple[Sample, bool]:
        """One request on ``conn``; the sample, and whether the connection can be used again."""
        headers = {"Accept": "application/json", "Connection": "close" if kind == "fresh" else "keep-alive"}
        sent = time.monotonic()
        try:
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            return Sample(sent, kind, 0, (time.monotonic() - sent) * 1000, None), False
        return Sample(
            sent, kind, answer.status, (time.monotonic() - sent) * 1000, answer.getheader("Retry-After")
        ), True

    def _fresh(self, path: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PROBE_TIMEOUT_S)
        sample, _ = self._request(conn, "fresh", path)
        conn.close()
        self._note(sample)

    def _run(self, kind: str, rate: float) -> None:
        rnd = random.Random(kind)
        conn: http.client.HTTPConnection | None = None
        interval = 1 / rate
        due = time.monotonic()
        while not self._stop.is_set():
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            due = max(due + interval, time.monotonic())  # a late probe does not burst to catch up
            path = rnd.choice(self.paths)
            if kind == "fresh":
                self._pool.submit(self._fresh, path)
                continue
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PROBE_TIMEOUT_S)
            sample, reusable = self._request(conn, kind, path)
            if not reusable:
                conn = None
            self._note(sample)
        if conn is not None:
            conn.close()


# -------------------------------------------------------------------------------- pure summaries


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def recovery_seconds(samples: Sequence[Sample], end: float, threshold_ms: float,
                     hold: float = RECOVERY_HOLD_S) -> float | None:  # fmt: skip
    """Seconds from ``end`` (the surge's end) to the first probe request sent after it that begins
    ``hold`` seconds in which every request was answered 200 within ``threshold_ms``; None when no
    such stretch was seen (the probe must have gone on at least ``hold`` seconds past its start)."""
    after = sorted((s for s in samples if s.at >= end), key=lambda s: s.at)
    if not after:
        return None
    last = after[-1].at
    next_bad = math.inf  # the earliest bad request after the one looked at
    first: float | None = None
    for s in reversed(after):
        if s.status == 200 and s.ms < threshold_ms:
            if s.at + hold <= last and next_bad > s.at + hold:
                first = s.at
        else:
            next_bad = s.at
    return None if first is None else first - end


@dataclass(frozen=True, slots=True)
class ProbeStats:
    requests: int
    shed: int
    failed: int  # no answer
    no_retry_after: int  # 503s without Retry-After
    shed_p50_ms: float | None  # new connections
    shed_p99_ms: float | None
    shed_keepalive_p99_ms: float | None
    shed_all_p99_ms: float | None  # both kinds
    ok_p99_ms: float | None  # new connections
    ok_keepalive_p99_ms: float | None


def probe_stats(samples: Sequence[Sample], start: float = -math.inf, end: float = math.inf) -> ProbeStats:
    """What the probe saw among the requests it sent in [start, end)."""
    inside = [s for s in samples if start <= s.at < end]

    def ms(status: int, kind: str | None) -> list[float]:
        return [s.ms for s in inside if s.status == status and kind in (None, s.kind)]

    return ProbeStats(
        requests=len(inside), shed=sum(s.status == 503 for s in inside), failed=sum(s.status == 0 for s in inside),
        no_retry_after=sum(s.status == 503 and not s.retry_after for s in inside),
        shed_p50_ms=percentile(ms(503, "fresh"), 50), shed_p99_ms=percentile(ms(503, "fresh"), 99),
        shed_keepalive_p99_ms=percentile(ms(503, "keepalive"), 99), shed_all_p99_ms=percentile(ms(503, None), 99),
        ok_p99_ms=percentile(ms(200, "fresh"), 99), ok_keepalive_p99_ms=percentile(ms(200, "keepalive"), 99),
    )  # fmt: skip


REFUSAL = re.compile(r"overloaded: \d+ requests refused in [\d.]+ s \(in flight (\d+), loop lag (\d+) ms\)")


def refusal_log(text: str) -> tuple[int, int] | None:
    """The largest requests-in-flight and loop lag (ms) in the server's "overloaded" lines."""
    found = [(int(a), int(b)) for a, b in REFUSAL.findall(text)]
    if not found:
        return None
    return max(a for a, _ in found), max(b for _, b in found)


def refusal_cost(base_cpu: float, base_ok: float, cpu: float, ok: float, shed: float) -> float | None:
    """What a 503 costs the workers, as a multiple of a 200: the CPU (seconds per second) they used in
    a surge, less its 200s (per second) at the cost of one in the surge with shedding off
    (``base_cpu`` / ``base_ok``), shared out over its 503s (per second)."""
    if base_ok <= 0 or base_cpu <= 0 or shed <= 0:
        return None
    per_ok = base_cpu / base_ok
    return max(0.0, (cpu - ok * per_ok) / shed / per_ok)


def tcp_ext(netstat: str) -> dict[str, int]:
    """The TcpExt counters of /proc/net/netstat (a line of names, then a line of values)."""
    rows = [line.split() for line in netstat.splitlines() if line.startswith("TcpExt:")]
    if len(rows) < 2:
        return {}
    return {name: int(value) for name, value in zip(rows[0][1:], rows[1][1:], strict=False)}


def listen_overflows() -> int:
    """Connections the kernel dropped because a listen queue was full (all sockets of the machine)."""
    try:
        return tcp_ext(Path("/proc/net/netstat").read_text()).get("ListenOverflows", 0)
    except OSError:
        return 0


@dataclass(frozen=True, slots=True)
class Step:
    """A paced step of the search for the sustainable rate."""

    rate: float
    result: Wrk

    @property
    def passed(self) -> bool:
        r, t = self.result, self.result.totals
        return (
            t.answered > 0 and t.ok == t.answered and r.socket_errors == 0 and r.timeout == 0 and r.late == 0
            and r.p99_ms <= SUSTAINED_P99_MS
        )  # fmt: skip


def sustainable(steps: Sequence[Step]) -> Step | None:
    """The last step (in the order run, rates rising) before the first that failed."""
    best = None
    for step in steps:
        if not step.passed:
            break
        best = step
    return best


@dataclass(frozen=True, slots=True)
class Reference:
    closed: Wrk  # closed loop, 64 connections
    steps: tuple[Step, ...]

    @property
    def best(self) -> Step | None:
        return sustainable(self.steps)

    @property
    def rate(self) -> float:
        """R; the lowest step's rate when even that one failed."""
        best = self.best
        return best.rate if best is not None else STEPS[0] * self.closed.rps

    @property
    def p99_ms(self) -> float:
        best = self.best
        return best.result.p99_ms if best is not None else SUSTAINED_P99_MS


def steps_text(steps: Sequence[Step]) -> str:
    return ", ".join(
        f"{s.rate:,.0f} (p99 {_ms(s.result.p99_ms)} ms{'' if s.passed else ' ✗'})" for s in steps
    )


def recovery_threshold(p99_at_r_ms: float) -> float:
    return max(RECOVERY_FACTOR * p99_at_r_ms, RECOVERY_FLOOR_MS)


@dataclass(frozen=True, slots=True)
class OverloadRun:
    max_lag_ms: int
    rate: float  # R
    calm_503: int  # not-2xx answers in the 10 s at R
    calm_p99_ms: float  # wrk's p99 in the 10 s at R
    pre_503: int  # 503s at 0.7 R before the surge (wrk and probe)
    target_rps: float  # 2 R
    sent_rps: float  # what wrk sent during the surge (both processes)
    ok_rps: float  # answered 200 during the surge
    shed_share: float  # 503s among the answers during the surge
    shed_rps: float  # 503s per second during the surge
    worker_cpu: float  # CPU seconds per second both workers used during the surge
    no_retry_after: int  # 503s without Retry-After (wrk and probe), the whole run
    probe: ProbeStats  # during the surge
    wrk_p99_ms: float  # the surge wrk's p99 over all its answers
    timeouts: int  # wrk, both processes
    socket_errors: int  # wrk, both processes
    probe_failed: int  # probe requests without an answer, the whole run
    recovery_s: float | None
    post_503: int  # 503s of the 0.7 R traffic after the surge
    refusals: tuple[int, int] | None  # (in flight, loop lag ms), largest in the server log
    listen_overflows: int = 0  # connections dropped by full listen queues during the surge
    front: int | None = None  # the nginx front's bound on requests in flight (None: no front)

    @property
    def setting(self) -> str:
        if self.front is not None:
            return f"nginx front, ≤ {self.front} in flight"
        return str(self.max_lag_ms or "0 (off)")


SHED_TARGET = f"503 p99 ≤ {SHED_WITHIN_MS:.0f} ms"
RECOVERY_TARGET = f"recovery ≤ {RECOVER_WITHIN_S:.0f} s"


def overload_verdicts(r: OverloadRun) -> list[tuple[str, bool]]:
    shed_p99 = r.probe.shed_all_p99_ms
    return [
        ("no 503 at calm load", r.calm_503 == 0 and r.pre_503 == 0),
        ("503 + Retry-After under overload", r.shed_share > 0 and r.no_retry_after == 0),
        (SHED_TARGET, shed_p99 is not None and shed_p99 <= SHED_WITHIN_MS),
        ("no timeouts", r.timeouts == 0 and r.probe_failed == 0),
        (RECOVERY_TARGET, r.recovery_s is not None and r.recovery_s <= RECOVER_WITHIN_S),
    ]


def passed(verdicts: Sequence[tuple[str, bool]]) -> bool:
    return all(ok for _, ok in verdicts)


@dataclass(frozen=True, slots=True)
class KillRun:
    rate: float
    connections: int
    seconds: int
    victim_connections: int  # established client connections the killed worker held
    requests: int  # answers wrk received
    non_2xx: int
    socket_errors: int
    timeouts: int
    respawn_s: float | None  # a new worker answered /healthz this long after the kill

    @property
    def lost(self) -> int:
        return self.non_2xx + self.socket_errors + self.timeouts


def kill_verdicts(k: KillRun) -> list[tuple[str, bool]]:
    return [
        (
            "lost ≤ the killed worker's connections",
            k.victim_connections > 0 and k.lost <= k.victim_connections,
        ),
        ("a new worker serves within 30 s", k.respawn_s is not None and k.respawn_s <= 30),
    ]


def established_inodes(table: str, port: int) -> set[str]:
    """Socket inodes of the ESTABLISHED connections whose local port is ``port``, from the text of
    /proc/net/tcp or /proc/net/tcp6."""
    out = set()
    for line in table.splitlines()[1:]:
        f = line.split()
        if len(f) > 9 and f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:
            out.add(f[9])
    return out


def rss_growth(
    series: Sequence[tuple[float, Mapping[int, float]]], warmup_s: float
) -> dict[int, tuple[float, float]]:
    """Per worker: VmRSS (MB) at the first sample ``warmup_s`` or more after the first sample, and at
    the last sample. ``series`` is (seconds since the start, {pid: MB}) in time order."""
    if not series:
        return {}
    start = next((m for t, m in series if t >= series[0][0] + warmup_s), series[-1][1])
    end = series[-1][1]
    return {pid: (start[pid], end[pid]) for pid in start if pid in end and start[pid] > 0}


@dataclass(frozen=True, slots=True)
class SoakRun:
    minutes: float
    max_lag_ms: int | None
    reference: Reference  # the mix's closed-loop throughput and sustainable rate
    target_rps: float
    sent_rps: float
    requests: int
    non_2xx: int
    socket_errors: int
    timeouts: int
    p50_ms: float
    p99_ms: float
    rss: Mapping[int, tuple[float, float]]  # per worker: MB after the warm-up, at the end
    peak_mb: float
    workers_changed: bool

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors + self.timeouts

    @property
    def growth(self) -> float | None:
        if not self.rss:
            return None
        return max((end - start) / start for start, end in self.rss.values())


def soak_verdicts(s: SoakRun) -> list[tuple[str, bool]]:
    growth = s.growth
    return [
        ("0 errors", s.errors == 0 and s.requests > 0),
        (
            f"RSS growth ≤ {RSS_GROWTH_MAX:.0%}",
            growth is not None and growth <= RSS_GROWTH_MAX and not s.workers_changed,
        ),
        (f"{SOAK_MINUTES_TARGET:.0f} minutes", s.minutes >= SOAK_MINUTES_TARGET),
    ]


def verdict_text(verdicts: Sequence[tuple[str, bool]]) -> str:
    failed = [name for name, ok in verdicts if not ok]
    return "all targets met" if not failed else "**fails**: " + "; ".join(failed)


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _result(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def _mark(ok: bool) -> str:
    return "" if ok else " ✗"


def overload_table(runs: Sequence[OverloadRun]) -> str:
    lines = [
        "| `VERIFY_MAX_LAG_MS` or front | calm: 503s at R / 0.7 R (p99 ms at R) | surge: sent req/s of 2 R (200/s) | 503 share "
        "| a 503 costs (× a 200) | 503 p50 / p99 ms, new conn. | 503 p99 ms, kept-alive | 200 p99 ms, new conn. / "
        "kept-alive | timeouts / socket errors / probe failures | listen queue overflows | recovery s | 503s after | refusal log: in flight "
        "/ lag ms | verdict |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    base = next((r for r in runs if r.max_lag_ms == 0 and r.front is None), None)
    for r in runs:
        v = dict(overload_verdicts(r))
        p = r.probe
        c = (
            None
            if base is None
            else refusal_cost(base.worker_cpu, base.ok_rps, r.worker_cpu, r.ok_rps, r.shed_rps)
        )
        recovery = "none in the run" if r.recovery_s is None else f"{r.recovery_s:.1f}"
        refusals = "–" if r.refusals is None else f"{r.refusals[0]} / {r.refusals[1]}"
        cost = "–" if c is None else f"≈ {c:.2f}"
        lines.append(
            f"| {r.setting} | {r.calm_503} / {r.pre_503} ({_ms(r.calm_p99_ms)})"
            f"{_mark(v['no 503 at calm load'])} | {r.sent_rps:,.0f} of {r.target_rps:,.0f} ({r.ok_rps:,.0f}) "
            f"| {r.shed_share:.0%}{_mark(v['503 + Retry-After under overload'])} | {cost} "
            f"| {_ms(p.shed_p50_ms)} / {_ms(p.shed_p99_ms)} | {_ms(p.shed_keepalive_p99_ms)}{_mark(v[SHED_TARGET])} "
            f"| {_ms(p.ok_p99_ms)} / {_ms(p.ok_keepalive_p99_ms)} "
            f"| {r.timeouts} / {r.socket_errors} / {r.probe_failed}{_mark(v['no timeouts'])} | {r.listen_overflows:,} "
            f"| {recovery}{_mark(v[RECOVERY_TARGET])} | {r.post_503:,} | {refusals} "
            f"| {verdict_text(overload_verdicts(r))} |"
        )
    return "\n".join(lines)


def kill_table(k: KillRun) -> str:
    (_, lost_ok), (_, respawn_ok) = kill_verdicts(k)
    respawn = "not within 30 s" if k.respawn_s is None else f"{k.respawn_s:.1f} s after the kill"
    return "\n".join([
        "| kill -9 of one of two workers | figure | target | result |",
        "|---|---:|---|---|",
        f"| load | {k.rate:,.0f} req/s paced over {k.connections} connections, {k.seconds} s | 0.7 R | |",
        f"| client connections the killed worker held | {k.victim_connections} | | |",
        f"| lost: non-2xx / socket errors / timeouts | {k.lost} ({k.non_2xx} / {k.socket_errors} / {k.timeouts}) "
        f"of {k.requests:,} answered | ≤ the killed worker's connections | {_result(lost_ok)} |",
        f"| replacement worker answering /healthz | {respawn} | ≤ 30 s | {_result(respawn_ok)} |",
    ])  # fmt: skip


def soak_table(s: SoakRun) -> str:
    (_, errors_ok), (_, rss_ok), (_, minutes_ok) = soak_verdicts(s)
    rss = ", ".join(f"{a:.0f} → {b:.0f} MB ({(b - a) / a:+.1%})" for a, b in s.rss.values()) or "no samples"
    setting = "production default" if s.max_lag_ms is None else f"`VERIFY_MAX_LAG_MS={s.max_lag_ms}`"
    ref = s.reference
    return "\n".join([
        "| measure | figure | target | result |",
        "|---|---:|---|---|",
        f"| the mix closed loop (64 connections) | {ref.closed.rps:,.0f} req/s (p99 {_ms(ref.closed.p99_ms)} ms) | | |",
        f"| the mix's sustainable rate R (paced steps: {steps_text(ref.steps)}) | {ref.rate:,.0f} req/s | | |",
        f"| soak load, {setting} | {s.target_rps:,.0f} req/s paced ({s.sent_rps:,.0f} sent) over {SOAK_CONNECTIONS} "
        f"connections for {s.minutes:.1f} min | 0.7 R, {SOAK_MINUTES_TARGET:.0f} min | {_result(minutes_ok)} |",
        f"| latency p50 / p99 (wrk) | {_ms(s.p50_ms)} / {_ms(s.p99_ms)} ms | | |",
        f"| errors: non-2xx / socket errors / timeouts | {s.errors} ({s.non_2xx} / {s.socket_errors} / {s.timeouts}) "
        f"of {s.requests:,} | 0 | {_result(errors_ok)} |",
        f"| worker RSS after the first minute → end | {rss}; peak {s.peak_mb:.0f} MB"
        f"{'; a worker was replaced' if s.workers_changed else ''} | ≤ +{RSS_GROWTH_MAX:.0%} | {_result(rss_ok)} |",
    ])  # fmt: skip


def timeline(buckets: Mapping[int, Counts], samples: Sequence[Sample], origin: float) -> list[list[str]]:
    """Per second (from ``origin``): what wrk sent and got back, and what the probe saw."""
    by_second: dict[int, list[Sample]] = {}
    for s in samples:
        by_second.setdefault(math.floor(s.at), []).append(s)
    rows = [["second", "sent", "ok", "503", "other", "probe", "probe_ok", "probe_503", "probe_failed",
             "probe_p50_ms", "probe_max_ms"]]  # fmt: skip
    for second in sorted(set(buckets) | set(by_second)):
        c = buckets.get(second, Counts())
        mine = by_second.get(second, [])
        p50 = percentile([s.ms for s in mine], 50)
        rows.append([
            str(second - math.floor(origin)), str(c.sent), str(c.ok), str(c.shed), str(c.other), str(len(mine)),
            str(sum(s.status == 200 for s in mine)), str(sum(s.status == 503 for s in mine)),
            str(sum(s.status == 0 for s in mine)), "" if p50 is None else f"{p50:.1f}",
            f"{max((s.ms for s in mine), default=0):.1f}",
        ])  # fmt: skip
    return rows


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


# ----------------------------------------------------------------------------------------- server


@dataclass
class Server:
    base: str
    port: int
    proc: subprocess.Popen[bytes]
    log_file: Path
    workers: set[int]
    notes: str = ""  # the server log's lines other than the access log, kept after it is deleted


NOTABLE = re.compile(r"overloaded|Traceback|ERROR|CRITICAL|Exception|died|Waiting for child|Child process")


@contextlib.contextmanager
def serving(procs: Processes, env: Mapping[str, str], label: str, max_lag_ms: int | None) -> Iterator[Server]:
    """``verify serve --workers 2`` with ``VERIFY_MAX_LAG_MS`` set (None: the production default).
    The server log (mostly the access log) is deleted when it stops; its notable lines are kept in
    ``server-<label>.notes`` and in ``Server.notes``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run_env = {**env, "VERIFY_PUBLIC_URL": base}
    if max_lag_ms is not None:
        run_env["VERIFY_MAX_LAG_MS"] = str(max_lag_ms)
    log_file = LOGS / f"server-{label}.log"
    log_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "verify", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(WORKERS)]  # fmt: skip
    proc = procs.start(f"server {label}", command, run_env, log_file)
    srv = Server(base, port, proc, log_file, set())
    try:
        wait_healthy(proc, base, log_file)
        srv.workers = worker_pids(base, WORKERS)
        if len(srv.workers) < WORKERS:
            raise SystemExit(f"only {len(srv.workers)} of {WORKERS} workers answered /healthz")
        yield srv
    finally:
        procs.stop(proc)
        with contextlib.suppress(OSError):
            with log_file.open(encoding="utf-8", errors="replace") as f:
                srv.notes = "".join(line for line in f if NOTABLE.search(line) and '"GET ' not in line)
            log_file.with_suffix(".notes").write_text(srv.notes, encoding="utf-8")
            log_file.unlink()


def nginx_binary() -> str | None:
    """nginx on PATH, or Debian's /usr/sbin/nginx (not on a non-root user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


@dataclass(frozen=True, slots=True)
class Front:
    base: str
    port: int
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def fronting(procs: Processes, env: Mapping[str, str], srv: Server, max_in_flight: int) -> Iterator[Front]:
    """nginx in front of ``srv``, configured by ``verify proxy-config`` (verify/http/front_proxy.py)
    with ``max_in_flight``, listening on a port of its own."""
    port = free_port()
    prefix = WORK / f"nginx-{max_in_flight}"
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    conf = prefix / "nginx.conf"
    text = verify(dict(env), "proxy-config", "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{srv.port}",
                  "--max-in-flight", str(max_in_flight), "--prefix", str(prefix))  # fmt: skip
    conf.write_text(text, encoding="utf-8")
    nginx = nginx_binary()
    assert nginx is not None  # checked with the arguments
    proc = procs.start(f"nginx {max_in_flight}", [nginx, "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"],
                       dict(env), prefix / "stdout.log")  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, base, prefix / "error.log")
        yield Front(base, port, proc)
    finally:
        procs.stop(proc)


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU seconds the processes ``pids`` have used (fields 14 and 15 of /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def client_connections(pid: int, port: int) -> int:
    """How many established connections on ``port`` the process ``pid`` holds."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            inodes |= established_inodes(Path(table).read_text(), port)
    held = 0
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


# ----------------------------------------------------------------------------------------- drills


def find_sustainable(procs: Processes, base: str, lines: Path, label: str) -> Reference:
    """The closed-loop throughput, then paced steps until one fails (the module docstring)."""
    run_wrk(procs, f"{label}-warmup", lines, base, WARMUP_SECONDS, CLOSED_CONNECTIONS, CLOSED_THREADS)
    closed = run_wrk(
        procs, f"{label}-closed", lines, base, CLOSED_SECONDS, CLOSED_CONNECTIONS, CLOSED_THREADS
    )
    log(f"{label}: closed loop {closed.rps:,.0f} req/s, p99 {closed.p99_ms:.1f} ms")
    steps: list[Step] = []
    for share in STEPS:
        rate = share * closed.rps
        step = Step(
            rate, run_wrk(procs, f"{label}-step", lines, base, STEP_SECONDS, PACED_CONNECTIONS, 1, rate)
        )
        steps.append(step)
        t = step.result.totals
        log(f"{label}: paced {rate:,.0f} req/s: p99 {step.result.p99_ms:.1f} ms, {t.answered - t.ok} not 200, "
            f"{step.result.late} slots dropped: {'ok' if step.passed else 'past the sustainable rate'}")  # fmt: skip
        if not step.passed:
            break
    return Reference(closed, tuple(steps))


def overload_one(
    procs: Processes, env: Mapping[str, str], lines: Path, paths: Sequence[str], max_lag_ms: int,
    ref: Reference, overload_s: int, connections: int, front: int | None = None,
) -> OverloadRun:  # fmt: skip
    """One setting: ``max_lag_ms`` in the app, or (``front``) the app with shedding off behind the
    nginx front with that bound on requests in flight; R is ``ref``'s, found the same way."""
    label, rate = (f"lag{max_lag_ms}" if front is None else f"front{front}"), ref.rate
    calm_rate, extra = BACKGROUND_SHARE * rate, (OVERLOAD_FACTOR - BACKGROUND_SHARE) * rate
    with contextlib.ExitStack() as stack:
        srv = stack.enter_context(serving(procs, env, label, max_lag_ms))
        edge: Server | Front = srv if front is None else stack.enter_context(fronting(procs, env, srv, front))
        run_wrk(procs, f"{label}-warmup", lines, edge.base, WARMUP_SECONDS, PACED_CONNECTIONS, 1, calm_rate)
        calm = run_wrk(procs, f"{label}-calm", lines, edge.base, CALM_SECONDS, PACED_CONNECTIONS, 1, rate)
        log(f"{label}: {CALM_SECONDS} s at R = {rate:,.0f} req/s: p99 {calm.p99_ms:.1f} ms, "
            f"{calm.totals.answered - calm.totals.ok} not 200; then {PRE_SECONDS} s at 0.7 R, {overload_s} s at 2 R, "
            f"{POST_SECONDS} s at 0.7 R")  # fmt: skip
        with Probe(edge.port, paths) as probe:
            background = WrkRun(procs, f"{label}-background", lines, edge.base,
                                PRE_SECONDS + overload_s + POST_SECONDS, PACED_CONNECTIONS, 1, calm_rate)  # fmt: skip
            time.sleep(PRE_SECONDS)
            surge_cpu0, overflows0 = cpu_seconds(srv.workers), listen_overflows()
            surge = WrkRun(procs, f"{label}-surge", lines, edge.base, overload_s, connections, 2, extra)
            over = surge.finish()
            surge_cpu = (cpu_seconds(srv.workers) - surge_cpu0) / (surge.ended - surge.started)
            overflows = listen_overflows() - overflows0
            bg = background.finish()
            time.sleep(0.5)  # the probe's last requests
        samples = list(probe.samples)
    notes = srv.notes  # set once the server has stopped
    start, end = surge.started, surge.ended
    buckets = merge(over, bg)
    write_csv(WORK / f"timeline-{label}.csv", timeline(buckets, samples, start))
    during, seconds = window(buckets, start, end)
    pre, _ = window(bg.buckets, background.started, start)
    post, _ = window(bg.buckets, end, background.ended)
    whole = probe_stats(samples)
    return OverloadRun(
        max_lag_ms=max_lag_ms, rate=rate, calm_503=calm.totals.answered - calm.totals.ok, calm_p99_ms=calm.p99_ms,
        pre_503=pre.shed + pre.other + probe_stats(samples, 0.0, start).shed, target_rps=OVERLOAD_FACTOR * rate,
        sent_rps=during.sent / seconds if seconds else 0.0, ok_rps=during.ok / seconds if seconds else 0.0,
        shed_share=during.shed / during.answered if during.answered else 0.0,
        shed_rps=during.shed / seconds if seconds else 0.0,
        worker_cpu=surge_cpu, no_retry_after=over.totals.no_retry_after + bg.totals.no_retry_after + whole.no_retry_after,
        probe=probe_stats(samples, start, end), wrk_p99_ms=over.p99_ms, timeouts=over.timeout + bg.timeout,
        socket_errors=over.socket_errors + bg.socket_errors, probe_failed=whole.failed,
        recovery_s=recovery_seconds(samples, end, recovery_threshold(ref.p99_ms)), post_503=post.shed,
        refusals=refusal_log(notes), listen_overflows=overflows, front=front,
    )  # fmt: skip


def kill_drill(procs: Processes, env: Mapping[str, str], lines: Path, rate: float) -> KillRun:
    """kill -9 of one worker under paced load at ``rate`` (production settings)."""
    with serving(procs, env, "kill", None) as srv:
        run_wrk(procs, "kill-warmup", lines, srv.base, WARMUP_SECONDS, PACED_CONNECTIONS, 1, rate)
        load = WrkRun(procs, "kill", lines, srv.base, KILL_SECONDS, PACED_CONNECTIONS, 1, rate)
        time.sleep(KILL_AT_S)
        victim = min(srv.workers)
        held = client_connections(victim, srv.port)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        log(f"kill -9 of worker {victim} (it held {held} client connections)")
        respawn = None
        while time.monotonic() - killed < 30:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=2)
                conn.request("GET", "/healthz")
                pid = json.loads(conn.getresponse().read())["status_view"]["worker"]
                conn.close()
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                pid = None
            if pid is not None and pid not in srv.workers:
                respawn = time.monotonic() - killed
                break
            time.sleep(0.05)
        result = load.finish()
    t = result.totals
    return KillRun(rate=rate, connections=PACED_CONNECTIONS, seconds=KILL_SECONDS, victim_connections=held,
                   requests=result.requests, non_2xx=t.answered - t.ok, socket_errors=result.socket_errors,
                   timeouts=result.timeout, respawn_s=respawn)  # fmt: skip


def soak(
    procs: Processes, env: Mapping[str, str], lines: Path, minutes: float, max_lag_ms: int | None
) -> SoakRun:
    with serving(procs, env, "soak", max_lag_ms) as srv:
        ref = find_sustainable(procs, srv.base, lines, "soak")
        rate = SOAK_SHARE * ref.rate
        seconds = round(minutes * 60)
        log(f"soak: the mix's sustainable rate {ref.rate:,.0f} req/s; {seconds} s at {rate:,.0f} req/s")
        load = WrkRun(procs, "soak", lines, srv.base, seconds, SOAK_CONNECTIONS, 1, rate)
        series: list[tuple[float, dict[int, float]]] = []
        peak = 0.0
        while load.proc.poll() is None:
            sample = {pid: status_mb({pid}, "VmRSS") for pid in srv.workers}
            series.append((time.monotonic() - load.started, sample))
            peak = max(peak, status_mb(srv.workers, "VmHWM"))
            if len(series) % 6 == 1:
                log(
                    f"soak: {series[-1][0] / 60:.0f} min, worker RSS "
                    + ", ".join(f"{mb:.0f} MB" for mb in sample.values())
                )
            with contextlib.suppress(subprocess.TimeoutExpired):
                load.proc.wait(timeout=RSS_EVERY_S)
        result = load.finish()
        changed = worker_pids(srv.base, WORKERS) != srv.workers
    write_csv(WORK / "soak-rss.csv", [["seconds", *map(str, sorted(srv.workers))]]
              + [[f"{t:.0f}", *(f"{m.get(pid, 0):.1f}" for pid in sorted(srv.workers))] for t, m in series])  # fmt: skip
    t = result.totals
    sent, span = window(result.buckets, load.started, load.ended)
    return SoakRun(
        minutes=result.duration_s / 60, max_lag_ms=max_lag_ms, reference=ref, target_rps=rate,
        sent_rps=sent.sent / span if span else 0.0, requests=result.requests, non_2xx=t.answered - t.ok,
        socket_errors=result.socket_errors, timeouts=result.timeout, p50_ms=result.p50_ms, p99_ms=result.p99_ms,
        rss=rss_growth(series, RSS_WARMUP_S), peak_mb=peak, workers_changed=changed,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------- report


def _loadavg() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def run_line(load_before: str, source: str, certificates: int) -> str:
    return (
        f"- Run {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}: {machine()}, {wrk_version()}; "
        f"load average (1/5/15 min) before {load_before}, after {_loadavg()}. wrk, the probe, the server "
        f"and PostgreSQL share the cores, and the machine is shared with other work.\n"
        f"- Data: {source}; the load draws from its {certificates:,} sample certificates."
    )


OVERLOAD_INTRO = """\
`python -m loadtests.overload` starts `verify serve --workers 2` as `make loadtest` does (production
settings, access log on, `VERIFY_TRUST_PROXY=1` with a random `X-Forwarded-For` per request, its own
embedded PostgreSQL under var/loadtest), a fresh server per setting, and drives QR JSON scans
(`GET /api/v1/verify/{payload}`) with wrk and loadtests/wrk/paced.lua, which paces requests: each
wrk thread keeps a schedule of send slots that its connections take in turn, so the offered rate
holds while answers slow down, as long as a connection is free ("sent" is what it managed).

**R**, the sustainable rate, is found on a server with shedding off: the closed-loop throughput T
(`wrk -t2 -c64 -d15s`), then 10 s paced steps at 20 %, 30 %, … of T over 512 connections, up to the
first step that does not answer everything 200 on schedule with p99 ≤ 50 ms; R is the step before
it. (T itself is no base for "70 %" or "2×": answering 64 connections back to back batches the work,
while paced arrivals, one per turn of the event loop, cost a worker about 1.4× the CPU each.)

Then per setting, a `VERIFY_MAX_LAG_MS` value of the app's own shedding or (*nginx front, ≤ N in
flight*) the app with shedding off behind the nginx front that `verify proxy-config` writes, nginx
refusing what is over N requests in flight (the load then goes to nginx, and R is still the app's
own): 10 s paced at R (*calm*), then 0.7 R over 512 connections for
15 s, a surge of 1.3 R more over 4,096 connections for 30 s (2 R offered in all), and 45 s more of
0.7 R alone. A probe sends 20 requests/s on a new connection each (a phone) and 10/s on one
kept-alive connection (a proxy's upstream connection) from the 0.7 R phase to the end. *503 p50 /
p99* and *200 p99* are the probe's during the surge (the target applies to both kinds of
connection); *a 503 costs* is the workers' CPU during the surge less its 200s at the cost of one in
the surge with shedding off, per 503, as a multiple of that cost; *listen queue overflows* are the
kernel's ListenOverflows (/proc/net/netstat) during the surge: connection attempts dropped, which
the client repeats after 1 s, 3 s, …; *recovery* runs from the end of the surge to the first probe
request that begins 5 s of answers all 200 and faster than 3× the p99 at R; *refusal log* is the
largest requests-in-flight and loop lag of the workers' "overloaded" log lines (one per worker every
10 s while refusing). A ✗ marks a missed target; the per-second counts are kept in
var/overload/timeline-lag*.csv."""

KILL_INTRO = """\
kill -9: one of two workers killed with SIGKILL 8 s into 24 s of paced traffic at 0.7 R over 512
kept-alive connections (production settings). *Lost* counts every non-2xx answer, socket error and
timeout wrk saw; the bound is the client connections the killed worker held just before (its socket
inodes among the established connections of the server port, from /proc): a request in flight on one
of them is lost, and wrk counts one error for each of them, idle or not, when it finds it gone."""

SOAK_INTRO = """\
`python -m loadtests.overload --soak --minutes 10` starts the server as the overload drill does and
sends a mix (35 % QR JSON, 35 % landing pages `/c/{payload}`, 20 % lookups by number and name, 10 %
by ID and name, all of published certificates, so every answer should be a 200). Its sustainable
rate R is found as in the overload drill (closed loop, then paced steps up to p99 ≤ 50 ms), then the
soak runs at 0.7 R paced over 256 connections. Worker RSS (VmRSS of both workers, every 10 s, in
var/overload/soak-rss.csv) is compared between the end of the first minute and the end. An error is
any non-2xx answer, socket error or timeout."""


def overload_section(ref: Reference, runs: Sequence[OverloadRun], kill: KillRun | None, facts: str,
                     argv: str) -> str:  # fmt: skip
    parts = [
        OVERLOAD_INTRO,
        "",
        facts,
        f"- Closed loop T = {ref.closed.rps:,.0f} req/s (p99 {_ms(ref.closed.p99_ms)} ms). Paced steps (req/s): "
        f"{steps_text(ref.steps)}. **R = {ref.rate:,.0f} req/s** (p99 {_ms(ref.p99_ms)} ms); the surge offers "
        f"2 R = {OVERLOAD_FACTOR * ref.rate:,.0f} req/s.",
        "",
        overload_table(runs),
        "",
        f"Targets: no 503 at calm load (R and 0.7 R); under overload 503 with Retry-After, p99 ≤ "
        f"{SHED_WITHIN_MS:.0f} ms; no timeouts (wrk's 10 s, or a probe request without an answer); recovery ≤ "
        f"{RECOVER_WITHIN_S:.0f} s. Workers' CPU during the surge (of {os.cpu_count()} cores): "
        + ", ".join(f"{r.setting}: {r.worker_cpu:.2f}" for r in runs)
        + ".",
    ]
    if kill is not None:
        parts += ["", KILL_INTRO, "", kill_table(kill)]
    parts += ["", f"Reproduce: `make overload` (`python -m loadtests.overload {argv}`)."]
    return "\n".join(parts)


def soak_section(s: SoakRun, facts: str) -> str:
    return "\n".join([
        SOAK_INTRO, "", facts, "", soak_table(s), "",
        f"Verdict: {verdict_text(soak_verdicts(s))}. Reproduce: `make soak` "
        f"(`python -m loadtests.overload --soak --minutes {s.minutes:.0f}`; `SOAK_MINUTES`, `SOAK_MAX_LAG_MS`).",
    ])  # fmt: skip


# ------------------------------------------------------------------------------------------- main


def lag_values(raw: Sequence[str] | None) -> list[int]:
    """``--max-lag-ms`` values: repeatable, each a comma-separated list of non-negative integers."""
    values = [int(v) for item in raw or () for v in item.split(",") if v.strip()]
    if any(v < 0 for v in values):
        raise ValueError("--max-lag-ms values must be >= 0")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loadtests.overload", description=__doc__.split("\n\n")[0])
    p.add_argument("--max-lag-ms", action="append", metavar="MS[,MS…]",
                   help="VERIFY_MAX_LAG_MS values, a server each (default 0,50,250; "
                        "with --soak one value, default: the production default)")  # fmt: skip
    p.add_argument("--front", action="append", metavar="N[,N…]",
                   help="also run each bound on requests in flight of the nginx front (verify proxy-config) "
                        f"before the app with shedding off (default {','.join(map(str, DEFAULT_FRONTS))}; 0: none)")  # fmt: skip
    p.add_argument("--seconds-overload", type=int, default=30, help="length of the 2 R surge (default 30)")
    p.add_argument("--connections", type=int, default=4096, help="connections of the surge (default 4096)")
    p.add_argument("--no-kill", action="store_true", help="skip the kill -9 drill")
    p.add_argument("--soak", action="store_true", help="the soak instead of the overload drills")
    p.add_argument("--minutes", type=float, default=10.0, help="soak length (default 10)")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = p.parse_args(argv)
    try:
        args.lags = lag_values(args.max_lag_ms)
    except ValueError as exc:
        p.error(str(exc))
    try:
        args.fronts = lag_values(args.front) if args.front else list(DEFAULT_FRONTS)
    except ValueError as exc:
        p.error(str(exc).replace("--max-lag-ms", "--front"))
    args.fronts = [n for n in args.fronts if n > 0]
    if args.fronts and not args.soak and nginx_binary() is None:
        p.error("nginx is missing: apt-get install -y nginx-light (make overload does it), or --front 0")
    if args.soak and len(args.lags) > 1:
        p.error("--soak takes one --max-lag-ms value")
    if not args.soak and not args.lags:
        args.lags = list(DEFAULT_MAX_LAG_MS)
    if args.seconds_overload < 5 or args.connections < 2 or args.minutes <= 0:
        p.error("--seconds-overload >= 5, --connections >= 2 and --minutes > 0, please")
    return args


def raise_open_files() -> None:
    """wrk's 4,096 connections and the workers' sockets need more descriptors than a default 1,024;
    every process started here inherits the raised soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (make overload and make soak do it)")
    signal.signal(signal.SIGTERM, terminated)
    raise_open_files()
    for d in (HOME, LOGS):
        d.mkdir(parents=True, exist_ok=True)
    load_before = _loadavg()
    env = base_env("http://127.0.0.1")
    procs = Processes()
    runs: list[OverloadRun] = []
    ref: Reference | None = None
    kill: KillRun | None = None
    soaked: SoakRun | None = None
    try:
        with database(env, shared=False):
            try:
                sample_file, source = prepare_data(env, None, shared=False)
                sample = [
                    json.loads(x) for x in sample_file.read_text(encoding="utf-8").splitlines() if x.strip()
                ]
                qr = write_lines(WORK / "qr-json.txt", qr_requests(sample))
                if args.soak:
                    mix = write_lines(WORK / "soak-mix.txt", mix_requests(sample))
                    soaked = soak(procs, env, mix, args.minutes, args.lags[0] if args.lags else None)
                else:
                    paths = [line.split("\t")[2] for line in qr.read_text(encoding="utf-8").splitlines()]
                    with serving(procs, env, "reference", 0) as srv:
                        ref = find_sustainable(procs, srv.base, qr, "reference")
                    log(f"R = {ref.rate:,.0f} req/s (closed loop {ref.closed.rps:,.0f})")
                    for lag in args.lags:
                        runs.append(overload_one(procs, env, qr, paths, lag, ref, args.seconds_overload,
                                                 args.connections))  # fmt: skip
                        print(overload_table(runs[-1:]), flush=True)
                    for n in args.fronts:
                        runs.append(overload_one(procs, env, qr, paths, 0, ref, args.seconds_overload,
                                                 args.connections, front=n))  # fmt: skip
                        print(overload_table(runs[-1:]), flush=True)
                    if not args.no_kill:
                        kill = kill_drill(procs, env, qr, BACKGROUND_SHARE * ref.rate)
            finally:
                procs.stop_all()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    facts = run_line(load_before, source, len(sample))
    if soaked is not None:
        body = soak_section(soaked, facts)
        print(body)
        if not args.no_write:
            update_marked_section(BENCHMARKS, *SOAK_MARKERS, SOAK_TITLE, body)
            log(f"wrote the soak section of {BENCHMARKS.relative_to(ROOT)}")
        return 0 if passed(soak_verdicts(soaked)[:2]) else 1
    assert ref is not None
    shown = " ".join(argv if argv is not None else sys.argv[1:]).strip()
    body = overload_section(ref, runs, kill, facts, shown)
    print(body)
    if not args.no_write:
        update_marked_section(BENCHMARKS, *OVERLOAD_MARKERS, OVERLOAD_TITLE, body)
        log(f"wrote the overload section of {BENCHMARKS.relative_to(ROOT)}")
    ok = any(passed(overload_verdicts(r)) for r in runs)
    return 0 if ok and (kill is None or passed(kill_verdicts(kill))) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The pure parts of the overload and soak drills (loadtests/overload.py): reading wrk's output,
the recovery time, the sustainable rate, and the pass/fail verdicts against issue 9's targets."""

from __future__ import annotations

import dataclasses
import json

import pytest

from loadtests import overload as o

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000
  2 threads and 64 connections
  Socket errors: connect 1, read 2, write 3, timeout 4
Requests/sec:   1000.00
WRK_JSON {"requests": 10000, "duration_us": 10000000, "p50_us": 1500, "p99_us": 42000, "connect": 1, \
"read": 2, "write": 3, "status": 7, "timeout": 4, "late": 5, "buckets": [[100, 10, 8, 1, 1, 1], \
[101, 20, 15, 5, 0, 0], [100, 5, 5, 0, 0, 0]]}
"""


def test_parse_wrk_reads_the_summary_and_merges_the_threads_buckets() -> None:
    w = o.parse_wrk(WRK_OUTPUT)
    assert (w.requests, w.duration_s, w.p50_ms, w.p99_ms) == (10000, 10.0, 1.5, 42.0)
    assert w.rps == 1000.0
    assert w.socket_errors == 6 and w.timeout == 4 and w.status == 7 and w.late == 5
    assert w.buckets[100] == o.Counts(sent=15, ok=13, shed=1, other=1, no_retry_after=1)
    assert w.buckets[101] == o.Counts(sent=20, ok=15, shed=5)
    assert w.totals == o.Counts(sent=35, ok=28, shed=6, other=1, no_retry_after=1)
    assert w.totals.answered == 35


def test_parse_wrk_without_a_summary_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="WRK_JSON"):
        o.parse_wrk("Running 10s test\nRequests/sec: 5\n")


def test_window_counts_only_the_seconds_wholly_inside() -> None:
    buckets = {s: o.Counts(sent=s, ok=1) for s in range(10, 15)}
    total, seconds = o.window(buckets, 10.5, 13.2)
    assert seconds == 2  # 11 and 12
    assert total == o.Counts(sent=23, ok=2)
    assert o.window(buckets, 20.0, 20.5) == (o.Counts(), 0)
    merged = o.merge(o.parse_wrk(WRK_OUTPUT), o.parse_wrk(WRK_OUTPUT))
    assert merged[101] == o.Counts(sent=40, ok=30, shed=10)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert o.percentile(values, 99) == 99.0
    assert o.percentile(values, 50) == 50.0
    assert o.percentile(values, 100) == 100.0
    assert o.percentile([7.0], 99) == 7.0
    assert o.percentile([], 50) is None


def _samples(
    start: float, end: float, status: int = 200, ms: float = 2.0, step: float = 0.05
) -> list[o.Sample]:
    n = round((end - start) / step)
    return [o.Sample(start + i * step, "fresh", status, ms, None) for i in range(n)]


def test_recovery_is_immediate_when_every_answer_after_the_end_is_good() -> None:
    samples = _samples(90, 100, status=503) + _samples(100.02, 130)
    assert o.recovery_seconds(samples, 100.0, 30.0) == pytest.approx(0.02)


def test_recovery_waits_for_the_last_bad_answer_and_a_full_hold() -> None:
    samples = _samples(100, 112, status=503) + _samples(112, 140)
    assert o.recovery_seconds(samples, 100.0, 30.0) == pytest.approx(12.0)
    # A slow 200 (over the threshold) within the first 5 good seconds restarts the count, and so
    # does a request without an answer; one after a full 5 s stretch no longer matters.
    slow = [*samples, o.Sample(115.01, "keepalive", 200, 31.0, None)]
    assert o.recovery_seconds(slow, 100.0, 30.0) == pytest.approx(15.05, abs=0.01)
    failed = [*slow, o.Sample(118.01, "fresh", 0, 10_000.0, None)]
    assert o.recovery_seconds(failed, 100.0, 30.0) == pytest.approx(18.05, abs=0.01)
    late = [*samples, o.Sample(125.0, "fresh", 0, 10_000.0, None)]
    assert o.recovery_seconds(late, 100.0, 30.0) == pytest.approx(12.0)


def test_no_recovery_without_hold_seconds_of_good_answers() -> None:
    assert o.recovery_seconds(_samples(100, 150, status=503), 100.0, 30.0) is None
    assert o.recovery_seconds(_samples(100, 103), 100.0, 30.0) is None  # only 3 s observed
    assert o.recovery_seconds(_samples(90, 99), 100.0, 30.0) is None  # nothing after the end
    # Bad answers every 4 s never leave 5 s in a row.
    flaky = [
        s if round((s.at - 100) * 20) % 80 else dataclasses.replace(s, status=503) for s in _samples(100, 140)
    ]
    assert o.recovery_seconds(flaky, 100.0, 30.0) is None


def test_probe_stats_split_new_and_kept_alive_connections() -> None:
    samples = [
        o.Sample(1.0, "fresh", 503, 10.0, "2"),
        o.Sample(1.1, "fresh", 503, 30.0, None),
        o.Sample(1.2, "keepalive", 503, 80.0, "2"),
        o.Sample(1.3, "fresh", 200, 5.0, None),
        o.Sample(1.4, "keepalive", 0, 10_000.0, None),
        o.Sample(9.0, "fresh", 503, 1.0, "2"),  # outside the window
    ]
    p = o.probe_stats(samples, 0.5, 5.0)
    assert (p.requests, p.shed, p.failed, p.no_retry_after) == (5, 3, 1, 1)
    assert (p.shed_p50_ms, p.shed_p99_ms, p.shed_keepalive_p99_ms, p.shed_all_p99_ms) == (
        10.0,
        30.0,
        80.0,
        80.0,
    )
    assert (p.ok_p99_ms, p.ok_keepalive_p99_ms) == (5.0, None)


def _run(**changes: object) -> o.OverloadRun:
    good = o.OverloadRun(
        max_lag_ms=25, rate=3000.0, calm_503=0, calm_p99_ms=20.0, pre_503=0, target_rps=6000.0, sent_rps=6000.0,
        ok_rps=3000.0, shed_share=0.5, shed_rps=3000.0, worker_cpu=1.5, no_retry_after=0,
        probe=o.ProbeStats(100, 50, 0, 0, 10.0, 40.0, 30.0, 45.0, 20.0, 15.0), wrk_p99_ms=40.0, timeouts=0,
        socket_errors=0, probe_failed=0, recovery_s=3.0, post_503=0, refusals=(0, 30),
    )  # fmt: skip
    return dataclasses.replace(good, **changes)  # type: ignore[arg-type]


def test_a_run_meeting_every_target_passes() -> None:
    assert o.passed(o.overload_verdicts(_run()))
    assert o.verdict_text(o.overload_verdicts(_run())) == "all targets met"


@pytest.mark.parametrize(
    ("changes", "target"),
    [
        ({"calm_503": 1}, "no 503 at calm load"),
        ({"pre_503": 3}, "no 503 at calm load"),
        ({"shed_share": 0.0}, "503 + Retry-After under overload"),
        ({"no_retry_after": 1}, "503 + Retry-After under overload"),
        ({"probe": o.ProbeStats(100, 50, 0, 0, 10.0, 40.0, 30.0, 51.0, 20.0, 15.0)}, o.SHED_TARGET),
        ({"probe": o.ProbeStats(100, 0, 0, 0, None, None, None, None, 20.0, 15.0)}, o.SHED_TARGET),
        ({"timeouts": 2}, "no timeouts"),
        ({"probe_failed": 1}, "no timeouts"),
        ({"recovery_s": 30.5}, o.RECOVERY_TARGET),
        ({"recovery_s": None}, o.RECOVERY_TARGET),
    ],
)
def test_each_missed_overload_target_fails_its_verdict(changes: dict[str, object], target: str) -> None:
    verdicts = dict(o.overload_verdicts(_run(**changes)))
    assert verdicts[target] is False
    assert sum(not ok for ok in verdicts.values()) == 1
    assert target in o.verdict_text(o.overload_verdicts(_run(**changes)))


def test_the_overload_table_has_a_row_per_value_and_marks_misses() -> None:
    table = o.overload_table(
        [_run(max_lag_ms=0, shed_share=0.0, ok_rps=5000.0), _run(), _run(max_lag_ms=250)]
    )
    rows = table.splitlines()
    assert len(rows) == 2 + 3
    assert rows[2].startswith("| 0 (off) |") and "✗" in rows[2] and "**fails**" in rows[2]
    assert rows[3].startswith("| 25 |") and "✗" not in rows[3] and rows[3].endswith("all targets met |")
    assert all(row.count("|") == rows[0].count("|") for row in rows)
    # A 503's cost is measured against the 200s of the run with shedding off:
    # (1.5 - 3000 * 1.5/5000) / 3000 / (1.5/5000) = 0.67
    assert "≈ 0.67" in rows[3]


def test_refusal_cost() -> None:
    assert o.refusal_cost(1.5, 5000, 1.2, 1000, 5000) == pytest.approx(0.6)
    assert o.refusal_cost(1.5, 5000, 0.2, 1000, 5000) == 0.0  # never negative
    assert o.refusal_cost(1.5, 5000, 1.2, 1000, 0) is None
    assert o.refusal_cost(0.0, 0, 1.2, 1000, 10) is None


def _step(rate: float, p99_ms: float = 10.0, **changes: int) -> o.Step:
    counts = {"sent": 1000, "ok": 1000, **{k: v for k, v in changes.items() if k in ("ok", "shed", "other")}}
    wrk = o.Wrk(
        requests=1000, duration_s=10.0, p50_ms=1.0, p99_ms=p99_ms, connect=0, read=changes.get("read", 0), write=0,
        status=0, timeout=changes.get("timeout", 0), late=changes.get("late", 0), buckets={1: o.Counts(**counts)},
    )  # fmt: skip
    return o.Step(rate, wrk)


def test_the_sustainable_rate_is_the_last_step_before_the_first_failure() -> None:
    assert _step(100).passed
    assert not _step(100, p99_ms=o.SUSTAINED_P99_MS + 1).passed
    assert not _step(100, ok=999, shed=1).passed
    assert not _step(100, late=3).passed
    assert not _step(100, read=1).passed
    assert not _step(100, timeout=1).passed
    steps = [_step(100), _step(200), _step(300, p99_ms=80), _step(400)]
    best = o.sustainable(steps)
    assert best is not None and best.rate == 200
    closed = _step(1000).result
    ref = o.Reference(closed, tuple(steps))
    assert (ref.rate, ref.p99_ms) == (200, 10.0)
    assert "300 (p99 80.0 ms ✗)" in o.steps_text(steps)
    failed_first = o.Reference(closed, (_step(200, p99_ms=90),))
    assert failed_first.best is None and failed_first.rate == o.STEPS[0] * closed.rps
    assert o.recovery_threshold(2.0) == o.RECOVERY_FLOOR_MS and o.recovery_threshold(20.0) == 60.0


def _kill(**changes: object) -> o.KillRun:
    k = o.KillRun(rate=2000, connections=512, seconds=24, victim_connections=250, requests=50_000, non_2xx=0,
                  socket_errors=250, timeouts=0, respawn_s=1.0)  # fmt: skip
    return dataclasses.replace(k, **changes)  # type: ignore[arg-type]


def test_kill_verdicts() -> None:
    assert o.passed(o.kill_verdicts(_kill()))
    assert not o.passed(o.kill_verdicts(_kill(non_2xx=1)))  # one more than the killed worker held
    assert not o.passed(o.kill_verdicts(_kill(timeouts=1)))
    assert not o.passed(o.kill_verdicts(_kill(victim_connections=0, socket_errors=0)))  # nothing was measured
    assert not o.passed(o.kill_verdicts(_kill(respawn_s=None)))
    assert not o.passed(o.kill_verdicts(_kill(respawn_s=31.0)))
    assert "| pass |" in o.kill_table(_kill()) and "**FAIL**" in o.kill_table(_kill(non_2xx=5))


def test_rss_growth_compares_the_end_of_the_warm_up_with_the_end() -> None:
    series = [(0.0, {1: 50.0, 2: 52.0}), (30.0, {1: 60.0, 2: 61.0}), (61.0, {1: 70.0, 2: 72.0}),
              (600.0, {1: 73.5, 2: 90.0})]  # fmt: skip
    assert o.rss_growth(series, 60.0) == {1: (70.0, 73.5), 2: (72.0, 90.0)}
    assert o.rss_growth([], 60.0) == {}
    # A worker that is gone by the end is left out (the soak reports the replacement).
    replaced = [(0.0, {1: 10.0, 2: 10.0}), (61.0, {1: 11.0, 2: 12.0}), (120.0, {1: 12.0, 3: 9.0})]
    assert o.rss_growth(replaced, 60.0) == {1: (11.0, 12.0)}


def _soak(**changes: object) -> o.SoakRun:
    ref = o.Reference(_step(3000).result, (_step(1000), _step(2000)))
    s = o.SoakRun(minutes=10.0, max_lag_ms=None, reference=ref, target_rps=1400.0, sent_rps=1400.0,
                  requests=840_000, non_2xx=0, socket_errors=0, timeouts=0, p50_ms=2.0, p99_ms=20.0,
                  rss={1: (70.0, 75.0), 2: (72.0, 79.0)}, peak_mb=80.0, workers_changed=False)  # fmt: skip
    return dataclasses.replace(s, **changes)  # type: ignore[arg-type]


def test_soak_verdicts() -> None:
    assert o.passed(o.soak_verdicts(_soak()))
    assert _soak().growth == pytest.approx(7 / 72)
    assert not dict(o.soak_verdicts(_soak(non_2xx=1)))["0 errors"]
    assert not dict(o.soak_verdicts(_soak(socket_errors=1)))["0 errors"]
    assert not dict(o.soak_verdicts(_soak(requests=0)))["0 errors"]
    assert not dict(o.soak_verdicts(_soak(rss={1: (70.0, 77.5)})))["RSS growth ≤ 10%"]
    assert not dict(o.soak_verdicts(_soak(rss={})))["RSS growth ≤ 10%"]
    assert not dict(o.soak_verdicts(_soak(workers_changed=True)))["RSS growth ≤ 10%"]
    assert not dict(o.soak_verdicts(_soak(minutes=2.0)))["10 minutes"]
    assert "**FAIL**" in o.soak_table(_soak(non_2xx=3)) and "**FAIL**" not in o.soak_table(_soak())


PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0
   1: 0100007F:1F40 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0
   2: 0100007F:1F40 0100007F:D432 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0
   3: 0100007F:D431 0100007F:1F40 01 00000000:00000000 00:00000000 00000000     0        0 1004 1 0
   4: 0100007F:1F41 0100007F:D433 01 00000000:00000000 00:00000000 00000000     0        0 1005 1 0
   5: 0100007F:1F40 0100007F:D434 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0
"""


def test_established_inodes_are_the_server_ports_open_connections() -> None:
    # 0x1F40 = 8000: not the listening socket (0A), not the client side (local port D431), not
    # another port, not TIME_WAIT (06).
    assert o.established_inodes(PROC_NET_TCP, 8000) == {"1002", "1003"}
    assert o.established_inodes(PROC_NET_TCP, 9999) == set()


def test_tcp_ext_and_the_refusal_log() -> None:
    netstat = (
        "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 1 42 43\nIpExt: InNoRoutes\nIpExt: 0\n"
    )
    assert o.tcp_ext(netstat) == {"SyncookiesSent": 1, "ListenOverflows": 42, "ListenDrops": 43}
    assert o.tcp_ext("IpExt: a\nIpExt: 1\n") == {}
    log = (
        "INFO:     Started server process [12]\n"
        "WARNING:     verify.http overloaded: 9739 requests refused in 10 s (in flight 0, loop lag 80 ms)\n"
        "WARNING:     verify.http overloaded: 1 requests refused in 0 s (in flight 3, loop lag 51 ms)\n"
    )
    assert o.refusal_log(log) == (3, 80)
    assert o.refusal_log("INFO: nothing refused\n") is None


def test_max_lag_values_and_the_soak_mix() -> None:
    assert o.lag_values(["0,25", "100", " 250 "]) == [0, 25, 100, 250]
    assert o.lag_values(None) == []
    with pytest.raises(ValueError):
        o.lag_values(["-5"])
    sample = [
        {
            "qr_path": f"/C/payload{i}",
            "number": f"N{i}",
            "name": "张三",
            "id_type": "居民身份证",
            "id_number": f"I{i}",
        }
        for i in range(40)
    ]
    mix = o.mix_requests(sample)
    kinds = [
        "qr"
        if r[2].startswith("/api/v1/verify/")
        else "page"
        if r[0] == "GET"
        else "id"
        if "id_number" in r[3]
        else "number"
        for r in mix
    ]
    assert {k: kinds.count(k) for k in set(kinds)} == {"qr": 14, "page": 14, "number": 8, "id": 4}
    assert all(json.loads(r[3])["name"] == "张三" for r in mix if r[0] == "POST")
    assert o.qr_requests(sample[:1]) == [("GET", "application/json", "/api/v1/verify/payload0", "")]

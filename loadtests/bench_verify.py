"""QR verification in-process (``make bench``): what a scan costs the app once the request is
parsed, with and without the decode and signature caches, beside the uncached path measured in the
same run (the reference).

Cold: 10,000 distinct payloads, each scanned once (every cache misses). Hot: 100 payloads scanned
again and again (a hiring drive, a certificate posted online). HTTP and JSON are not included.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import time
from datetime import UTC, datetime

from loadtests.bench_signing import certificates
from verify.crypto import issuance, signing
from verify.crypto.signing import verify_signature
from verify.domain import payload
from verify.domain.snapshot import KeyRecord, build_snapshot
from verify.domain.verification import decode_segment, verify_path, verify_payload
from verify.http.api import _signature_ok


def main() -> None:
    n = int(os.environ.get("BENCH_VERIFICATIONS", "10000"))
    pair = signing.generate()
    signed = issuance.sign_certificates(certificates(n, random.Random(9)), signing.Signer(pair))
    segments = [payload.to_text(p) for _, _, p in signed]
    now = datetime.now(UTC)
    key = KeyRecord(pair.public_key, pair.kid, now, None, "active", now)
    snapshot = build_snapshot({}, [], [key], now)

    def uncached(segment: str) -> str:
        data = payload.payload_from_path(segment)
        return verify_payload(data, snapshot, fresh=True, check_signature=verify_signature).outcome

    def cached(segment: str) -> str:
        return verify_path(segment, snapshot, fresh=True, check_signature=_signature_ok).outcome

    def run(fn: object, picks: list[str]) -> float:
        t = time.perf_counter()
        for s in picks:
            assert fn(s) == "valid"  # type: ignore[operator]
        return (time.perf_counter() - t) / len(picks) * 1e6

    hot = [segments[i % 100] for i in range(n)]
    rows: list[tuple[str, list[float]]] = [("reference: uncached, cold", []), ("reference: uncached, hot", []),
                                           ("cached, cold", []), ("cached, hot", [])]  # fmt: skip
    for _ in range(3):  # interleaved rounds: the machine's noise falls on every row alike
        rows[0][1].append(run(uncached, segments))
        rows[1][1].append(run(uncached, hot))
        decode_segment.cache_clear()
        _signature_ok.cache_clear()
        rows[2][1].append(run(cached, segments))
        rows[3][1].append(run(cached, hot))
    base = statistics.median(rows[0][1])
    print(f"\nverify QR verification benchmark — {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {n:,} scans per row, median of 3 rounds")  # fmt: skip
    width = max(len(label) for label, _ in rows)
    print(f"{'measure'.ljust(width)}  {'µs / scan':>10}  {'scans/s, 1 core':>16}  vs uncached cold")
    for label, values in rows:
        us = statistics.median(values)
        print(f"{label.ljust(width)}  {us:>10.1f}  {1e6 / us:>16,.0f}  {base / us:.2f}x")


if __name__ == "__main__":
    main()

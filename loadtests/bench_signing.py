"""Signing and QR benchmarks (``make bench``): signing 1,000,000 certificate records beside the raw
libsodium signing rate measured in the same run, and the QR version / module size of the demo
certificates' URLs. Target: >= 20,000 signatures/s on 2 cores (the publish path)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import random
import time
from datetime import date, timedelta
from typing import Any

from verify.crypto import issuance, signing
from verify.domain import occupations, payload
from verify.domain.certificate import record_of
from verify.render import qr
from verify.services import demo, seed

BASE_URL = "https://verify.example.cn"


# What publication signs: a row with the certificate's signed-record fields (RECORD_FIELDS).
Cert = dict[str, Any]


def certificates(n: int, rng: random.Random) -> list[Cert]:
    scopes = occupations.SCOPES
    out = []
    for i in range(n):
        s = scopes[i % len(scopes)]
        level = s.levels[i % len(s.levels)]
        issue = date(2020, 1, 1) + timedelta(days=rng.randrange(2500))
        out.append(
            {
                "number": f"S000041010012{issue.year % 100:02d}{level}{i % 999999 + 1:06d}",
                "holder_name": seed.random_name(rng),
                "id_tail": f"{rng.randrange(10000):04d}",
                "occupation_code": s.code,
                "occupation_name": s.name,
                "job": s.job,
                "issue_date": issue,
            }
        )
    return out


def _sign_part(seed_bytes: bytes, part: list[Cert]) -> int:
    return len(issuance.sign_certificates(part, signing.Signer(signing.pair_from_seed(seed_bytes))))


def main() -> None:
    n = int(os.environ.get("BENCH_SIGNATURES", "1000000"))
    rng = random.Random(5)
    pair = signing.generate()
    signer = signing.Signer(pair)
    certs = certificates(n, rng)
    message = payload.signed_message(payload.encode_body(record_of(certs[0], pair.kid)))

    t = time.perf_counter()
    for _ in range(n):
        signer.sign(message)
    raw = n / (time.perf_counter() - t)

    t = time.perf_counter()
    issuance.sign_certificates(certs, signer)
    one = n / (time.perf_counter() - t)

    workers = os.cpu_count() or 1
    chunk = -(-n // (workers * 4))
    ctx = multiprocessing.get_context("forkserver")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        list(pool.map(_sign_part, [pair.seed] * workers, [certs[:10] for _ in range(workers)]))  # warm up
        t = time.perf_counter()
        done = sum(
            pool.map(
                _sign_part, [pair.seed] * (n // chunk + 1), [certs[i : i + chunk] for i in range(0, n, chunk)]
            )
        )
        parallel = done / (time.perf_counter() - t)

    print(f"\nverify signing benchmark — {workers} cores, {n:,} certificate records")
    print(f"{'measure':<52} figure")
    print(f"{'raw libsodium Ed25519 sign, 1 core (reference)':<52} {raw:,.0f} signatures/s")
    print(f"{'build record + sign, 1 process':<52} {one:,.0f} signatures/s ({one / raw:.2f}x raw)")
    print(f"{f'build record + sign, {workers} processes (target >= 20,000)':<52} {parallel:,.0f} signatures/s "
          f"({parallel / raw:.2f}x raw 1-core)")  # fmt: skip

    print("\nQR codes of the demo certificates (URL on https://verify.example.cn, 30 mm, 300 dpi)")
    print(f"{'certificate':<24} {'name':<10} {'URL chars':>9}  {'@M':<22} {'@Q':<22}")
    demo_certs = sorted(_demo_like(rng), key=lambda c: -len(c["holder_name"]))[:6]
    for c in demo_certs:
        url = payload.qr_url(
            BASE_URL, payload.assemble(payload.encode_body(record_of(c, pair.kid)), b"\0" * 64)
        )
        m, q = qr.qr_spec(url, error_correction="M"), qr.qr_spec(url, error_correction="Q")
        print(f"{c['number']:<24} {c['holder_name']:<10} {len(url):>9}  "
              f"V{m.version} {m.module_mm:.3f} mm/module     V{q.version} {q.module_mm:.3f} mm/module")  # fmt: skip


def _demo_like(rng: random.Random) -> list[Cert]:
    """Records shaped like the demo data (same generator, same scopes)."""
    plans = demo._plans()
    out = []
    for i, plan in enumerate(plans):
        for scope in plan.scopes[:2]:
            name = seed.random_name(rng)
            number = (f"{20 + i % 6:02d}{plan.fields['code']}{i + 1:05d}" if plan.special
                      else f"{plan.fields['code']}25{scope.level}{i + 1:06d}")  # fmt: skip
            out.append(
                {"number": number, "holder_name": name, "id_tail": "123X", "occupation_code": scope.occupation_code,
                 "occupation_name": scope.occupation_name, "job": scope.job, "issue_date": date(2025, 6, 1)}
            )  # fmt: skip
    return out


if __name__ == "__main__":
    main()

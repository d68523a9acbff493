"""Certificate rendering benchmark (``make bench``): printable certificates per second, PDF and PNG,
on every core, beside rendering only their QR codes measured in the same run; and the signer's
electronic certificates (the PDF PAdES-signed) beside the unsigned PDF.

Target (issue: printable certificates): >= 50 PDF/s on 2 cores. The pages are shaped like the demo
data (names from the seed generator, the demo scopes, 22-character numbers, a ~260-character QR URL).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from verify.crypto import pdf_signature
from verify.domain import payload
from verify.domain.certificate import Certificate
from verify.domain.codes import CodeKind
from verify.domain.holder_ids import IdType
from verify.domain.printed import Printed, printed
from verify.render import certificate, fonts, qr
from verify.services import demo, electronic, seed

BASE_URL = "https://verify.example.cn"


def pages(n: int, rng: random.Random) -> list[Printed]:
    scopes = [s for plan in demo._plans() if not plan.special for s in plan.scopes]
    out = []
    for i in range(n):
        s = scopes[i % len(scopes)]
        cert = Certificate(
            number=f"S000041010012{25}{s.level}{i + 1:06d}", kind=CodeKind.SKILL_LEVEL,
            holder_name=seed.random_name(rng), name_key="", id_type=IdType.RESIDENT, id_index=b"",
            id_cipher=b"", id_tail=f"{rng.randrange(10000):04d}", occupation_code=s.occupation_code,
            occupation_name=s.occupation_name, job=s.job, level=s.level, issue_date=date(2025, 6, 1),
            print_serial=f"{i + 1:08d}",
        )  # fmt: skip
        url = payload.qr_url(BASE_URL, bytes(rng.randrange(256) for _ in range(150)))
        out.append(printed(cert, issuer="郑州市中原职业技能评价中心", parent_issuer=None, id_number=None,
                           qr_url=url, certificate_site="http://jndj.osta.org.cn",
                           institution_site="http://pjjg.osta.org.cn", province_site="http://ha.osta.org.cn"))  # fmt: skip
    return out


def _render(job: tuple[Printed, str]) -> int:
    return len(certificate.render(job[0], job[1]))


_SIGNER: list[pdf_signature.DocumentSigner] = []  # one document signer per worker process


def _electronic(page: Printed) -> int:
    """What the signer does for each queued certificate: render the PDF and PAdES-sign it."""
    if not _SIGNER:
        _SIGNER.append(pdf_signature.create_chain("bench", now=datetime.now(UTC))[0])
    return len(electronic.make(page, _SIGNER[0], location=BASE_URL))


def _qr_only(page: Printed) -> int:
    return len(qr.render_png(page.qr_url))


def _rate(pool: concurrent.futures.Executor, fn: Callable[[Any], int], jobs: Sequence[Any]) -> float:
    t = time.perf_counter()
    list(pool.map(fn, jobs, chunksize=4))
    return len(jobs) / (time.perf_counter() - t)


def main() -> None:
    n = int(os.environ.get("BENCH_CERTIFICATES", "400"))
    workers = os.cpu_count() or 1
    batch = pages(n, random.Random(7))
    ctx = multiprocessing.get_context("forkserver")
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=fonts.ensure_registered
    ) as pool:
        list(pool.map(_render, [(p, "pdf") for p in batch[: workers * 2]]))  # warm up every worker
        qr_rate = _rate(pool, _qr_only, list(batch))
        pdf_rate = _rate(pool, _render, [(p, "pdf") for p in batch])
        png_rate = _rate(pool, _render, [(p, "png") for p in batch])
        list(pool.map(_electronic, batch[: workers * 2]))  # each worker makes its signer first
        signed_rate = _rate(pool, _electronic, list(batch))
    print(f"\nverify certificate rendering benchmark — {workers} processes, {n:,} certificates")
    print(f"{'measure':<56} figure")
    print(f"{'QR code only, 300 dpi PNG (reference)':<56} {qr_rate:,.0f} /s")
    print(f"{'A4 certificate, vector PDF (target >= 50/s on 2 cores)':<56} {pdf_rate:,.0f} /s "
          f"({pdf_rate / qr_rate:.2f}x QR only)")  # fmt: skip
    print(f"{'A4 certificate, 300 dpi PNG':<56} {png_rate:,.0f} /s ({png_rate / qr_rate:.2f}x QR only)")
    print(f"{'electronic certificate: PDF + PAdES signature (signer)':<56} {signed_rate:,.0f} /s "
          f"({signed_rate / pdf_rate:.2f}x unsigned PDF)")  # fmt: skip


if __name__ == "__main__":
    main()

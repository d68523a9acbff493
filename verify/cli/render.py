"""``verify render``: printable and electronic certificates of published certificates.

One certificate (``verify render <number> --format pdf|png --out <file>``) or a whole published
batch (``verify render --batch <id> --out <dir>``) on every core, with a progress line; a
certificate that fails to render is reported at the end and does not stop the others. The print run
carries the ID number in full, as the reference style asks, and is audited (rule 60); ``--masked``
makes the public copy (docs/CERTIFICATES.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from verify.cli.common import Progress, passphrase, user, with_registry
from verify.config import Settings
from verify.domain import errors
from verify.domain.accounts import OPERATOR_ROLE
from verify.domain.printed import Printed
from verify.render import certificate, fonts
from verify.services import electronic
from verify.services.registry import Registry

CHUNK = 200  # pages read from the database at a time: bounded memory for any batch


def _render_one(job: tuple[Printed, str, int]) -> tuple[Printed, str, bytes | None, str | None]:
    """(page, format, bytes, None) or (page, format, None, why): a worker never raises, so one bad
    certificate cannot stop the batch."""
    page, fmt, dpi = job
    try:
        return page, fmt, certificate.render(page, fmt, dpi=dpi), None
    except (ValueError, OSError) as exc:
        return page, fmt, None, str(exc)


def _formats(value: str) -> tuple[str, ...]:
    if value == "both":
        return certificate.FORMATS
    if value not in certificate.FORMATS:
        raise errors.InvalidInput("--format 须为 pdf、png 或 both", "--format must be pdf, png or both")
    return (value,)


def _pages(settings: Settings, args: argparse.Namespace, numbers: list[str]) -> Any:
    async def read(reg: Registry) -> list[Printed]:
        # The electronic copy is served to whoever holds the paper's QR: the ID masked, as on
        # every public path; the print run follows the style (D60). Both carry the photo.
        return await reg.printed_pages(
            numbers, public_url=settings.public_url, channels=settings.channels,
            full_id=not (args.masked or args.electronic), with_photo=not args.masked,
            actor=f"cli:{user()}", role=OPERATOR_ROLE, reason=args.reason,
        )  # fmt: skip

    return with_registry(settings, read)


def cmd_render(settings: Settings, args: argparse.Namespace) -> int:
    formats = _formats(args.format)
    out = Path(args.out)
    if args.batch:
        return _render_batch(settings, args, formats, out)
    if not args.number:
        raise errors.InvalidInput("请给出证书编号，或使用 --batch", "give a certificate number, or --batch")
    if len(formats) != 1:
        raise errors.InvalidInput("单张证书请选择 pdf 或 png", "for one certificate choose pdf or png")
    pages = _pages(settings, args, [args.number])
    if not pages:
        raise errors.NotFound("该证书未发布或尚未签名", "the certificate is not published or not signed")
    page, _, data, why = _render_one((pages[0], formats[0], args.dpi))
    if data is None:
        raise errors.InvalidInput(
            f"证书 {page.number} 无法生成：{why}", f"certificate {page.number} cannot be rendered: {why}"
        )
    if args.electronic:
        data = _electronic(settings, args, _signer(settings, args), [(page, data)])[0]
    out.write_bytes(data)
    print(f"{out}: {len(data):,} bytes", file=sys.stderr)
    return 0


def _render_batch(settings: Settings, args: argparse.Namespace, formats: tuple[str, ...], out: Path) -> int:
    numbers: list[str] = with_registry(settings, lambda reg: reg.batch_certificates(args.batch))
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(numbers) * len(formats), enabled=args.progress or sys.stderr.isatty(),
                        unit=("张", "files"))  # fmt: skip
    failed: list[tuple[str, str]] = []
    workers = args.workers or os.cpu_count() or 1
    signer = _signer(settings, args)
    with ProcessPoolExecutor(max_workers=workers, initializer=fonts.ensure_registered) as pool:
        for start in range(0, len(numbers), CHUNK):
            pages = _pages(settings, args, numbers[start : start + CHUNK])
            jobs = [(page, fmt, args.dpi) for page in pages for fmt in formats]
            done: list[tuple[Printed, bytes]] = []
            for page, fmt, data, why in pool.map(_render_one, jobs, chunksize=4):
                if data is None:
                    failed.append((page.number, why or ""))
                elif fmt == "pdf" and signer is not None:
                    done.append((page, data))
                else:
                    (out / f"{page.number}.{fmt}").write_bytes(data)
                progress.advance(1)
            for (page, _), signed in zip(done, _electronic(settings, args, signer, done), strict=True):
                (out / f"{page.number}.pdf").write_bytes(signed)
    print(f"{out}: {len(numbers) * len(formats) - len(failed):,} files for {len(numbers):,} certificates",
          file=sys.stderr)  # fmt: skip
    for number, why in failed:
        print(f"未生成 not rendered: {number}: {why}", file=sys.stderr)
    return 1 if failed else 0


def _signer(settings: Settings, args: argparse.Namespace) -> electronic.DocumentSigner | None:
    """With ``--electronic``, the document signer, loaded (and its key decrypted) once a run."""
    return electronic.load(settings, passphrase(settings)) if args.electronic else None


def _electronic(
    settings: Settings, args: argparse.Namespace, signer: electronic.DocumentSigner | None,
    done: list[tuple[Printed, bytes]],
) -> list[bytes]:  # fmt: skip
    """Sign the PDFs (PAdES) with the document signer; with ``--store``, keep them for the web
    workers to serve on the QR's path."""
    if not done or signer is None:
        return []
    signed = [electronic.sign(pdf, signer, location=settings.public_url) for _, pdf in done]
    if args.store:

        async def store(reg: Registry) -> None:
            for (page, _), pdf in zip(done, signed, strict=True):
                await reg.store_electronic(page, pdf)

        with_registry(settings, store)
    return signed


def register(sub: Any) -> None:
    s = sub.add_parser(
        "render", help="printable certificates: one (--out file) or a published batch (--batch, --out dir)"
    )
    s.add_argument("number", nargs="?")
    s.add_argument(
        "--batch", help="render every certificate of this published batch into --out (a directory)"
    )
    s.add_argument("--format", default="pdf", help="pdf | png | both (--batch)")
    s.add_argument("--out", required=True, help="the file (one certificate) or directory (--batch)")
    s.add_argument("--dpi", type=int, default=certificate.PRINT_DPI, help="PNG resolution (default 300)")
    s.add_argument("--masked", action="store_true", help="the public copy: ID number masked, no photo")
    s.add_argument(
        "--electronic",
        action="store_true",
        help="PDF signed (PAdES) with the document-signing key: the holder's electronic certificate",
    )
    s.add_argument(
        "--store", action="store_true", help="--electronic: keep the signed PDFs for the web to serve"
    )
    s.add_argument("--workers", type=int, default=0, help="processes (default: every core)")
    s.add_argument("--reason", help="why the personal data is read (the audit log's reason)")
    s.add_argument("--progress", action="store_true", help="progress line even when stderr is not a terminal")
    s.set_defaults(fn=cmd_render)

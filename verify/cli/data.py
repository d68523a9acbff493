"""Generated data: ``verify seed`` (synthetic, at scale) and ``verify demo`` (what ``make run`` loads)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verify.cli.common import passphrase, print_json, with_registry
from verify.config import Settings
from verify.domain import errors, payload
from verify.domain.clock import today_cst
from verify.files.verify_batch import sheet_xlsx
from verify.services import demo, runtime, seed
from verify.services.registry import Registry


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    sample = (args.sample if args.sample is not None else 1000) if args.sample_out else 0

    async def run(reg: Registry) -> seed.SeedReport:
        signer = None
        if not args.unpublished:
            # Published seed data is signed like a publication, so every QR verifies (demo.load does the same).
            signer = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
        return await seed.seed(
            reg.pool,
            reg.protector,
            institutions=args.institutions,
            certificates=args.certificates,
            today=today_cst(),
            rng_seed=args.seed,
            published=not args.unpublished,
            signer=signer,
            sample=sample,
            public_url=settings.public_url,
        )

    started = time.perf_counter()
    report = with_registry(settings, run)
    seconds = time.perf_counter() - started
    if args.sample_out:
        # Decrypted (synthetic) ID numbers: readable by the owner only, like the ID keys file.
        fd = os.open(args.sample_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for line in report.sample:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print_json(
        {
            "institutions": report.institutions,
            "certificates": report.certificates,
            "batches": report.batches,
            "signed": report.signed,
            "kid": report.kid,
            "seconds": round(seconds, 1),
            **({"sample_out": args.sample_out, "sample": len(report.sample)} if args.sample_out else {}),
        }
    )
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> tuple[bool, list[dict[str, str]]]:
        created = False
        if args.ensure and not await demo.is_loaded(reg.pool):
            signer = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
            created = await demo.load(reg.pool, reg.protector, today=today_cst(), signer=signer)
        if not await demo.is_loaded(reg.pool):
            raise errors.NotFound(
                "尚未加载演示数据：运行 verify demo --ensure", "no demo data yet: run verify demo --ensure"
            )
        return created, await demo.certificates(reg.pool, reg.protector)

    created, certs = with_registry(settings, run)
    if args.verify_sample:
        return _write_verify_sample(settings, certs, Path(args.verify_sample))
    urls: dict[str, str] = {}
    if args.summary:

        async def payloads(reg: Registry) -> dict[str, str]:
            found = {}
            for _label, cert in _verdicts(certs):
                with contextlib.suppress(errors.NotFound):
                    found[cert["number"]] = payload.qr_url(
                        settings.public_url, await reg.qr_payload(cert["number"])
                    )
            return found

        urls = with_registry(settings, payloads)
    if args.summary:
        if created:
            print(f"Loaded the demo data: {len(certs)} certificates.")
        print("Demo certificates to try (number / holder name):")
        for c in _showcase(certs):
            print(f"  {c['number']}  {c['name']}  ({c['institution_name']})")
        print("Scan or open a verdict (QR URLs of demo certificates):")
        for label, cert in _verdicts(certs):
            print(f"  {label:<18} {urls.get(cert['number'], '(not signed)')}")
        print("All demo certificates: .venv/bin/verify demo   (JSON lines, with synthetic ID numbers)")
        print(f"Console for institutions and reviewers: {settings.public_url}/console/login "
              "(create accounts with .venv/bin/verify accounts add: README, Accounts and the review workflow)")  # fmt: skip
        return 0
    for c in certs:
        print(json.dumps(c, ensure_ascii=False))
    return 0


def _write_verify_sample(settings: Settings, certs: list[dict[str, str]], out: Path) -> int:
    """A verifier's file made of demo certificates (docs/VERIFY-BATCH.md): rows asking by number,
    by ID and by QR, one wrong name, one wrong claimed level, and the verifier's own columns."""
    active = [c for c in certs if c["status"] == "active" and c["kind"] != "special_ability"]
    revoked = next((c for c in certs if c["status"] == "revoked"), None)

    async def qr(reg: Registry) -> str:
        return payload.qr_url(settings.public_url, await reg.qr_payload(active[3]["number"]))

    url = with_registry(settings, qr)
    header = ["工号", "部门", "证书编号", "姓名", "证件类型", "证件号码", "二维码内容", "声称等级"]
    rows = [
        [f"E{i + 1:03d}", "生产部", c["number"], c["name"], "", "", "", ""] for i, c in enumerate(active[:3])
    ]
    rows.append(["E004", "质检部", "", "", "", "", url, ""])
    rows.append(
        ["E005", "质检部", "", active[4]["name"], "居民身份证", active[4]["id_number"], "", "一级/高级技师"]
    )
    rows.append(["E006", "仓储部", active[5]["number"], active[5]["name"][:1] + "某", "", "", "", ""])
    if revoked is not None:
        rows.append(["E007", "仓储部", revoked["number"], revoked["name"], "", "", "", ""])
    out.write_bytes(sheet_xlsx(header, rows))
    print_json({"out": str(out), "rows": len(rows)})
    return 0


def _verdicts(certs: list[dict[str, str]]) -> list[tuple[str, dict[str, str]]]:
    """One demo certificate per verdict a scanner can meet."""
    picks: list[tuple[str, Callable[[dict[str, str]], bool]]] = [
        ("valid", lambda c: c["institution"] == "S000041010012" and c["status"] == "active"),
        ("revoked", lambda c: c["status"] == "revoked"),
        ("superseded", lambda c: c["status"] == "superseded"),
        ("issuer suspended", lambda c: c["institution"] == "S000041030007"),
    ]
    out = []
    for label, test in picks:
        cert = next((c for c in certs if test(c)), None)
        if cert is not None:
            out.append((label, cert))
    return out


def _showcase(certs: list[dict[str, str]]) -> list[dict[str, str]]:
    first_active = next(c for c in certs if c["institution"] == "S000041010012" and c["status"] == "active")
    suspended_issuer = next((c for c in certs if c["institution"] == "S000041030007"), None)
    return [first_active] + ([suspended_issuer] if suspended_issuer else [])


def register(sub: Any) -> None:
    s = sub.add_parser("seed", help="generate synthetic institutions and certificates into the database")
    s.add_argument("--institutions", type=int, default=20)
    s.add_argument("--certificates", type=int, default=1000)
    s.add_argument("--seed", type=int, default=None, help="random seed (repeatable data)")
    # A sample needs signed, published certificates: argparse refuses the pair (exit 2).
    published = s.add_mutually_exclusive_group()
    published.add_argument(
        "--unpublished", action="store_true", help="leave the generated batches unpublished"
    )
    published.add_argument(
        "--sample-out",
        metavar="FILE",
        default=None,
        help="after seeding, write sample certificates as JSON lines (number, name, id_type, id_number, "
        "qr_path, institution) for load generators; contains decrypted synthetic ID numbers",
    )
    s.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="N",
        help="how many lines --sample-out writes (default 1000)",
    )
    s.set_defaults(fn=cmd_seed)

    s = sub.add_parser("demo", help="print the demo certificates as JSON lines")
    s.add_argument("--ensure", action="store_true", help="load the demo data first if it is missing")
    s.add_argument("--summary", action="store_true", help="print a short human summary instead of JSON lines")
    s.add_argument(
        "--verify-sample", metavar="FILE", help="write a batch-verification XLSX of demo certificates"
    )
    s.set_defaults(fn=cmd_demo)

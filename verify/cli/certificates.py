"""Certificates: ``verify codes check``, ``revoke`` / ``supersede`` / ``reinstate`` and ``verify qr``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from verify.cli.common import parse_date, print_json, user, with_registry
from verify.config import Settings
from verify.domain import codes, errors, payload
from verify.domain.accounts import OPERATOR_ROLE
from verify.domain.clock import today_cst
from verify.domain.events import CertificateEvent
from verify.render import qr
from verify.services.registry import Registry


def cmd_codes_check(settings: Settings, args: argparse.Namespace) -> int:
    result = codes.check_code(args.number, today=today_cst())
    print_json(result.to_json())
    return 0 if result.valid else 1


def cmd_event(settings: Settings, args: argparse.Namespace) -> int:
    event = {"revoke": "revoked", "supersede": "superseded", "reinstate": "reinstated"}[args.command]
    print_json(
        with_registry(
            settings,
            lambda reg: reg.certificate_event(
                CertificateEvent(
                    args.number, event, parse_date(args.effective), args.category, args.reason, args.decided_by,
                    args.document, args.served, getattr(args, "by", None),
                ),
                actor=f"cli:{user()}",
            ),
        )
    )  # fmt: skip
    return 0


def cmd_qr(settings: Settings, args: argparse.Namespace) -> int:
    async def all_urls(reg: Registry) -> int:
        # A non-public read of every certificate: audited before the first URL goes out (rule 60).
        stream = reg.published_payloads(actor=f"cli:{user()}", role=OPERATOR_ROLE, reason=args.reason)
        async for _number, signed in stream:
            print(payload.qr_url(settings.public_url, signed))
        return 0

    async def one_url(reg: Registry) -> str:
        return payload.qr_url(settings.public_url, await reg.qr_payload(args.number))

    if args.all:
        return with_registry(settings, all_urls)
    if not args.number:
        raise errors.InvalidInput("请给出证书编号，或使用 --all", "give a certificate number, or --all")
    url = with_registry(settings, one_url)
    if args.url or not args.out:
        print(url)
    if args.out:
        out = Path(args.out)
        out.write_bytes(qr.render_svg(url) if out.suffix.lower() == ".svg" else qr.render_png(url))
        spec = qr.qr_spec(url)
        print(f"{out}: QR version {spec.version}-{spec.error_correction}, {spec.modules} modules, "
              f"{spec.module_mm:.3f} mm/module ({spec.dots_per_module} dots at {spec.dpi} dpi), "
              f"symbol {spec.symbol_mm:.1f} mm", file=sys.stderr)  # fmt: skip
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("codes", help="certificate numbers and institution codes")
    csub = s.add_subparsers(dest="codes_command", required=True)
    c = csub.add_parser("check", help="check a number; JSON on stdout; exit 0 valid, 1 invalid")
    c.add_argument("number")
    c.set_defaults(fn=cmd_codes_check)

    for name, helptext in (("revoke", "revoke a certificate (rule 35)"),
                           ("supersede", "mark a certificate superseded by a corrected/re-issued one"),
                           ("reinstate", "reverse a revocation after review (复核)")):  # fmt: skip
        s = sub.add_parser(name, help=helptext)
        s.add_argument("number")
        if name == "supersede":
            s.add_argument("--by", required=True, help="the certificate that replaces it")
        s.add_argument("--category", required=True, help="fraud | invalid_result | data_error | out_of_scope | "
                       "institution_violation | other")  # fmt: skip
        s.add_argument("--reason", required=True, help="article and facts of the decision")
        s.add_argument("--decided-by", required=True, help="the deciding body (评价机构 or 监管部门)")
        s.add_argument("--document", help="document reference (文号)")
        s.add_argument("--served", help="how the decision was served or announced")
        s.add_argument("--effective", help="YYYY-MM-DD (default today)")
        s.set_defaults(fn=cmd_event)

    s = sub.add_parser(
        "qr", help="QR code of a published certificate: --url prints its URL, --out writes PNG/SVG"
    )
    s.add_argument("number", nargs="?")
    s.add_argument("--out", help="file.png or file.svg (300 dpi, 30 mm symbol)")
    s.add_argument("--url", action="store_true", help="print the URL the QR encodes")
    s.add_argument("--all", action="store_true", help="with --url: every published certificate, one per line")
    s.add_argument("--reason", help="--all: why every URL is read (the audit log's reason)")
    s.set_defaults(fn=cmd_qr)

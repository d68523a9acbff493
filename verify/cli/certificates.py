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
from verify.domain.events import (
    SCOPE_BATCH,
    SCOPE_CERTIFICATES,
    SCOPE_DECISION,
    SCOPE_ISSUED_BETWEEN,
    CertificateEvent,
    Decision,
    Scope,
)
from verify.render import qr
from verify.services.registry import Registry


def cmd_codes_check(settings: Settings, args: argparse.Namespace) -> int:
    result = codes.check_code(args.number, today=today_cst())
    print_json(result.to_json())
    return 0 if result.valid else 1


def cmd_event(settings: Settings, args: argparse.Namespace) -> int:
    event = {"revoke": "revoked", "supersede": "superseded", "reinstate": "reinstated"}[args.command]
    scope = _scope(args)
    if scope is not None:
        decision = Decision(scope, parse_date(args.effective), args.category, args.reason, args.decided_by,
                            args.document, args.served)  # fmt: skip
        print_json(with_registry(settings, lambda reg: reg.decide(decision, actor=f"cli:{user()}")))
        return 0
    if len(args.number) != 1:
        raise errors.InvalidInput(
            "请给出一个证书编号，或用 --batch、--numbers-file、--institution 给出范围",
            "give one certificate number, or a scope with --batch, --numbers-file or --institution",
        )
    print_json(
        with_registry(
            settings,
            lambda reg: reg.certificate_event(
                CertificateEvent(
                    args.number[0], event, parse_date(args.effective), args.category, args.reason, args.decided_by,
                    args.document, args.served, getattr(args, "by", None),
                ),
                actor=f"cli:{user()}",
            ),
        )
    )  # fmt: skip
    return 0


def _scope(args: argparse.Namespace) -> Scope | None:
    """The scope of a decision over many certificates (rule 35), or None for one certificate's event.
    Raises InvalidInput for an unreadable numbers file."""
    if args.command == "reinstate":
        return Scope(SCOPE_DECISION, decision=args.decision) if args.decision else None
    if args.command != "revoke":
        return None
    numbers = list(args.number)
    if args.numbers_file:
        try:
            numbers += Path(args.numbers_file).read_text(encoding="utf-8-sig").split()
        except (OSError, UnicodeDecodeError) as exc:
            raise errors.InvalidInput(
                f"无法读取编号文件 {args.numbers_file}",
                f"cannot read the numbers file {args.numbers_file}: {exc}",
            ) from None
    if args.institution:
        return Scope(SCOPE_ISSUED_BETWEEN, institution=args.institution,
                     issued_from=parse_date(args.issued_from) if args.issued_from else None,
                     issued_to=parse_date(args.issued_to) if args.issued_to else None)  # fmt: skip
    if args.batch and not numbers:
        return Scope(SCOPE_BATCH, batch=args.batch)
    if args.batch or len(numbers) > 1 or args.numbers_file:
        return Scope(SCOPE_CERTIFICATES, tuple(numbers), batch=args.batch)
    return None


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

    for name, helptext in (("revoke", "revoke certificates: one, a list, part or all of a batch, or issued in a date range (rule 35)"),
                           ("supersede", "mark a certificate superseded by a corrected/re-issued one"),
                           ("reinstate", "reverse a revocation after review (复核)")):  # fmt: skip
        s = sub.add_parser(name, help=helptext)
        s.add_argument("number", nargs="*" if name != "supersede" else 1)
        if name == "supersede":
            s.add_argument("--by", required=True, help="the certificate that replaces it")
        if name == "revoke":
            s.add_argument("--batch", help="with numbers: part of this batch; alone: the whole batch")
            s.add_argument("--numbers-file", help="a file of certificate numbers, one per line")
            s.add_argument(
                "--institution", help="everything this institution issued in --issued-from..--issued-to"
            )
            s.add_argument("--issued-from", help="YYYY-MM-DD (with --institution)")
            s.add_argument("--issued-to", help="YYYY-MM-DD (with --institution)")
        if name == "reinstate":
            s.add_argument("--decision", help="reverse a whole earlier revocation decision (复核), by its id")
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

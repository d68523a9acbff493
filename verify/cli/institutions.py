"""``verify institutions``: the institution registry (filing, scope, status, upload tokens)."""

from __future__ import annotations

import argparse
from typing import Any

from verify.cli.common import parse_date, print_json, user, with_registry
from verify.config import Settings
from verify.domain.institution import RECORD_FIELDS


def cmd_institutions(settings: Settings, args: argparse.Namespace) -> int:
    actor = f"cli:{user()}"
    if args.action == "show":
        print_json(with_registry(settings, lambda reg: reg.institution_view(args.code)))
    elif args.action == "add":
        fields = {k: v for k, v in vars(args).items() if k in RECORD_FIELDS and v is not None}
        for key in ("filing_date", "filing_expires"):
            if key in fields:
                fields[key] = parse_date(fields[key])
        print_json(with_registry(settings, lambda reg: reg.register_institution(fields, actor=actor)))
    elif args.action == "scope":
        levels: list[int | None] = [int(x) for x in args.levels.split(",")] if args.levels else [None]
        print_json(
            with_registry(
                settings,
                lambda reg: reg.add_scope(
                    args.code, occupation_code=args.occupation_code or "", occupation_name=args.occupation,
                    job=args.job or "", levels=levels, effective_from=parse_date(args.effective), actor=actor,
                ),
            )
        )  # fmt: skip
    elif args.action == "status":
        print_json(
            with_registry(
                settings,
                lambda reg: reg.set_status(
                    args.code, args.status, effective=parse_date(args.effective), reason=args.reason,
                    document_ref=args.document, actor=actor, merged_into=args.into,
                ),
            )
        )  # fmt: skip
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser(
        "institutions", help="institution registry: show | add | scope | status  <code>",
        description="show: the public record; add: file a new institution; "
        "scope: file scope rows (增量备案); status: record a status decision (suspended, terminated, merged, active)",
    )  # fmt: skip
    s.add_argument("action", choices=["show", "add", "scope", "status"])
    s.add_argument("code")
    s.add_argument(
        "--kind", help="add: employer | social | technical_school | college | appraisal | special_assessor"
    )
    s.add_argument("--name", help="add: the filed name")
    for flag in ("short-name", "filing-number", "filing-authority", "filing-date", "filing-expires", "parent-code",
                 "address", "phone", "email", "website", "complaint-channel"):  # fmt: skip
        s.add_argument(f"--{flag}", help="add: institution field")
    s.add_argument("--occupation-code", help="scope: 职业编码 D-DD-DD-DD (empty for 专项)")
    s.add_argument("--occupation", help="scope: 职业名称 (or 专项 project name)")
    s.add_argument("--job", help="scope: 工种/职业方向 (empty = --)")
    s.add_argument("--levels", help="scope: comma-separated levels 1-5 (omit for 专项)")
    s.add_argument("--effective", help="scope/status: effective date YYYY-MM-DD (default today)")
    s.add_argument("--status", help="status: active | suspended | terminated | merged")
    s.add_argument("--reason", default="", help="status: article and facts of the decision")
    s.add_argument("--document", help="status: document reference (文号)")
    s.add_argument("--into", help="status merged: the absorbing institution's code")
    s.set_defaults(fn=cmd_institutions)

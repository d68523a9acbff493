"""``verify institutions``: the institution registry (filing and 站点, scope, status decisions,
mergers, warnings and credit records, quality grades, aliases). The operator on the command line
may record every decision (``by=None``); each is audited as ``cli:<user>``."""

from __future__ import annotations

import argparse
from typing import Any

from verify.cli.common import parse_date, print_json, user, with_registry
from verify.config import Settings
from verify.domain.errors import InvalidInput
from verify.domain.institution import FILING_DATE_FIELDS, FILING_TEXT_FIELDS, RECORD_KINDS, WARNING

# What ``add`` files: the filed fields plus kind and the filing authority level (rule 49).
_FILING_FLAGS = ("kind", "filing_authority", *FILING_TEXT_FIELDS, *FILING_DATE_FIELDS)


def _filing(args: argparse.Namespace) -> dict[str, Any]:
    fields = {k: v for k, v in vars(args).items() if k in _FILING_FLAGS and v is not None}
    for key in FILING_DATE_FIELDS:
        if key in fields:
            fields[key] = parse_date(fields[key])
    return {**fields, "code": args.code}


def _required(args: argparse.Namespace, flag: str) -> str:
    value = getattr(args, flag.replace("-", "_"))
    if not value:
        raise InvalidInput(
            f"{args.action} 需要 --{flag}", f"{args.action} needs --{flag}", details={"field": flag}
        )
    return str(value)


def cmd_institutions(settings: Settings, args: argparse.Namespace) -> int:
    actor = f"cli:{user()}"
    effective = parse_date(args.effective)
    if args.action == "show":
        print_json(
            with_registry(settings, lambda reg: reg.institution_view(args.code, channels=settings.channels))
        )
    elif args.action == "sites":
        view = with_registry(
            settings, lambda reg: reg.institution_view(args.code, channels=settings.channels)
        )
        print_json(
            {"code": view["code"], "name": view["name"], "parent": view["parent"], "sites": view["sites"]}
        )
    elif args.action == "add":
        print_json(with_registry(settings, lambda reg: reg.register_institution(_filing(args), actor=actor)))
    elif args.action == "scope":
        levels: list[int | None] = [int(x) for x in args.levels.split(",")] if args.levels else [None]
        print_json(
            with_registry(
                settings,
                lambda reg: reg.add_scope(
                    args.code, occupation_code=args.occupation_code or "", occupation_name=args.occupation,
                    job=args.job or "", levels=levels, effective_from=effective, actor=actor,
                ),
            )
        )  # fmt: skip
    elif args.action == "status":
        print_json(
            with_registry(
                settings,
                lambda reg: reg.set_status(
                    args.code, _required(args, "status"), effective=effective, reason=args.reason,
                    document_ref=args.document, actor=actor, merged_into=args.into,
                ),
            )
        )  # fmt: skip
    elif args.action == "merge":
        sources = [c for c in _required(args, "from").split(",") if c.strip()]
        new = _filing(args) if args.kind else None
        print_json(
            with_registry(
                settings,
                lambda reg: reg.merge_institutions(
                    args.code, sources, form=args.form, new_institution=new, effective=effective,
                    reason=args.reason, document_ref=args.document, actor=actor,
                ),
            )
        )  # fmt: skip
    elif args.action == "warn":
        print_json(
            with_registry(
                settings,
                lambda reg: reg.record_credit_entry(
                    args.code, args.record_kind, effective=effective, article=_required(args, "article"),
                    summary=_required(args, "summary"), decided_by=_required(args, "decided-by"),
                    document_ref=args.document, facts=args.facts,
                    rectify_by=parse_date(args.rectify_by) if args.rectify_by else None, actor=actor,
                ),
            )
        )  # fmt: skip
    elif args.action == "grade":
        year = _required(args, "year")
        if not year.isdigit():
            raise InvalidInput("--year 须为年份", "--year must be a year", details={"field": "year"})
        print_json(
            with_registry(
                settings,
                lambda reg: reg.record_quality_grade(
                    args.code, year=int(year), grade=_required(args, "grade"), decided_on=effective,
                    document_ref=_required(args, "document"), decided_by=_required(args, "decided-by"), actor=actor,
                ),
            )
        )  # fmt: skip
    elif args.action == "alias":
        if bool(args.add) == bool(args.remove):
            raise InvalidInput("alias 需要 --add 或 --remove 之一", "alias takes one of --add or --remove")
        if args.add:
            print_json(
                with_registry(
                    settings,
                    lambda reg: reg.add_institution_alias(args.code, args.add, note=args.note, actor=actor),
                )
            )
        else:
            print_json(
                with_registry(
                    settings,
                    lambda reg: reg.withdraw_institution_alias(
                        args.code, args.remove, reason=args.reason, actor=actor
                    ),
                )
            )
    return 0


ACTIONS = ("show", "add", "scope", "status", "merge", "warn", "grade", "alias", "sites")


def register(sub: Any) -> None:
    s = sub.add_parser(
        "institutions", help=f"institution registry: {' | '.join(ACTIONS)}  <code>",
        description="show: the public record; add: file an institution (--parent-code: a 站点 of it); "
        "scope: file scope rows (增量备案); status: record a status decision (suspended, active, terminated, "
        "merged --into); merge: merge --from A,B into <code> (absorption; with --kind/--name <code> is filed "
        "as the new institution, new_entity); warn: record a warning or bad-credit entry; grade: a 鉴定机构's "
        "quality grade for --year; alias: --add an earlier code or --remove (withdraw) one; sites: its 站点. "
        "Every decision takes --effective (default today; may lie ahead).",
    )  # fmt: skip
    s.add_argument("action", choices=ACTIONS)
    s.add_argument("code")
    s.add_argument(
        "--kind",
        help="add/merge: employer | social | technical_school | college | appraisal | special_assessor",
    )
    s.add_argument("--name", help="add/merge: the filed name")
    for flag in ("short-name", "filing-number", "filing-authority", "filing-date", "filing-expires", "parent-code",
                 "address", "phone", "email", "website", "complaint-channel"):  # fmt: skip
        s.add_argument(f"--{flag}", help="add/merge: institution field")
    s.add_argument("--occupation-code", help="scope: 职业编码 D-DD-DD-DD (empty for 专项)")
    s.add_argument("--occupation", help="scope: 职业名称 (or 专项 project name)")
    s.add_argument("--job", help="scope: 工种/职业方向 (empty = --)")
    s.add_argument("--levels", help="scope: comma-separated levels 1-5 (omit for 专项)")
    s.add_argument(
        "--effective",
        help="scope/status/merge/warn: effective date YYYY-MM-DD; grade: decided on (default today)",
    )
    s.add_argument("--status", help="status: active | suspended | terminated | merged")
    s.add_argument(
        "--reason", default="", help="status/merge: article and facts of the decision; alias --remove: why"
    )
    s.add_argument("--document", help="status/merge/warn/grade: document reference (文号)")
    s.add_argument("--into", help="status merged: the absorbing institution's code")
    s.add_argument("--from", help="merge: comma-separated codes of the institutions merged into <code>")
    s.add_argument(
        "--form",
        choices=["absorption", "new_entity"],
        help="merge: default new_entity with --kind, else absorption",
    )
    s.add_argument(
        "--record-kind",
        choices=list(RECORD_KINDS),
        default=WARNING,
        help="warn: warning (警告) or credit_bad (诚信不良档案)",
    )
    s.add_argument(
        "--article", help="warn: the article applied (e.g. 人社职司便函〔2021〕57号 附件2 第十三条)"
    )
    s.add_argument("--summary", help="warn: the public summary of the decision")
    s.add_argument("--facts", help="warn: the facts (internal, never public)")
    s.add_argument("--decided-by", help="warn/grade: the deciding body")
    s.add_argument("--rectify-by", help="warn: 限期整改 deadline YYYY-MM-DD")
    s.add_argument("--year", help="grade: the assessment year")
    s.add_argument(
        "--grade", help="grade: excellent | good | basic | unqualified (or 优秀/良好/基本合格/不合格)"
    )
    s.add_argument("--add", help="alias: the earlier code to keep as an alias")
    s.add_argument("--remove", help="alias: withdraw this alias (kept as history, no longer resolves)")
    s.add_argument("--note", help="alias --add: what the earlier code was")
    s.set_defaults(fn=cmd_institutions)

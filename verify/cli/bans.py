"""``verify bans add|reverse|show``: candidate bans (rule 46), kept as decision records.

The person's ID number is read from stdin, never from an argument (which would stay in the shell
history and show in ``ps``); only its blind index is stored.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from verify.cli.common import parse_date, print_json, user, with_registry
from verify.config import Settings
from verify.domain import errors
from verify.domain.holder_ids import IdType
from verify.services.bans import TERMS


def _id_from_stdin() -> str:
    """Raises InvalidInput when stdin has no ID."""
    line = sys.stdin.readline().strip()
    if not line:
        raise errors.InvalidInput(
            "请从标准输入提供证件号码（一行）", "give the ID number on standard input (one line)"
        )
    return line


def _date(text: str | None) -> date | None:
    """YYYY-MM-DD, or None when not given. Raises InvalidInput."""
    return parse_date(text) if text else None


def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    id_number = _id_from_stdin()
    print_json(
        with_registry(
            settings,
            lambda reg: reg.add_ban(
                args.id_type, id_number, term=args.term, decided_by=args.decided_by,
                decided_on=_date(args.decided_on), starts_on=_date(args.starts_on), article=args.article,
                reason=args.reason, document_ref=args.document, actor=f"cli:{user()}",
            ),
        )
    )  # fmt: skip
    return 0


def cmd_reverse(settings: Settings, args: argparse.Namespace) -> int:
    print_json(
        with_registry(
            settings,
            lambda reg: reg.reverse_ban(
                args.ban, decided_by=args.decided_by, decided_on=_date(args.decided_on), article=args.article,
                reason=args.reason, document_ref=args.document, actor=f"cli:{user()}",
            ),
        )
    )  # fmt: skip
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    id_number = _id_from_stdin()
    print_json(
        with_registry(
            settings,
            lambda reg: reg.bans_of(args.id_type, id_number, actor=f"cli:{user()}", reason=args.reason),
        )
    )
    return 0


def _decision(p: argparse.ArgumentParser) -> None:
    p.add_argument("--decided-by", required=True, help="the deciding body (评价机构 or 监管部门)")
    p.add_argument("--decided-on", help="date of the written decision, YYYY-MM-DD (default today)")
    p.add_argument(
        "--article", help="the article applied (default: the term's article of 〔2021〕57号 附件2)"
    )
    p.add_argument("--reason", help="facts of the decision (internal)")
    p.add_argument("--document", help="document reference (文号) of the decision")


def register(sub: Any) -> None:
    s = sub.add_parser(
        "bans", help="candidate bans (rule 46): add, reverse after 复核, show one person's record"
    )
    bsub = s.add_subparsers(dest="bans_command", required=True)
    id_types = ", ".join(t.value for t in IdType)

    c = bsub.add_parser("add", help="record a ban; the ID number is read from stdin")
    c.add_argument("--id-type", default=IdType.RESIDENT.value, help=f"{id_types} (or the Chinese label)")
    c.add_argument("--term", required=True, choices=list(TERMS),
                   help="rest_of_year (第六条), two_years or five_years (第七条)")  # fmt: skip
    c.add_argument("--starts-on", help="first day of the ban, YYYY-MM-DD (default the decision date)")
    _decision(c)
    c.set_defaults(fn=cmd_add)

    c = bsub.add_parser("reverse", help="record that a 复核 lifted a ban (a new record; the ban is kept)")
    c.add_argument("ban", type=int, help="the ban's record number")
    _decision(c)
    c.set_defaults(fn=cmd_reverse)

    c = bsub.add_parser("show", help="every record kept for one person; the ID number is read from stdin")
    c.add_argument("--id-type", default=IdType.RESIDENT.value, help=f"{id_types} (or the Chinese label)")
    c.add_argument("--reason", help="why the record is read (the audit log's reason)")
    c.set_defaults(fn=cmd_show)

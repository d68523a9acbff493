"""``verify audit check`` and ``verify audit show``: the audit log's hash chain (rule 60,
docs/SECURITY.md §7.1)."""

from __future__ import annotations

import argparse
from typing import Any

from verify.cli.common import print_json, user, with_registry
from verify.config import Settings
from verify.domain.accounts import OPERATOR_ROLE
from verify.domain.audit import parse_head
from verify.services import audit
from verify.services.registry import Registry


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    expect = parse_head(args.expect_head) if args.expect_head else None

    async def run(reg: Registry) -> dict[str, Any]:
        return (await audit.check_chain(reg.pool, expect_head=expect)).to_json()

    # A broken chain raises AuditChainBroken: exit 8, the entry and what is wrong on stderr.
    print_json(with_registry(settings, run))
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> list[dict[str, Any]]:
        entries = await audit.entries_for_target(
            reg.pool, args.target, actor=f"cli:{user()}", role=OPERATOR_ROLE, reason=args.reason
        )
        return [e.to_json() for e in entries]

    print_json(with_registry(settings, run))
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("audit", help="the audit log: check the hash chain | show one target's entries")
    asub = s.add_subparsers(dest="audit_command", required=True)
    c = asub.add_parser(
        "check",
        help="recompute the whole hash chain; prints the number of entries and the head (keep it elsewhere); "
        "exit 8 at the first modified, inserted or removed entry",
    )
    c.add_argument(
        "--expect-head", metavar="HEX",
        help="a head printed by an earlier check: fail unless the chain still contains it (detects a removed tail)",
    )  # fmt: skip
    c.set_defaults(fn=cmd_check)
    w = asub.add_parser("show", help="the entries about one target, oldest first, as a JSON array")
    w.add_argument(
        "--target", required=True, help="a certificate number, batch id, institution code or account login"
    )
    w.add_argument("--reason", help="why the log is read (this read is itself audited)")
    w.set_defaults(fn=cmd_show)

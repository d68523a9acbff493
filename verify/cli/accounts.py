"""``verify accounts``: accounts, their API tokens and passwords (rules 58, 59, 64).

The operator on the command line may create any account; tokens are printed once and only their
hashes are kept; passwords are read from the terminal or stdin, never from an argument (which
would stay in the shell history and in ``ps``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from verify.cli.common import print_json, user, with_registry
from verify.config import Settings
from verify.domain import errors
from verify.domain.accounts import Role


def read_password(args: argparse.Namespace, *, prompt: str) -> str:
    """The password from stdin (``--password-stdin``, first line) or a terminal prompt, typed twice.
    Raises InvalidInput when neither is possible or the two entries differ."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise errors.InvalidInput(
            "请在终端中输入密码，或使用 --password-stdin",
            "type the password in a terminal, or use --password-stdin",
        )
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass("再输入一次 / again: ") != first:
        raise errors.InvalidInput("两次输入的密码不一致", "the two passwords differ")
    return first


def cmd_accounts(settings: Settings, args: argparse.Namespace) -> int:
    actor = f"cli:{user()}"
    result: Any
    if args.action == "add":
        if not args.login or not args.role:
            raise errors.InvalidInput("add 需要 login 和 --role", "add needs a login and --role")
        password = (
            read_password(args, prompt="新密码 / new password")
            if args.password or args.password_stdin
            else None
        )
        result = with_registry(
            settings,
            lambda reg: reg.add_account(
                args.login, args.role, display_name=args.name or args.login, institution_code=args.institution,
                jurisdiction=args.jurisdiction, manager=args.manager, password=password, by=None, actor=actor,
            ),
        )  # fmt: skip
    elif args.action == "list":
        result = with_registry(settings, lambda reg: reg.account_list(by=None, actor=actor))
    else:
        if not args.login:
            raise errors.InvalidInput(f"{args.action} 需要账号", f"{args.action} needs a login")
        if args.action == "disable":
            result = with_registry(
                settings,
                lambda reg: reg.disable_account(args.login, reason=args.reason or "", by=None, actor=actor),
            )
        elif args.action == "token":
            result = with_registry(
                settings,
                lambda reg: reg.issue_account_token(
                    args.login, label=args.label, days=args.days, by=None, actor=actor
                ),
            )
        elif args.action == "revoke":
            count = with_registry(
                settings,
                lambda reg: reg.revoke_account_tokens(
                    args.login, label=args.label_filter, by=None, actor=actor
                ),
            )
            result = {"login": args.login, "revoked": count}
        else:  # passwd
            password = read_password(args, prompt="新密码 / new password")
            with_registry(
                settings, lambda reg: reg.set_account_password(args.login, password, by=None, actor=actor)
            )
            result = {"login": args.login, "password": "set"}
    print_json(result)
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser(
        "accounts", help="accounts: add | list | disable | token | revoke | passwd  [login]",
        description="add: create an account (--role, and --institution or --jurisdiction); list; disable: refuse "
        "the account from its next request on; token: issue an API token (shown once); revoke: revoke its tokens; "
        "passwd: set the console password (prompted, or --password-stdin)",
    )  # fmt: skip
    s.add_argument("action", choices=["add", "list", "disable", "token", "revoke", "passwd"])
    s.add_argument("login", nargs="?")
    s.add_argument("--role", choices=[r.value for r in Role], help="add: the role")
    s.add_argument("--name", help="add: display name (default: the login)")
    s.add_argument("--institution", help="add, institution role: the institution code")
    s.add_argument(
        "--jurisdiction", help="add, reviewer/regulator: 41 (province) or 41 + a Henan city code (4101)"
    )
    s.add_argument(
        "--manager", action="store_true", help="add: the institution's manager (manages sub-accounts)"
    )
    s.add_argument("--password", action="store_true", help="add: also set a console password (prompted)")
    s.add_argument("--password-stdin", action="store_true", help="add/passwd: read the password from stdin")
    s.add_argument("--reason", help="disable: why (recorded in the audit log)")
    s.add_argument("--label", default="api", help="token: a label for the token")
    s.add_argument("--label-filter", dest="label_filter", help="revoke: only tokens with this label")
    s.add_argument("--days", type=int, help="token: validity in days (default VERIFY_TOKEN_DAYS)")
    s.set_defaults(fn=cmd_accounts)

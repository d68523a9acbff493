"""``verify keys`` and ``verify resign``: the signing keys (keys/README.md)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from verify.cli.common import parse_datetime, passphrase, print_json, user, with_registry
from verify.config import Settings
from verify.domain import errors
from verify.domain.accounts import OPERATOR_ROLE
from verify.services import electronic, runtime
from verify.services.keyring import Keyring
from verify.services.registry import Registry

DEV_ORGANISATION = "河南省职业技能鉴定指导中心（演示）"


def _dev_key(settings: Settings, ring: Keyring) -> Awaitable[str | None]:
    async def run() -> str | None:
        if any(k.status == "active" for k in await ring.keys()):
            return None
        dev = runtime.dev_passphrase_file(settings)
        if settings.key_passphrase:
            phrase = settings.key_passphrase
        else:
            if not dev.exists():
                dev.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(dev, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(24))
            phrase = dev.read_bytes().strip()
        key = await ring.generate(phrase, note="development key (make run)")
        return key.kid

    return run()


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> Any:
        ring = runtime.keyring(settings, reg.pool, actor=f"cli:{user()}", role=OPERATOR_ROLE)
        if args.action == "list":
            return [k.to_json() for k in await ring.keys()]
        if args.action == "document":
            root = electronic.create(settings, passphrase(settings), args.organisation or DEV_ORGANISATION,
                                     now=datetime.now(UTC))  # fmt: skip
            return {"signer": str(electronic.signer_path(settings)), "root": str(root)}
        if args.action == "dev":
            kid = await _dev_key(settings, ring)
            if not electronic.signer_path(settings).exists():
                # The electronic certificates' chain, under the same development passphrase.
                electronic.create(settings, passphrase(settings), DEV_ORGANISATION, now=datetime.now(UTC))
            if kid is None:
                return None
            where = (
                "VERIFY_KEY_PASSPHRASE"
                if settings.key_passphrase
                else str(runtime.dev_passphrase_file(settings))
            )
            print(
                f"Created a development signing key {kid}: private key {ring.private_dir / (kid + '.key.pem')}, "
                f"passphrase in {where}.\nFor production, run `verify keys generate` with your own passphrase "
                "(keys/README.md).",
                file=sys.stderr,
            )
            return None
        if args.action == "generate":
            key = await ring.generate(
                passphrase(settings), not_before=parse_datetime(args.not_before), not_after=parse_datetime(args.not_after),
                note=args.note,
            )  # fmt: skip
            return key.to_json()
        if args.action == "rotate":
            new, retired = await ring.rotate(passphrase(settings), note=args.note)
            return {"new": new.to_json(), "retired": retired}
        if not args.kid:
            raise errors.InvalidInput("请给出 kid", "give the kid")
        if args.action == "retire":
            return (await ring.retire(args.kid, reason=args.note)).to_json()
        return (await ring.compromise(args.kid, reason=args.note)).to_json()

    result = with_registry(settings, run)
    if result is not None:
        print_json(result)
    return 0


def cmd_resign(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> dict[str, Any]:
        signer = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
        count = await reg.resign(args.kid, actor=f"cli:{user()}", signer=signer)
        return {"resigned": count, "from_kid": args.kid, "new_kid": signer.kid}

    print_json(with_registry(settings, run))
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser(
        "keys",
        help="signing keys: list | generate | rotate | retire <kid> | compromise <kid> | dev | document",
    )
    s.add_argument(
        "action", choices=["list", "generate", "rotate", "retire", "compromise", "dev", "document"]
    )
    s.add_argument(
        "--organisation", help="document: the organisation named in the electronic certificates' chain"
    )
    s.add_argument("kid", nargs="?")
    s.add_argument("--not-before", help="generate: start of the signing window (ISO 8601)")
    s.add_argument("--not-after", help="generate: end of the signing window (ISO 8601)")
    s.add_argument("--note", help="why: kept on a new key, and the audit log's reason for every action")
    s.set_defaults(fn=cmd_keys)

    s = sub.add_parser("resign", help="re-sign every certificate signed by a key (after a compromise)")
    s.add_argument("--kid", required=True)
    s.set_defaults(fn=cmd_resign)

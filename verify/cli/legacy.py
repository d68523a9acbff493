"""``verify legacy import``: legacy 职业资格证书 of one 鉴定机构, imported as a batch for review (rule 44)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from verify.cli.common import print_json, read_file, user, with_registry
from verify.config import Settings


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    data = read_file(path)
    result = with_registry(
        settings,
        lambda reg: reg.import_legacy(
            args.issuer, data, path.name, actor=f"cli:{user()}", max_bytes=settings.max_upload_bytes
        ),
    )
    print_json(result.to_json())
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("legacy", help="legacy 职业资格证书 issued before the 2019-2020 reform (rule 44)")
    lsub = s.add_subparsers(dest="legacy_command", required=True)
    c = lsub.add_parser(
        "import",
        help="import one 鉴定机构's legacy certificates (CSV or XLSX, batch template columns) for review",
        description="All or nothing; the batch is submitted for review like a result batch and, once "
        "approved, published without a QR (docs/LEGACY.md).",
    )
    c.add_argument("file")
    c.add_argument(
        "--issuer",
        required=True,
        help="the issuing 鉴定机构: its code, a retired code or an alias (old 鉴定所 code)",
    )
    c.set_defaults(fn=cmd_import)

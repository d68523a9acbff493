"""``verify import``, ``verify publish`` and ``verify template``: result batches."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from verify.cli.common import passphrase, print_json, user, with_registry
from verify.config import Settings
from verify.domain import errors
from verify.domain.batch.columns import template_csv
from verify.services import runtime
from verify.services.registry import Registry


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise errors.BadFile(
            f"无法读取文件 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}"
        ) from None
    result = with_registry(
        settings,
        lambda reg: reg.import_batch(
            args.institution, data, path.name, actor=f"cli:{user()}", max_bytes=settings.max_upload_bytes
        ),
    )
    print_json(result.to_json())
    return 0


def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> dict[str, Any]:
        signer = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
        return await reg.publish(args.batch, actor=f"cli:{user()}", signer=signer)

    print_json(with_registry(settings, run))
    return 0


def cmd_template(settings: Settings, args: argparse.Namespace) -> int:
    sys.stdout.write(template_csv())
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("import", help="import a result batch (CSV or XLSX) for an institution")
    s.add_argument("file")
    s.add_argument(
        "--institution", required=True, help="institution code (positions 1-13, or the 8-digit 专项 code)"
    )
    s.set_defaults(fn=cmd_import)

    s = sub.add_parser("publish", help="publish a batch: its certificates become publicly verifiable")
    s.add_argument("batch")
    s.set_defaults(fn=cmd_publish)

    s = sub.add_parser("template", help="print the batch CSV template")
    s.set_defaults(fn=cmd_template)

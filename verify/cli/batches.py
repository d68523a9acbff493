"""``verify import``, ``verify publish`` and ``verify template``: result batches."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from verify.cli.common import passphrase, print_json, read_file, user, with_registry
from verify.config import Settings
from verify.domain.batch.columns import template_csv
from verify.services import electronic, runtime, signer
from verify.services.registry import Registry


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    data = read_file(path)
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
        signer_key = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
        result = await reg.publish(args.batch, actor=f"cli:{user()}", signer=signer_key)
        documents = electronic.Documents.of(settings, passphrase(settings))
        if documents is not None:
            await reg.queue_electronic_batch(args.batch)
            result["electronic_certificates"] = await signer.make_electronic(reg, documents)
        return result

    print_json(with_registry(settings, run))
    return 0


def cmd_signer(settings: Settings, args: argparse.Namespace) -> int:
    async def run(reg: Registry) -> list[dict[str, Any]]:
        signer_key = await runtime.keyring(settings, reg.pool).signer(passphrase(settings))
        actor = f"signer:{user()}"
        documents = electronic.Documents.of(settings, passphrase(settings))
        if args.once:
            return await signer.drain(reg, actor=actor, signer=signer_key, documents=documents)
        print(
            f"signer {signer_key.kid} waiting for approved batches (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        await signer.run(reg, actor=actor, signer=signer_key, poll_seconds=args.poll,
                         on_publish=lambda r: print_json(r), documents=documents)  # fmt: skip
        return []

    result = with_registry(settings, run)
    if args.once:
        print_json(result)
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

    s = sub.add_parser(
        "publish", help="publish one approved batch now: its certificates become publicly verifiable"
    )
    s.add_argument("batch")
    s.set_defaults(fn=cmd_publish)

    s = sub.add_parser(
        "signer", help="signer run: publish approved batches as they come (holds the signing key)",
        description="run: keep publishing approved batches (woken by each approval, polling as a fallback); "
        "--once: publish what is waiting and exit",
    )  # fmt: skip
    s.add_argument("action", choices=["run"])
    s.add_argument("--once", action="store_true", help="publish what is approved now, then exit")
    s.add_argument("--poll", type=float, default=30.0, help="seconds between queue checks without a wake-up")
    s.set_defaults(fn=cmd_signer)

    s = sub.add_parser("template", help="print the batch CSV template")
    s.set_defaults(fn=cmd_template)

"""``verify photos add <batch> <zip>``: the holders' photos of a published batch, all or none."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from verify.cli.common import print_json, read_file, user, with_registry
from verify.config import Settings
from verify.services.registry import Registry


def cmd_photos(settings: Settings, args: argparse.Namespace) -> int:
    data = read_file(Path(args.archive))

    async def run(reg: Registry) -> dict[str, int]:
        return await reg.add_photos(args.batch, data, Path(args.archive).name, actor=f"cli:{user()}")

    print_json(with_registry(settings, run))
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("photos", help="holder photos for a published batch: add <batch> <archive.zip>")
    s.add_argument("action", choices=["add"])
    s.add_argument("batch")
    s.add_argument("archive", help="a ZIP of JPEG/PNG photos named by certificate number or ID number")
    s.set_defaults(fn=cmd_photos)

"""What every command shares: running a use case against the registry, output, argument parsing."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from verify.config import Settings
from verify.domain import errors
from verify.domain.clock import today_cst
from verify.services import runtime
from verify.services.imports import shutdown_checkers
from verify.services.registry import Registry

T = TypeVar("T")


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def with_registry(settings: Settings, fn: Callable[[Registry], Awaitable[T]]) -> T:
    """Start the database if needed, run ``fn`` against a registry, close everything."""

    async def run() -> T:
        dsn, _ = runtime.ensure_database(settings)
        reg = await runtime.open_registry(settings, dsn=dsn, max_size=4)
        try:
            return await fn(reg)
        finally:
            await reg.pool.close()
            shutdown_checkers()

    return asyncio.run(run())


def passphrase(settings: Settings) -> bytes:
    """The signing-key passphrase: VERIFY_KEY_PASSPHRASE, else the development key's file, else a
    prompt on a terminal. Raises ConfigError when none is available."""
    if settings.key_passphrase:
        return settings.key_passphrase
    dev = runtime.dev_passphrase_file(settings)
    if dev.exists():
        return dev.read_bytes().strip()
    if sys.stdin.isatty():
        return getpass.getpass("签名密钥口令 / signing key passphrase: ").encode()
    raise errors.ConfigError(
        "需要签名密钥口令：设置 VERIFY_KEY_PASSPHRASE 或在终端中运行",
        "the signing key passphrase is needed: set VERIFY_KEY_PASSPHRASE or run in a terminal",
    )


def parse_date(text: str | None) -> date:
    """YYYY-MM-DD, or today (China Standard Time) when empty. Raises InvalidInput."""
    if not text:
        return today_cst()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise errors.InvalidInput(
            f"日期格式应为 YYYY-MM-DD：{text}", f"dates are YYYY-MM-DD: {text}"
        ) from None


def parse_datetime(text: str | None) -> datetime | None:
    """ISO 8601 (UTC when no offset is given), or None when empty. Raises InvalidInput."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise errors.InvalidInput(f"时间格式应为 ISO 8601：{text}", f"times are ISO 8601: {text}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def user() -> str:
    """Who runs the command, for the audit log."""
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"

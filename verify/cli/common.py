"""What every command shares: running a use case against the registry, output, argument parsing."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from verify.config import Settings
from verify.domain import errors
from verify.domain.clock import today_cst
from verify.services import runtime
from verify.services.checkers import shutdown_checkers
from verify.services.registry import UNAVAILABLE_ERRORS, Registry

T = TypeVar("T")


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# Closing politely waits for the server; a database that went away gets this long, then the
# sockets are dropped. Keeps every command's failure bounded (README: "Exit codes").
CLOSE_SECONDS = 5.0
# While a command runs, a watchdog opens a fresh connection this often; after WATCH_FAILURES
# failures in a row the command is stopped as unavailable (about 10 s after the database died),
# whatever it was waiting on (asyncpg can wait for a pool connection that never comes).
WATCH_SECONDS = 2.0
WATCH_FAILURES = 3


class Interrupted(Exception):
    """SIGINT or SIGTERM reached a command; ``signal`` says which (exit 128 + signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def with_registry(settings: Settings, fn: Callable[[Registry], Awaitable[T]]) -> T:
    """Start the database if needed, run ``fn`` against a registry, close everything.

    Raises Unavailable when the database cannot be reached or goes away mid-command, Interrupted
    on SIGINT/SIGTERM; either way the pool and the row-checker processes are shut down first.
    """

    async def run() -> T:
        dsn, _ = runtime.ensure_database(settings)
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        received: list[int] = []

        def interrupt(signum: int) -> None:
            received.append(signum)
            task.cancel()

        # Signal handlers exist only in the main thread (tests run commands in others).
        handled = threading.current_thread() is threading.main_thread()
        for signum in (signal.SIGINT, signal.SIGTERM) if handled else ():
            loop.add_signal_handler(signum, interrupt, signum)
        reg: Registry | None = None
        lost: list[bool] = []

        async def watch(registry: Registry) -> None:
            failures = 0
            while failures < WATCH_FAILURES:
                await asyncio.sleep(WATCH_SECONDS)
                failures = 0 if await registry.database_reachable() else failures + 1
            lost.append(True)
            task.cancel()

        watchdog: asyncio.Task[None] | None = None
        try:
            reg = await runtime.open_registry(settings, dsn=dsn, max_size=4)
            watchdog = asyncio.create_task(watch(reg))
            return await fn(reg)
        except UNAVAILABLE_ERRORS as exc:
            raise errors.Unavailable(
                "数据库不可用或在命令执行中断开，未写入任何数据，请稍后重试",
                "the database is unavailable or went away during the command; nothing was written, "
                "try again later",
                details={"cause": type(exc).__name__},
            ) from exc
        except asyncio.CancelledError:
            if received:
                raise Interrupted(received[0]) from None
            if lost:
                raise errors.Unavailable(
                    "数据库在命令执行中断开，未写入任何数据，请稍后重试",
                    "the database went away during the command; nothing was written, try again later",
                    details={"cause": "database_lost"},
                ) from None
            raise
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if reg is not None:
                try:
                    await asyncio.wait_for(reg.pool.close(), CLOSE_SECONDS)
                except (TimeoutError, *UNAVAILABLE_ERRORS):  # type: ignore[misc]
                    reg.pool.terminate()
            shutdown_checkers(wait=not received)
            for signum in (signal.SIGINT, signal.SIGTERM) if handled else ():
                loop.remove_signal_handler(signum)

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


def read_file(path: Path) -> bytes:
    """The bytes of an input file the user named. Raises BadFile (zh+en) when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise errors.BadFile(
            f"无法读取文件 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}"
        ) from None


class Progress:
    """One line on stderr: items done, items/s, ETA. Written only to a terminal unless forced."""

    def __init__(self, total: int, *, enabled: bool, unit: tuple[str, str] = ("行", "rows")) -> None:
        self.total, self.done, self.enabled, self.start = total, 0, enabled, time.monotonic()
        self.unit = unit

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else 0.0
        sys.stderr.write(
            f"\r{self.done:,}/{self.total:,} {self.unit[0]} {self.unit[1]}  {rate:,.0f} {self.unit[0]}/秒 "
            f"{self.unit[1]}/s  剩余 ETA {eta:,.0f} s "
        )
        sys.stderr.flush()
        if self.done >= self.total:
            sys.stderr.write("\n")

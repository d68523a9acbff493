"""ASGI entry point for uvicorn workers: the one place a server process reads its environment."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from typing import TextIO

from starlette.applications import Starlette

from verify.config import Settings
from verify.http.app import create_app
from verify.services.registry import Registry
from verify.services.runtime import open_registry


class BatchedLines(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches: at most ``capacity`` lines or
    ``interval`` seconds late, so a busy worker makes one write system call per batch rather than
    one per request (the access log: docs/DECISIONS.md D29). A timer writes what is left after a
    burst; errors and warnings are written at once."""

    def __init__(self, stream: TextIO, *, capacity: int = 256, interval: float = 0.5) -> None:
        super().__init__(stream)
        self.capacity = capacity
        self.interval = interval
        self._lines: list[str] = []
        self._timer: threading.Timer | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self.lock:  # type: ignore[union-attr] # created by Handler.__init__
            self._lines.append(line)
            full = len(self._lines) >= self.capacity or record.levelno >= logging.WARNING
            if not full and self._timer is None:
                self._timer = threading.Timer(self.interval, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._lines:
                text = "\n".join(self._lines) + "\n"
                self._lines.clear()
                # A closed or broken stderr must not take the worker down.
                with contextlib.suppress(Exception):
                    self.stream.write(text)
                    self.stream.flush()


def _configure_logging(level: str) -> None:
    """The service's own loggers write to stderr beside the server's; the access log in batches."""
    logger = logging.getLogger("verify")
    if not logger.handlers:
        formatter = logging.Formatter("%(levelname)s:     %(name)s %(message)s")
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        logger.propagate = False
        access = logging.getLogger("verify.access")
        batched = BatchedLines(sys.stderr)
        batched.setFormatter(formatter)
        access.addHandler(batched)
        access.propagate = False


def app_from_env() -> Starlette:
    settings = Settings.from_env(os.environ)
    _configure_logging(settings.log_level)

    async def factory() -> Registry:
        return await open_registry(settings)

    return create_app(settings, registry_factory=factory)

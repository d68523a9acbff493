"""ASGI entry point for uvicorn workers: the one place a server process reads its environment."""

from __future__ import annotations

import logging
import os
import sys

from starlette.applications import Starlette

from verify.config import Settings
from verify.http.app import create_app
from verify.services.registry import Registry
from verify.services.runtime import open_registry


def _configure_logging(level: str) -> None:
    """The service's own loggers (access log included) write to stderr beside uvicorn's."""
    logger = logging.getLogger("verify")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        logger.propagate = False


def app_from_env() -> Starlette:
    settings = Settings.from_env(os.environ)
    _configure_logging(settings.log_level)

    async def factory() -> Registry:
        return await open_registry(settings)

    return create_app(settings, registry_factory=factory)

"""ASGI entry point for uvicorn workers: the one place a server process reads its environment."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from verify.config import Settings
from verify.http.app import create_app
from verify.services.registry import Registry
from verify.services.runtime import open_registry


def app_from_env() -> Starlette:
    settings = Settings.from_env(os.environ)

    async def factory() -> Registry:
        return await open_registry(settings)

    return create_app(settings, registry_factory=factory)

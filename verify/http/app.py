"""The Starlette application: the JSON API and the pages over one registry and one status view.

``create_app`` wires the routes, the error handlers (``verify.http.errors``, the one mapping to
HTTP) and the headers every response carries (``verify.http.middleware``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Mount

from verify.config import Settings
from verify.domain import errors
from verify.http.api import Api
from verify.http.errors import framework_error_handler, on_verify_error
from verify.http.middleware import CachedStatic, SecurityHeaders
from verify.http.pages import Pages
from verify.services.imports import shutdown_checkers
from verify.services.registry import Registry
from verify.services.status_view import StatusView


def create_app(settings: Settings, *, registry_factory: Callable[[], Awaitable[Registry]]) -> Starlette:
    """Build the app. ``registry_factory`` opens the pool (in the lifespan, inside the worker process)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        reg = await registry_factory()
        app.state.registry = reg
        assert reg.dsn is not None
        view = StatusView(reg.dsn, reg.pool, max_age=settings.status_max_age)
        await view.start()
        app.state.status_view = view
        try:
            yield
        finally:
            await view.stop()
            await reg.pool.close()
            shutdown_checkers()

    api = Api(settings)
    pages = Pages(
        settings.web_dir,
        lookup_answer=api.lookup_answer,
        verification=api.verification,
        institution_view=lambda request, code: request.app.state.registry.institution_view(code),
    )
    routes: list[BaseRoute] = [
        *api.routes(),
        *pages.routes(),
        Mount("/static", app=CachedStatic(directory=settings.web_dir / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            errors.VerifyError: on_verify_error,
            HTTPException: framework_error_handler(settings.max_upload_bytes),
        },
    )
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(SecurityHeaders)
    return app

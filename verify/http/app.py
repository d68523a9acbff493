"""The Starlette application: the JSON API and the pages over one registry and one status view.

``create_app`` wires the routes, the error handlers (``verify.http.errors``, the one mapping to
HTTP) and, around everything, the guard (``verify.http.guard``: headers, input and body limits,
access log).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Scope

from verify.config import Settings
from verify.domain import errors
from verify.http import openapi
from verify.http.api import LOOKUP_BODY_LIMIT, MULTIPART_SLACK, Api
from verify.http.auth import bearer_principal, console_authenticator
from verify.http.certificate_files import PHOTO_UPLOAD, CertificateFiles
from verify.http.console import UPLOAD_PATHS, Console
from verify.http.errors import error_response, framework_error_handler, http_status, json_bytes
from verify.http.guard import Guard
from verify.http.middleware import CachedStatic, GzipWhenAccepted
from verify.http.pages import Pages
from verify.http.review_api import ReviewApi
from verify.http.routes import endpoint_routes
from verify.http.shedding import Shedder, ShedLimits
from verify.http.verifier_pages import VerifierPages
from verify.http.verify_batch_api import UPLOAD_PATHS as VERIFY_UPLOAD_PATHS
from verify.http.verify_batch_api import VerifyBatchApi
from verify.services.checkers import shutdown_checkers
from verify.services.registry import UNAVAILABLE_ERRORS, Registry
from verify.services.runtime import open_read_pool
from verify.services.status_view import StatusView

HOT_PATHS = ("/C/{payload}", "/c/{payload}", "/api/v1/verify/{payload}", "/api/v1/lookup", "/lookup")
log = logging.getLogger("verify.http")


class App(Starlette):
    """Starlette with the guard outside its whole stack, server-error layer included, so that even
    a 500 carries the security headers and the error shape."""

    def __init__(
        self,
        *,
        body_limit: Callable[[str], int],
        access_log: bool,
        respond: Callable[[Scope, errors.VerifyError], Response] | None = None,
        shed: ShedLimits = ShedLimits(),  # noqa: B008 - a frozen value
        **kwargs: Any,
    ) -> None:
        self._body_limit = body_limit
        self._shed = shed
        self._access_log = access_log
        self._respond = respond
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return Guard(
            Shedder(GzipWhenAccepted(super().build_middleware_stack()), self._shed, respond=self._respond),
            body_limit=self._body_limit,
            access=self._access_log,
            respond=self._respond,
        )


def create_app(settings: Settings, *, registry_factory: Callable[[], Awaitable[Registry]]) -> Starlette:
    """Build the app. ``registry_factory`` opens the pool (in the lifespan, inside the worker process)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        reg = await registry_factory()
        app.state.registry = reg
        assert reg.dsn is not None
        # The status view always reads the primary (reg.dsn, reg.pool), never the read replica.
        view = StatusView(reg.dsn, reg.pool, max_age=settings.status_max_age)
        await view.start()
        app.state.status_view = view
        reg.status_view = view  # lookups read from a replica lay its snapshot over their rows
        # Receipt keys (docs/RECEIPT-FORMAT.md) join the JWKS; read once, as this worker's own key
        # was registered when its registry opened.
        app.state.receipt_jwks = (await reg.receipt_jwks())["keys"]
        await open_read_pool(reg, settings)
        try:
            yield
        finally:
            await view.stop()
            await reg.close()
            shutdown_checkers()

    api = Api(settings)
    review_api = ReviewApi(settings)
    verify_batch_api = VerifyBatchApi(settings)
    pages = Pages(
        settings.web_dir,
        lookup_answer=api.lookup_answer,
        verification=api.verification,
        institution_view=lambda request, code: request.app.state.registry.institution_view(
            code, channels=settings.channels
        ),
        channels=settings.channels,
    )

    console = Console(settings, pages)

    def answer(request: Request, exc: errors.VerifyError) -> Response:
        """The error in the form the request asked for: a page for a page, JSON otherwise; a
        console page that needs a sign-in sends the browser to the sign-in form."""
        if console.is_console(request):
            return console.error_page(request, exc, http_status(exc))
        if pages.is_page_request(request):
            return pages.error_page(request, exc, http_status(exc))
        return error_response(exc)

    async def on_verify_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.VerifyError)
        return answer(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, UNAVAILABLE_ERRORS):
            # The database is down or restarting: a clear, retryable answer, never a 500.
            log.warning("database unavailable: %s", type(exc).__name__)
            return answer(request, errors.Unavailable(details={"cause": "database"}))
        log.exception("unexpected error")
        return answer(request, errors.VerifyError())

    endpoints = [
        *pages.endpoints(),
        *api.endpoints(),
        *CertificateFiles(settings, api.verification).endpoints(),
        *review_api.endpoints(),
        *verify_batch_api.endpoints(),
        *VerifierPages(console, verify_batch_api).endpoints(),  # the receipt pages, the verifier's screen
        *console.endpoints(),
    ]
    # Starlette tries routes in order, trying each one's pattern: the most requested paths first
    # (what a phone camera opens, its JSON twin, the lookups), the rest as each module lists them.
    # The QR JSON route was ninth, and the eight misses cost a hot scan ~8 µs of its ~60.
    endpoints.sort(key=lambda e: HOT_PATHS.index(e.path) if e.path in HOT_PATHS else len(HOT_PATHS))
    console_auth = console_authenticator(settings.max_upload_bytes)
    routes: list[BaseRoute] = [
        *endpoint_routes(endpoints, lambda e: console_auth if e.console else bearer_principal)
    ]
    routes.append(Mount("/static", app=CachedStatic(directory=settings.web_dir / "static"), name="static"))
    upload_limit = settings.max_upload_bytes + MULTIPART_SLACK

    upload_paths = UPLOAD_PATHS | VERIFY_UPLOAD_PATHS

    def body_limit(path: str) -> int:
        return upload_limit if path in upload_paths or PHOTO_UPLOAD.fullmatch(path) else LOOKUP_BODY_LIMIT

    app = App(
        body_limit=body_limit,
        access_log=settings.access_log,
        respond=lambda scope, exc: answer(Request(scope), exc),
        shed=ShedLimits(settings.max_in_flight, settings.max_lag_ms / 1000),
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            errors.VerifyError: on_verify_error,
            HTTPException: framework_error_handler(settings.max_upload_bytes),
            Exception: on_unexpected,
        },
    )
    app.state.openapi = json_bytes(openapi.document(endpoints, server_url=settings.public_url))
    return app

"""Small ASGI layers of the web app: long-lived caching of versioned static files, and gzip for the
clients that ask for it (the headers every answer carries are the guard's, verify.http.guard)."""

from __future__ import annotations

from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

GZIP_MIN_BYTES = 500


class CachedStatic(StaticFiles):
    """Static files are versioned by a content hash in their URLs (?v=...), so they may be cached long."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=604800"
        return response


class GzipWhenAccepted:
    """Starlette's GZipMiddleware, entered only by requests whose Accept-Encoding names gzip.

    GZipMiddleware wraps every response it sees, compressed or not; API clients and scanners that
    send no Accept-Encoding skip that work (about 10 µs a request, docs/DECISIONS.md D29). Browsers
    all ask for gzip and get what they got before."""

    def __init__(self, app: ASGIApp, minimum_size: int = GZIP_MIN_BYTES) -> None:
        self.plain = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for key, value in scope["headers"]:
                if key == b"accept-encoding":
                    if b"gzip" in value.lower():
                        await self.gzip(scope, receive, send)
                        return
                    break
        await self.plain(scope, receive, send)

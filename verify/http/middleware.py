"""Long-lived caching of versioned static files (the headers every answer carries are the guard's)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.staticfiles import StaticFiles


class CachedStatic(StaticFiles):
    """Static files are versioned by a content hash in their URLs (?v=...), so they may be cached long."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=604800"
        return response

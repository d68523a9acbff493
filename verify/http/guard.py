"""The outermost layer of the web app: what every request and every response passes through.

- **Security headers on every response**, 500s and the errors of the framework itself included:
  the guard wraps the whole Starlette stack, its server-error layer too.
- **One input check** before routing: a path or query parameter holding NUL, another control
  character, a lone surrogate or a noncharacter gets a 400 in the service's error shape
  (``verify.domain.text``), so such text never reaches a view or SQL.
- **Body limits** per route, answered in the service's error shape (413), by Content-Length before
  anything is read and by counting when the body streams in.
- **An access log with no personal data**: it names the route template (``/c/{payload}``), never
  the path, plus a short hash of the path to correlate lines; the query string is never logged.
- **A last resort**: an exception that escapes everything becomes a 500 in the error shape, unless
  the response had already started.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verify.domain import errors
from verify.domain.text import check_text
from verify.http.errors import error_body

access_log = logging.getLogger("verify.access")
log = logging.getLogger("verify.http")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def path_ref(path: str) -> str:
    """The short, keyless reference of a path that the access log carries instead of the path.
    Enough to correlate lines; a QR path cannot be rebuilt from it (the payload has ~700 bits)."""
    return hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        body_limit: Callable[[str], int],
        access: bool,
        respond: Callable[[Scope, errors.VerifyError], Response] | None = None,
    ) -> None:
        """``respond`` renders an error as the request wants it (an error page for a page request);
        without it, or if it fails, errors are answered in the JSON error shape."""
        self.app = app
        self.body_limit = body_limit
        self.access = access
        self.respond = respond

    async def _refuse(self, scope: Scope, send: Send, exc: errors.VerifyError, status: int) -> None:
        if self.respond is not None:
            try:
                response = self.respond(scope, exc)
            except Exception:
                log.exception("error page failed")
            else:
                await response(scope, _no_body, send)
                return
        await _send_error(send, exc, status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 0, "started": False}

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {k for k, _ in headers}
                headers.extend((k, v) for k, v in SECURITY_HEADERS if k not in present)
                message["headers"] = headers
            await send(message)

        try:
            refused = _refuse_input(scope)
            if refused is not None:
                await self._refuse(scope, send_guarded, refused, 400)
                return
            limit = self.body_limit(scope["path"])
            length = _content_length(scope)
            if length is not None and length > limit:
                await self._refuse(scope, send_guarded, _too_large(limit), 413)
                return
            received = 0

            async def receive_limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        # A VerifyError, so the app's handlers answer it (a page for a page request).
                        raise _too_large(limit)
                return message

            await self.app(scope, receive_limited, send_guarded)
        except errors.BodyTooLarge:
            if not state["started"]:
                await self._refuse(scope, send_guarded, _too_large(limit), 413)
        except Exception:
            # Starlette re-raises what its exception handlers already answered (and logged); only an
            # error that no handler answered is news here.
            if not state["started"]:
                log.exception("unhandled error")
                await self._refuse(scope, send_guarded, errors.VerifyError(), 500)
        finally:
            if self.access:
                route = scope.get("route")
                template = getattr(route, "path", None) or "<unrouted>"
                access_log.info(
                    '%s "%s %s" %s %.1fms ref=%s',
                    _client(scope), scope["method"], template, state["status"] or "-",
                    (time.perf_counter() - started) * 1000, path_ref(scope["path"]),
                )  # fmt: skip


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _refuse_input(scope: Scope) -> errors.VerifyError | None:
    try:
        check_text(scope["path"], "path")
        query = scope.get("query_string", b"").decode("latin-1")
        for key, value in parse_qsl(query, keep_blank_values=True):
            check_text(key, "query")
            check_text(value, "query")
    except errors.BadCharacter as exc:
        return exc
    return None


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> errors.VerifyError:
    shown = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit} B"
    return errors.BodyTooLarge(
        f"请求体超过上限（{shown}）", f"the request body is larger than the limit ({shown})"
    )


async def _send_error(send: Send, exc: errors.VerifyError, status: int) -> None:
    body = error_body(exc)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"

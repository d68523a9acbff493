"""Load shedding: an overloaded worker says so at once (503 with ``Retry-After``) instead of letting
requests queue until clients time out.

Two signals, both per worker process (docs/DECISIONS.md D30 says why behind them):

- **Requests in flight.** More than ``max_in_flight`` requests inside the app at once
  (``VERIFY_MAX_IN_FLIGHT``) means they are waiting on something slower than the arrivals (the
  database, its pool): the excess is refused before it joins the wait.
- **Event-loop lag.** A CPU-bound request (a QR verification answers from memory) never waits
  inside the app, so the in-flight count stays near one however overloaded the worker is; the
  queue is then in the kernel's socket buffers and the loop's ready queue, where no count can see
  it. What can be seen is how late the loop runs: a timer every ``LAG_INTERVAL`` seconds notes how
  late it fired, and while the worker runs more than ``max_lag`` behind (``VERIFY_MAX_LAG_MS``)
  new requests are refused. A refusal costs a fraction of an answer, so the backlog drains and the
  lag falls back below the bound: the worker keeps answering at about its capacity, and everything
  beyond it is told to come back, within about the bound.

The layer sits inside the guard (``verify.http.app.App``), so a refusal carries the security
headers and is in the access log; it is the service's error (``Unavailable``, cause
``overloaded``), as JSON for the API and as the error page for a page request (the guard's
``respond``). ``/healthz`` and ``/static/`` are never refused: the health check must keep telling
a load balancer that the worker is alive (it is: it is only busy), and a static file is what an
admitted page needs to render.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verify.domain import errors
from verify.http.errors import error_body, error_response

log = logging.getLogger("verify.http")

# Seconds a refused client is asked to wait: long enough to spread a burst's retries, short enough
# for a person retrying by hand; the overload drill measured recovery within a second.
RETRY_AFTER = 2
# The lag sampler's period; it stops ticking after IDLE seconds without a request.
LAG_INTERVAL = 0.005
IDLE = 2.0
# At most one "overloaded" log line per worker this often.
LOG_EVERY = 10.0


@dataclass(frozen=True, slots=True)
class ShedLimits:
    """``max_in_flight`` requests at once (0 = no limit); refuse while the loop runs more than
    ``max_lag`` seconds behind (0 = never)."""

    max_in_flight: int = 0
    max_lag: float = 0.0


def overloaded() -> errors.Unavailable:
    return errors.Unavailable(details={"cause": "overloaded"}, retry_after=RETRY_AFTER)


def exempt(path: str) -> bool:
    return path == "/healthz" or path.startswith("/static/")


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


class LoopLag:
    """How far behind the running event loop is: a timer every ``interval`` seconds records how late
    it fired; while it is overdue, the lag is how overdue it is now. Started by the first ``lag()``
    call in a loop, stopped after ``IDLE`` seconds without one."""

    def __init__(self, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._due = 0.0  # time.monotonic() the next tick should run at
        self._last = 0.0  # how late the last tick ran
        self._asked = 0.0

    def _tick(self) -> None:
        now = time.monotonic()
        self._last = max(0.0, now - self._due)
        if now - self._asked > IDLE:
            self._running = False
            return
        self._due = now + self.interval
        assert self._loop is not None
        self._loop.call_at(self._loop.time() + self.interval, self._tick)

    def lag(self) -> float:
        now = time.monotonic()
        self._asked = now
        loop = asyncio.get_running_loop()
        if not self._running or loop is not self._loop:
            self._loop, self._running, self._last = loop, True, 0.0
            self._due = now + self.interval
            loop.call_at(loop.time() + self.interval, self._tick)
            return 0.0
        return max(self._last, now - self._due)


class Shedder:
    """The ASGI layer: counts the requests in flight in this worker and refuses the excess."""

    def __init__(
        self,
        app: ASGIApp,
        limits: ShedLimits,
        *,
        respond: Callable[[Scope, errors.VerifyError], Response] | None = None,
    ) -> None:
        """``respond`` renders the refusal as the request wants it (an error page for a page
        request); without it, or if it fails, the refusal is JSON in the error shape."""
        self.app = app
        self.limits = limits
        self.respond = respond
        self.loop_lag = LoopLag()
        self.in_flight = 0
        self.refused = 0  # since the worker started
        self._logged = (0.0, 0)  # when the last log line was written, and self.refused then

    def _busy(self) -> bool:
        limits = self.limits
        if limits.max_in_flight and self.in_flight >= limits.max_in_flight:
            return True
        return bool(limits.max_lag) and self.loop_lag.lag() > limits.max_lag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self._busy():
            await self._refuse(scope, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Scope, send: Send) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._logged[0] >= LOG_EVERY:
            log.warning(
                "overloaded: %d requests refused in %.0f s (in flight %d, loop lag %.0f ms)",
                self.refused - self._logged[1], now - self._logged[0] if self._logged[0] else 0.0,
                self.in_flight, self.loop_lag.lag() * 1000,
            )  # fmt: skip
            self._logged = (now, self.refused)
        if scope["path"].startswith("/api/") or self.respond is None:
            # The API is never a page (Pages.is_page_request): the same bytes every time, so a
            # refusal costs as little as it can (DECISIONS D30).
            await send({"type": "http.response.start", "status": 503, "headers": _JSON_HEADERS})
            await send({"type": "http.response.body", "body": OVERLOADED_JSON})
            return
        exc = overloaded()
        try:
            response = self.respond(scope, exc)
        except Exception:
            log.exception("error page failed")
            response = error_response(exc)
        await response(scope, _no_body, send)


# The API's refusal, byte for byte; the nginx front sends the same (verify.http.front_proxy).
OVERLOADED_JSON = error_body(overloaded())
_JSON_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(OVERLOADED_JSON)).encode()),
    (b"retry-after", str(RETRY_AFTER).encode()),
]

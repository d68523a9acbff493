"""Load shedding (``verify.http.shedding``, DECISIONS D30): a worker answers at most
``VERIFY_MAX_IN_FLIGHT`` requests at once and refuses the excess at once with 503, ``Retry-After``,
the error shape (a page for a page request) and the security headers; it refuses new requests
while its event loop runs behind; the health check and static files are never refused.

The real app over the real database, with one extra route that holds its request until the test
lets it go, so that exactly N + k requests are in flight at once. Nothing here is timed: the
requests are counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from verify.config import Settings
from verify.http.app import App, create_app
from verify.http.errors import JSON
from verify.http.guard import SECURITY_HEADERS
from verify.http.shedding import RETRY_AFTER, LoopLag, Shedder
from verify.services.registry import Registry
from verify.services.status_view import StatusView

LIMIT = 4
NUMBER = "Y000041010012224000007"  # a well-formed number: /api/v1/codes answers it without the database


@dataclass
class Held:
    """The app, a client, and the gate that holds requests to ``/api/v1/hold`` and ``/hold``."""

    app: App
    client: httpx.AsyncClient
    gate: asyncio.Event
    entered: list[int]

    def shedder(self) -> Shedder:
        guard = self.app.middleware_stack
        assert guard is not None
        shedder = guard.app  # type: ignore[attr-defined]
        assert isinstance(shedder, Shedder)
        return shedder

    async def hold(
        self, n: int, path: str = "/api/v1/hold", **headers: str
    ) -> list[asyncio.Task[httpx.Response]]:
        """Start ``n`` held requests and return once all ``n`` are inside the app."""
        before = self.entered[0]
        tasks = [asyncio.create_task(self.client.get(path, headers=headers)) for _ in range(n)]
        await _until(lambda: self.entered[0] == before + n or any(t.done() for t in tasks))
        assert self.entered[0] == before + n, [t.result().status_code for t in tasks if t.done()]
        return tasks


async def _until(condition: object, limit: float = 10.0) -> None:
    """Let the loop run until ``condition()`` holds (a bound for a hung test, not a measurement)."""
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]  # noqa: ASYNC110 - polls state no event signals
        await asyncio.sleep(0.001)


async def _held(settings: Settings, registry: Registry, status_view: StatusView) -> AsyncIterator[Held]:
    async def factory() -> Registry:  # pragma: no cover - the lifespan is not run under ASGITransport
        return registry

    gate = asyncio.Event()
    entered = [0]

    async def hold(request: Request) -> Response:
        entered[0] += 1
        await gate.wait()
        return JSON({"held": True})

    app = create_app(settings, registry_factory=factory)
    app.router.routes += [Route("/api/v1/hold", hold), Route("/hold", hold)]
    app.state.registry, app.state.status_view = registry, status_view
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        held = Held(app, client, gate, entered)  # type: ignore[arg-type]
        try:
            yield held
        finally:
            gate.set()


@pytest.fixture
async def held(settings: Settings, registry: Registry, status_view: StatusView) -> AsyncIterator[Held]:
    """The app with a limit of LIMIT requests in flight and the lag check off."""
    limited = dataclasses.replace(settings, max_in_flight=LIMIT, max_lag_ms=0)
    async for h in _held(limited, registry, status_view):
        yield h


@pytest.fixture
async def lagging(settings: Settings, registry: Registry, status_view: StatusView) -> AsyncIterator[Held]:
    """The app with no in-flight limit and a lag bound of 50 ms."""
    lag_only = dataclasses.replace(settings, max_in_flight=0, max_lag_ms=50)
    async for h in _held(lag_only, registry, status_view):
        yield h


def _assert_refusal(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == str(RETRY_AFTER)
    for header, _ in SECURITY_HEADERS:
        assert header.decode() in r.headers, header


async def test_exactly_the_excess_over_the_limit_is_refused_at_once(held: Held) -> None:
    extra = 3
    admitted = await held.hold(LIMIT)
    excess = [asyncio.create_task(held.client.get("/api/v1/hold")) for _ in range(extra)]
    # The refusals come back while the admitted requests are still held: nothing queued behind them.
    done, _ = await asyncio.wait(excess, timeout=10)
    assert len(done) == extra and held.entered[0] == LIMIT
    assert not any(t.done() for t in admitted)
    for t in excess:
        r = t.result()
        _assert_refusal(r)
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert body["error"] == "unavailable" and body["details"] == {"cause": "overloaded"}
        assert body["message"]["zh"] and body["message"]["en"]
    assert held.shedder().refused == extra and held.shedder().in_flight == LIMIT

    held.gate.set()
    assert [(await t).status_code for t in admitted] == [200] * LIMIT
    assert held.shedder().in_flight == 0
    # Capacity is back: a full set of requests is admitted again, and ordinary routes answer.
    assert (await held.client.get(f"/api/v1/codes/{NUMBER}")).status_code == 200
    held.gate.clear()
    again = await held.hold(LIMIT)
    held.gate.set()
    assert [(await t).status_code for t in again] == [200] * LIMIT


async def test_a_refused_page_request_gets_the_error_page_and_is_logged(
    held: Held, caplog: pytest.LogCaptureFixture
) -> None:
    admitted = await held.hold(LIMIT)
    with caplog.at_level(logging.INFO, logger="verify.access"):
        r = await held.client.get("/hold", headers={"accept": "text/html", "accept-language": "en"})
    _assert_refusal(r)
    assert r.headers["content-type"].startswith("text/html")
    assert "try again" in r.text
    logged = [rec for rec in caplog.records if rec.name == "verify.access"]
    assert logged and logged[-1].args is not None and logged[-1].args[3] == 503  # type: ignore[index]
    held.gate.set()
    await asyncio.gather(*admitted)


async def test_the_health_check_and_static_files_are_never_refused(held: Held) -> None:
    admitted = await held.hold(LIMIT)
    assert (await held.client.get(f"/api/v1/codes/{NUMBER}")).status_code == 503
    health = await held.client.get("/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    assert (await held.client.get("/static/app.css")).status_code == 200
    held.gate.set()
    await asyncio.gather(*admitted)


async def test_a_worker_whose_loop_runs_behind_refuses_new_requests(lagging: Held) -> None:
    client = lagging.client
    assert (await client.get(f"/api/v1/codes/{NUMBER}")).status_code == 200
    # A slower sampler than production's, so that the test does not depend on when the loop gets
    # to run its next tick: the lag after the stall below stays visible for 0.25 s.
    lagging.shedder().loop_lag = LoopLag(interval=0.25)
    assert (await client.get(f"/api/v1/codes/{NUMBER}")).status_code == 200  # starts that sampler
    # What an overloaded worker looks like to its loop: it has not got round to anything for 0.4 s.
    time.sleep(0.4)  # noqa: ASYNC251 - blocking the loop is the point
    _assert_refusal(await client.get(f"/api/v1/codes/{NUMBER}"))
    # Once the loop has caught up (its sampler fires on time again), requests are served again.
    await asyncio.sleep(0.6)
    assert (await client.get(f"/api/v1/codes/{NUMBER}")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200

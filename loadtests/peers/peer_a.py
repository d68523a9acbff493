"""Peer A: Starlette + uvicorn + asyncpg, one primary-key SELECT per request (the service's stack).

PEER_DSN=postgresql://... uvicorn loadtests.peers.peer_a:app --workers 2
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from loadtests.peers.common import NOT_FOUND, QUERY, answer, dsn


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(dsn(), min_size=1, max_size=10)
    yield
    await app.state.pool.close()


async def by_number(request: Request) -> JSONResponse:
    row = await request.app.state.pool.fetchrow(QUERY, request.path_params["number"])
    if row is None:
        return JSONResponse(NOT_FOUND, status_code=404)
    return JSONResponse(answer(row))


app = Starlette(routes=[Route("/n/{number}", by_number)], lifespan=lifespan)

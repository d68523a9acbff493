"""The framework ceiling: Starlette answering the same JSON from an in-process dict, no database.

The dict is filled once at start from the sample file's numbers (one query), so the answers are
the peers' answers byte for byte; each request still builds its JSONResponse.

    PEER_DSN=postgresql://... PEER_SAMPLE=sample.jsonl uvicorn loadtests.peers.ceiling:app --workers 2
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from loadtests.peers.common import NOT_FOUND, QUERY, answer, dsn

ANSWERS: dict[str, dict[str, Any]] = {}


def sample_numbers() -> list[str]:
    with open(os.environ["PEER_SAMPLE"], encoding="utf-8") as f:
        return [json.loads(line)["number"] for line in f if line.strip()]


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    numbers = sample_numbers()
    conn = await asyncpg.connect(dsn())
    try:
        query = QUERY.replace("c.number = $1", "c.number = ANY($1::text[])")
        ANSWERS.update((r["number"], answer(r)) for r in await conn.fetch(query, numbers))
    finally:
        await conn.close()
    yield


async def by_number(request: Request) -> JSONResponse:
    found = ANSWERS.get(request.path_params["number"])
    if found is None:
        return JSONResponse(NOT_FOUND, status_code=404)
    return JSONResponse(found)


app = Starlette(routes=[Route("/n/{number}", by_number)], lifespan=lifespan)

"""The route table's one row type: every route of the app is an ``Endpoint``, which names who may
call it (``access``: an ``Action`` of ``verify.domain.accounts``, or None for the public) and
describes it for the API description (``GET /api/v1/openapi.json``).

``EndpointRoute`` resolves the caller before the view runs: a bearer token for the API, the
session cookie for the console. A view of a non-public route therefore always finds
``request.state.principal`` set and allowed by role; scope (own institution, jurisdiction) is
checked by the use case it calls. The authorisation matrix test walks these rows, so a route
cannot be added without saying who may call it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from verify.domain.accounts import Action, Principal, authorize
from verify.services.registry import Registry

View = Callable[[Request], Awaitable[Response]]
Authenticate = Callable[[Request], Awaitable[Principal]]

JSONSchema = dict[str, Any]


def registry(request: Request) -> Registry:
    """The worker's registry (set by the app's lifespan; tests set it directly)."""
    reg: Registry = request.app.state.registry
    return reg


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    view: View
    summary: tuple[str, str]  # zh, en
    access: Action | None = None  # None: anyone
    tag: str = "public"
    # For the API description: the JSON body (or a multipart form), the answers by status.
    body: JSONSchema | None = None
    form: JSONSchema | None = None  # multipart/form-data or urlencoded fields
    query: dict[str, JSONSchema] = field(default_factory=dict)
    responses: dict[int, JSONSchema] = field(default_factory=dict)
    media: str = "application/json"  # of the 200 answer: text/html for pages, image/png...
    # What the path's parameter names, when the route acts on one scoped thing (for the matrix).
    target: str | None = None
    console: bool = False  # signed in with the session cookie (forms) rather than a token

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


class EndpointRoute(Route):
    """One Starlette route for the Endpoints of one path (one per method), resolving and
    role-checking the caller of a non-public one first. One route per path, so a method the path
    does not serve gets a 405 whose ``Allow`` names every method it does."""

    def __init__(self, specs: Sequence[Endpoint], authenticate: Callable[[Endpoint], Authenticate]) -> None:
        assert len({s.path for s in specs}) == 1 and len({s.method for s in specs}) == len(specs)
        self.specs = tuple(specs)
        views: dict[str, View] = {
            s.method: s.view if s.access is None else _guarded(s.access, s.view, authenticate(s))
            for s in specs
        }
        if "GET" in views:
            views.setdefault("HEAD", views["GET"])

        async def dispatch(request: Request) -> Response:
            return await views[request.method](request)

        super().__init__(specs[0].path, dispatch, methods=list(views), name=specs[0].name)


def endpoint_routes(
    endpoints: Sequence[Endpoint], authenticate: Callable[[Endpoint], Authenticate]
) -> list[EndpointRoute]:
    """The routes of ``endpoints``, one per path, in the order each path first appears (Starlette
    tries routes in order)."""
    by_path: dict[str, list[Endpoint]] = {}
    for e in endpoints:
        by_path.setdefault(e.path, []).append(e)
    return [EndpointRoute(specs, authenticate) for specs in by_path.values()]


def _guarded(action: Action, view: View, authenticate: Authenticate) -> View:
    async def guarded(request: Request) -> Response:
        request.state.request_id = secrets.token_hex(8)
        try:
            principal = await authenticate(request)
            authorize(principal, action)
            request.state.principal = principal
            response = await view(request)
        finally:
            await request.close()  # the uploaded files of a form, spooled to disk when large
        response.headers["X-Request-Id"] = request.state.request_id
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return guarded


def principal_of(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)

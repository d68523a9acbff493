"""The API description (OpenAPI 3.1), built from the route table: every ``Endpoint`` under
``/api/``, ``/.well-known/`` and ``/healthz`` with its summary, access, body and answers. Nothing is
written twice: a route added to the table is described, and one without a description cannot be added.

The schemas are those of ``verify.http.schemas``; the ones named in ``schemas.COMPONENTS`` are
written once under ``components/schemas`` and referenced wherever a route uses them. Every error
answer is the shared ``Error`` shape; which error statuses an operation documents follows from the
endpoint (a path parameter can be unknown, a body can be refused, a caller can lack rights), so
``tests/http/test_openapi.py`` can hold each answer's status to the description.
"""

from __future__ import annotations

import re
from typing import Any

from verify import __version__
from verify.domain.accounts import GRANTS
from verify.http import public_schemas as P
from verify.http import schemas as S
from verify.http.routes import Endpoint

_PARAM = re.compile(r"{([a-zA-Z_]+)(?::[a-z]+)?}")

ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Statuses whose answers carry no body.
_EMPTY = frozenset({204, 304})
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds after which trying again may succeed",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_ERROR_DESCRIPTIONS = {
    400: "invalid input (the body, a field, a character no text may hold)",
    401: "no credentials, or unknown, expired or revoked ones",
    403: "the caller's role or scope does not allow this",
    404: "not found",
    409: "conflicts with the current state",
    413: "the body is larger than the limit",
    422: "a malformed code, ID or name, or a refused batch",
    429: "too many requests (rule 57)",
    503: "overloaded, or the database is unavailable: retry after Retry-After",
}


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/.well-known/", "/healthz"))


def api_endpoints(endpoints: list[Endpoint]) -> list[Endpoint]:
    """The endpoints the document describes: the API's, not the pages' or the console's."""
    return [e for e in endpoints if is_api(e.path) and not e.console]


def openapi_path(path: str) -> str:
    """A Starlette path in OpenAPI's template form: ``/codes/{number:path}`` -> ``/codes/{number}``."""
    return _PARAM.sub(r"{\1}", path)


def media_types(e: Endpoint) -> list[str]:
    """The media types of an endpoint's successful answers (``media`` may list several, comma-separated)."""
    return [m.strip() for m in e.media.split(",") if m.strip()]


def error_statuses(e: Endpoint) -> set[int]:
    """The error statuses an endpoint can answer, besides those its row declares: every request
    can be refused by the guard (400) or the shedder (503); a path parameter can name nothing
    (404); a body can be too large or malformed (413, 400); a token can be missing or not allow the
    action (401, 403), and what an authenticated request names can be out of scope, in the wrong
    state or malformed (404, 409, 422)."""
    statuses = {400, 503}
    names_something = bool(_PARAM.search(e.path) or e.query or e.body is not None or e.form is not None)
    if _PARAM.search(e.path):
        statuses.add(404)
    if e.body is not None or e.form is not None:
        statuses.add(413)
    if e.access is not None:
        statuses |= {401, 403}
        if names_something:
            statuses |= {404, 409, 422}
    return statuses


def document(endpoints: list[Endpoint], *, server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API endpoints among ``endpoints``."""
    refs = {id(schema): name for name, schema in P.COMPONENTS.items()}
    paths: dict[str, dict[str, Any]] = {}
    for e in api_endpoints(endpoints):
        paths.setdefault(openapi_path(e.path), {})[e.method.lower()] = _with_refs(_operation(e), refs)
    components = {name: _with_refs(schema, refs, top=True) for name, schema in P.COMPONENTS.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "verify: 职业技能等级证书查验服务 / certificate verification service",
            "version": __version__,
            "description": "Every error answers the Error shape with a stable reason slug (`error`).",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "verify accounts token"}
            },
        },
    }


def _operation(e: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": re.sub(r"[^a-zA-Z0-9]+", "_", f"{e.method}_{e.path}").strip("_"),
        "summary": e.summary[1],
        "description": e.summary[0],
        "tags": [e.tag],
    }
    in_path = _PARAM.findall(e.path)
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": e.query.get(name, {"type": "string", "maxLength": 200}),
        }
        for name in in_path
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in e.query.items()
        if name not in in_path
    ]
    if params:
        op["parameters"] = params
    if e.body is not None:
        # An empty body reads as {}: the body is required when {} is not a valid one.
        required = bool(e.body.get("required") or e.body.get("anyOf"))
        op["requestBody"] = {"required": required, "content": {"application/json": {"schema": e.body}}}
    elif e.form is not None:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": e.form}}}
    responses: dict[str, Any] = {}
    for status, schema in sorted(e.responses.items()):
        responses[str(status)] = _response(e, status, schema)
    for status in sorted(error_statuses(e) - set(e.responses)):
        responses[str(status)] = _response(e, status, ERROR_REF)
    op["responses"] = responses
    if e.access is not None:
        op["security"] = [{"token": []}]
        roles = ", ".join(sorted(r.value for r in GRANTS[e.access]))
        op["description"] += f"\n\naccess: `{e.access.value}` (roles: {roles})"
    return op


def _response(e: Endpoint, status: int, schema: S.Schema) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": "OK" if status < 300 else _ERROR_DESCRIPTIONS.get(status, "see body")
    }
    if status in (429, 503):
        answer["headers"] = _RETRY_AFTER
    if status not in _EMPTY:
        media = media_types(e) if 200 <= status < 300 else ["application/json"]
        answer["content"] = {m: {"schema": schema} for m in media}
    return answer


def _with_refs(node: Any, refs: dict[int, str], *, top: bool = False) -> Any:
    """``node`` with every schema of ``schemas.COMPONENTS`` below it replaced by its ``$ref``."""
    if not top and id(node) in refs:
        return {"$ref": f"#/components/schemas/{refs[id(node)]}"}
    if isinstance(node, dict):
        return {k: _with_refs(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_refs(v, refs) for v in node]
    return node

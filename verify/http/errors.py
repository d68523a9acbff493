"""The one mapping from the service's errors to HTTP, and the JSON response every answer uses."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from verify.domain import errors

# The one mapping from error classes to HTTP status codes (the most specific class wins).
HTTP_STATUS: dict[type[errors.VerifyError], int] = {
    errors.InvalidCode: 422,
    errors.InvalidId: 422,
    errors.InvalidName: 422,
    errors.BatchRejected: 422,
    errors.FileTooLarge: 413,
    errors.BodyTooLarge: 413,
    errors.BadFile: 400,
    errors.InvalidInput: 400,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
    errors.ConfigError: 500,
}

# Errors raised by Starlette itself, before a view runs: status -> (reason slug, zh, en).
FRAMEWORK_ERRORS: dict[int, tuple[str, str, str]] = {
    404: ("not_found", "未找到", "Not found"),
    405: ("method_not_allowed", "不支持此请求方法", "Method not allowed"),
}


def http_status(exc: errors.VerifyError) -> int:
    return errors.mapped(exc, HTTP_STATUS, 500)


def json_bytes(content: Any) -> bytes:
    """UTF-8 JSON with Chinese left readable. Never raises for text: a lone surrogate that slipped
    through is written as an escape rather than failing the whole answer.

    orjson writes the same bytes as ``json.dumps(..., ensure_ascii=False)`` about 20 times faster
    (0.5 µs instead of 10 µs for a verification answer, D29); it refuses lone surrogates, and only
    then does the standard library write the answer."""
    try:
        return orjson.dumps(content)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, a type orjson does not know
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "backslashreplace"
        )


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def error_body(exc: errors.VerifyError) -> bytes:
    return json_bytes(exc.to_json())


def retry_headers(exc: errors.VerifyError) -> dict[str, str]:
    """``Retry-After`` for an error that retrying can cure (429, 503); empty otherwise."""
    return {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}


def error_response(exc: errors.VerifyError) -> Response:
    return JSON(exc.to_json(), status_code=http_status(exc), headers=retry_headers(exc) or None)


async def on_verify_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.VerifyError)
    return error_response(exc)


def framework_error_handler(max_upload_bytes: int) -> Any:
    """The handler for Starlette's own HTTPExceptions, in the service's error shape."""
    limit_mb = max_upload_bytes // (1024 * 1024)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 413:
            return error_response(
                errors.FileTooLarge(
                    f"请求体超过上限（{limit_mb} MB）",
                    f"the request body is larger than the limit ({limit_mb} MB)",
                )
            )
        slug, zh, en = FRAMEWORK_ERRORS.get(exc.status_code, ("http_error", "请求无法处理", str(exc.detail)))
        return JSON(
            {"error": slug, "message": {"zh": zh, "en": en}}, status_code=exc.status_code, headers=exc.headers
        )

    return on_http_error

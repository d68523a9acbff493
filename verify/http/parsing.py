"""Reading request bodies: one JSON-object reader and one text-field reader for every view."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from starlette.requests import Request

from verify.domain import errors
from verify.domain.text import check_text, check_tree


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``). Raises InvalidInput, BadCharacter."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[...", 1,000 deep
        raise errors.InvalidInput(
            "请求体必须是 JSON 对象", "the request body must be a JSON object"
        ) from None
    if not isinstance(body, dict):
        raise errors.InvalidInput("请求体必须是 JSON 对象", "the request body must be a JSON object")
    check_tree(body)
    return body


def text(body: dict[str, Any], key: str, *, required: bool = False, limit: int = 200) -> str:
    """A string field of at most ``limit`` characters ("" when absent and not required). Raises
    InvalidInput naming the field."""
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise errors.InvalidInput(f"缺少字段 {key}", f"missing field {key}", details={"field": key})
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise errors.InvalidInput(
            f"字段 {key} 必须是不超过 {limit} 个字符的字符串",
            f"field {key} must be a string of at most {limit} characters",
            details={"field": key},
        )
    return check_text(value, key)


def effective_date(body: dict[str, Any], today: date, key: str = "effective") -> date:
    """The date a decision takes effect (``YYYY-MM-DD``), ``today`` when absent. Raises InvalidInput."""
    raw = text(body, key, limit=10)
    try:
        return date.fromisoformat(raw) if raw else today
    except ValueError:
        raise errors.InvalidInput(
            f"{key} 须为 YYYY-MM-DD 格式的日期", f"{key} is a date, YYYY-MM-DD", details={"field": key}
        ) from None


def client_address(request: Request, trust_proxy: bool) -> str:
    """The client's address: the first ``X-Forwarded-For`` hop behind a trusted proxy
    (``VERIFY_TRUST_PROXY``), else the socket's peer. What throttles count by."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"

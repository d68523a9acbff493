"""The Starlette application: routes, one error-to-HTTP mapping, security headers.

Views are thin: they parse the request, call ``verify.service``, and render JSON. Personal data
(names, ID numbers) is accepted only in POST bodies and never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verify import codes, errors, payload, store
from verify.config import Settings
from verify.pages import Pages
from verify.qr import QrCache
from verify.ratelimit import SlidingWindow
from verify.service import Registry, shutdown_checkers, today_utc8
from verify.signing import public_jwk, verify_signature
from verify.status import StatusView
from verify.verification import Verification, verify_path

log = logging.getLogger("verify.app")

LOOKUP_BODY_LIMIT = 4096
MULTIPART_SLACK = 1024 * 1024

# The one mapping from error reasons to HTTP status codes.
HTTP_STATUS: dict[type[errors.VerifyError], int] = {
    errors.InvalidCode: 422,
    errors.InvalidId: 422,
    errors.InvalidName: 422,
    errors.BatchRejected: 422,
    errors.FileTooLarge: 413,
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


def http_status(exc: errors.VerifyError) -> int:
    return errors.mapped(exc, HTTP_STATUS, 500)


class JSON(JSONResponse):
    """UTF-8 JSON with Chinese left readable (ensure_ascii=False)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_response(exc: errors.VerifyError) -> Response:
    status = http_status(exc)
    headers = {"Retry-After": "30"} if status in (429, 503) else None
    return JSON(exc.to_json(), status_code=status, headers=headers)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the security headers to every response (ASGI, so it also covers errors and 404s)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k for k, _ in headers}
                headers.extend((k, v) for k, v in SECURITY_HEADERS if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _client_address(request: Request, trust_proxy: bool) -> str:
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


QR_LINK_SECONDS = 3600


def create_app(settings: Settings, *, registry_factory: Callable[[], Awaitable[Registry]]) -> Starlette:
    """Build the app. ``registry_factory`` opens the pool (in the lifespan, inside the worker process)."""
    per_ip = SlidingWindow(settings.lookup_per_minute, 60.0)
    images = QrCache()
    failed_names = SlidingWindow(settings.lookup_fails_per_number, 24 * 3600.0)

    def registry(request: Request) -> Registry:
        reg: Registry = request.app.state.registry
        return reg

    def status_view(request: Request) -> StatusView:
        view: StatusView = request.app.state.status_view
        return view

    def with_qr_links(request: Request, answer: dict[str, Any]) -> dict[str, Any]:
        """Successful lookups carry short-lived links to the holder's QR images."""
        if answer.get("found"):
            expires = int(time.time()) + QR_LINK_SECONDS
            for cert in answer["certificates"]:
                token = registry(request).qr_link_token(cert["number"], expires)
                base = f"/api/v1/certificates/{cert['number']}/qr"
                cert["qr"] = {fmt: f"{base}.{fmt}?e={expires}&t={token}" for fmt in ("png", "svg")}
        return answer

    async def index(request: Request) -> Response:
        return JSON(
            {
                "service": "verify",
                "description": {
                    "zh": "职业技能等级证书、专项职业能力证书查验服务",
                    "en": "Verification service for vocational skill certificates",
                },
                "api": {
                    "check_number": "GET /api/v1/codes/{number}",
                    "lookup": "POST /api/v1/lookup",
                    "institution": "GET /api/v1/institutions/{code}",
                    "upload_batch": "POST /api/v1/batches",
                    "batch": "GET /api/v1/batches/{batch_id}",
                },
                "reference_version": codes.REFERENCE_VERSION,
            }
        )

    async def healthz(request: Request) -> Response:
        view = status_view(request)
        status = {
            "as_of": view.snapshot.as_of.isoformat() if view.snapshot else None,
            "fresh": view.fresh(),
            "worker": os.getpid(),
        }
        try:
            await store.ping(registry(request).pool)
        except Exception:  # any failure means "not healthy"; the reason goes to the log
            log.exception("health check failed")
            return JSON(
                {"ok": False, "database": "unavailable", "status_view": status},
                status_code=503,
                headers={"Retry-After": "10"},
            )
        return JSON(
            {"ok": True, "database": "ok", "status_view": status}, headers={"Cache-Control": "no-store"}
        )

    async def check_number(request: Request) -> Response:
        result = codes.check_code(request.path_params["number"], today=today_utc8())
        return JSON(result.to_json(), status_code=200 if result.valid else 422)

    async def lookup_answer(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """The one lookup path for the API and the form: rate limits, then number+name or ID+name.
        Raises RateLimited, InvalidInput (and its InvalidCode / InvalidId)."""
        if not per_ip.allow(_client_address(request, settings.trust_proxy)):
            raise errors.RateLimited()
        name = _text(body, "name", required=True)
        if body.get("number"):
            number = codes.normalize(_text(body, "number", required=True))
            if failed_names.exhausted(number):
                raise errors.RateLimited()
            answer = await registry(request).lookup_by_number(number, name)
            if not answer.found:
                failed_names.hit(number)
        elif body.get("id_number"):
            answer = await registry(request).lookup_by_id(
                _text(body, "id_number", required=True), name, _text(body, "id_type") or "resident_id"
            )
        else:
            raise errors.InvalidInput(
                "请提供 number（证书编号）或 id_number（证件号码），以及 name（姓名）",
                "give number (certificate number) or id_number (ID number), and name",
            )
        return with_qr_links(request, answer.to_json())

    async def lookup(request: Request) -> Response:
        answer = await lookup_answer(request, await _json_body(request))
        return JSON(
            answer, status_code=200 if answer["found"] else 404, headers={"Cache-Control": "no-store"}
        )

    def verification(request: Request) -> Verification:
        view = status_view(request)
        segment = request.path_params["payload"]
        return verify_path(
            segment.removesuffix(".json"),  # the landing page's JSON twin (Base32 has no dots)
            view.snapshot,
            fresh=view.fresh(),
            check_signature=verify_signature,
        )

    async def verify_api(request: Request) -> Response:
        return JSON(verification(request).to_json(), headers={"Cache-Control": "no-store"})

    async def jwks(request: Request) -> Response:
        snapshot = status_view(request).snapshot
        keys = [] if snapshot is None else [k for ks in snapshot.keys_by_kid.values() for k in ks]
        body = json.dumps(
            {"keys": [public_jwk(k.public_key, not_before=k.not_before, not_after=k.not_after, status=k.status)
                      for k in sorted(keys, key=lambda k: (k.not_before, k.kid))]},
            sort_keys=True, separators=(",", ":"),
        ).encode()  # fmt: skip
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/jwk-set+json", headers=headers)

    async def qr_image(request: Request) -> Response:
        number = codes.normalize(request.path_params["number"])
        fmt = request.path_params["fmt"]
        if fmt not in ("png", "svg"):
            raise errors.NotFound("只提供 PNG 或 SVG 格式", "only .png and .svg are offered")
        try:
            expires = int(request.query_params.get("e", "0"))
        except ValueError:
            expires = 0
        if not registry(request).qr_link_valid(
            number, expires, request.query_params.get("t", ""), time.time()
        ):
            raise errors.Forbidden(
                "二维码图片仅通过证书查询结果中的链接提供（链接一小时内有效）",
                "QR images are offered only through the links in a lookup answer (valid for one hour)",
            )
        url = payload.qr_url(settings.public_url, await registry(request).qr_payload(number))
        image = await asyncio.to_thread(images.png if fmt == "png" else images.svg, url)
        media = "image/png" if fmt == "png" else "image/svg+xml"
        return Response(image, media_type=media, headers={"Cache-Control": "private, max-age=3600"})

    async def institution(request: Request) -> Response:
        view = await registry(request).institution_view(request.path_params["code"].strip().upper())
        return JSON(view, headers={"Cache-Control": "public, max-age=60"})

    async def upload_batch(request: Request) -> Response:
        inst = await _institution_from_token(request)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            async with request.form(
                max_files=1, max_fields=10, max_part_size=settings.max_upload_bytes
            ) as form:
                upload = form.get("file")
                if upload is None or isinstance(upload, str):
                    raise errors.BadFile(
                        "请在表单字段 file 中上传文件", "send the file in the multipart field 'file'"
                    )
                data = await upload.read()
                filename = upload.filename or "batch"
        else:
            data = await request.body()
            filename = (
                request.query_params.get("filename") or request.headers.get("x-filename") or "batch.csv"
            )
        result = await registry(request).import_batch(
            inst.code, data, filename, actor=f"institution:{inst.code}", max_bytes=settings.max_upload_bytes
        )
        return JSON(result.to_json(), status_code=201 if result.created else 200)

    async def get_batch(request: Request) -> Response:
        inst = await _institution_from_token(request)
        b = await registry(request).batch_of(request.path_params["batch_id"], inst.code)
        return JSON(
            {
                "batch_id": b.public_id,
                "institution": b.institution_code,
                "state": b.state,
                "rows": b.row_count,
                "filename": b.filename,
                "sha256": b.file_sha256,
                "submitted_at": b.submitted_at.isoformat(),
                "published_at": b.published_at.isoformat() if b.published_at else None,
            }
        )

    async def _institution_from_token(request: Request) -> Any:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise errors.Unauthorized(
                "需要机构凭证：Authorization: Bearer <token>",
                "institution credentials required: Authorization: Bearer <token>",
            )
        inst = await registry(request).institution_for_token(token.strip())
        if inst is None:
            raise errors.Unauthorized("凭证无效或已吊销", "the token is invalid or revoked")
        return inst

    async def on_verify_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.VerifyError)
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 413:
            return error_response(
                errors.FileTooLarge(
                    f"请求体超过上限（{settings.max_upload_bytes // (1024 * 1024)} MB）",
                    f"the request body is larger than the limit ({settings.max_upload_bytes // (1024 * 1024)} MB)",
                )
            )
        messages = {404: ("未找到", "Not found"), 405: ("不支持此请求方法", "Method not allowed")}
        zh, en = messages.get(exc.status_code, ("请求无法处理", str(exc.detail)))
        return JSON(
            {
                "error": {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error"),
                "message": {"zh": zh, "en": en},
            },
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        reg = await registry_factory()
        app.state.registry = reg
        assert reg.dsn is not None
        view = StatusView(reg.dsn, reg.pool, max_age=settings.status_max_age)
        await view.start()
        app.state.status_view = view
        try:
            yield
        finally:
            await view.stop()
            await reg.pool.close()
            shutdown_checkers()

    upload_limit = settings.max_upload_bytes + MULTIPART_SLACK
    routes: list[BaseRoute] = [
        Route("/api/v1", index),
        Route("/healthz", healthz),
        Route("/api/v1/codes/{number:path}", check_number),
        Route("/api/v1/lookup", lookup, methods=["POST"], max_body_size=LOOKUP_BODY_LIMIT),
        Route("/api/v1/institutions/{code}", institution),
        Route("/api/v1/batches", upload_batch, methods=["POST"], max_body_size=upload_limit),
        Route("/api/v1/batches/{batch_id}", get_batch),
        Route("/api/v1/verify/{payload}", verify_api),
        Route("/.well-known/verify-keys.json", jwks),
        Route("/api/v1/certificates/{number}/qr.{fmt:str}", qr_image),
    ]
    pages = Pages(
        settings.web_dir,
        lookup_answer=lookup_answer,
        verification=verification,
        institution_view=lambda request, code: registry(request).institution_view(code),
    )
    routes += pages.routes()
    routes.append(Mount("/static", app=CachedStatic(directory=settings.web_dir / "static"), name="static"))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={errors.VerifyError: on_verify_error, HTTPException: on_http_error},
    )
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(SecurityHeaders)
    return app


class CachedStatic(StaticFiles):
    """Static files are versioned by a content hash in their URLs (?v=...), so they may be cached long."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=604800"
        return response


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidInput(
            "请求体必须是 JSON 对象", "the request body must be a JSON object"
        ) from None
    if not isinstance(body, dict):
        raise errors.InvalidInput("请求体必须是 JSON 对象", "the request body must be a JSON object")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise errors.InvalidInput(f"缺少字段 {key}", f"missing field {key}", details={"field": key})
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise errors.InvalidInput(
            f"字段 {key} 必须是不超过 200 个字符的字符串",
            f"field {key} must be a string of at most 200 characters",
        )
    return value

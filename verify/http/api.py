"""The JSON API (``/api/v1``, the JWKS, health). Views are thin: they parse the request, call a
use case of ``verify.services``, and render JSON. Personal data (names, ID numbers) is accepted
only in POST bodies and never logged."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from verify.config import Settings
from verify.crypto.signing import public_jwk, verify_signature
from verify.domain import codes, errors, payload, reference
from verify.domain.clock import today_cst
from verify.domain.verification import Verification, verify_path
from verify.http import certificate_files
from verify.http import public_schemas as P
from verify.http import schemas as S
from verify.http.errors import JSON
from verify.http.parsing import client_address, json_body, text
from verify.http.routes import Endpoint, registry
from verify.render.qr import QrCache
from verify.services.status_view import StatusView

log = logging.getLogger("verify.http")

LOOKUP_BODY_LIMIT = 4096
MULTIPART_SLACK = 1024 * 1024
QR_LINK_SECONDS = 3600


# A signature check is a pure function of (key, message, signature): re-scans of the same QR skip the
# Ed25519 verification (about 0.2 ms). Whether the key is still trusted is read from the status
# snapshot on every scan, never from here.
_signature_ok = functools.lru_cache(maxsize=8192)(verify_signature)


async def _receipt_jwks(request: Request) -> list[dict[str, Any]]:
    """The receipt keys of the JWKS (docs/RECEIPT-FORMAT.md): read when the worker starts, or on
    the first request when it started without them."""
    keys: list[dict[str, Any]] | None = getattr(request.app.state, "receipt_jwks", None)
    if keys is None:
        keys = request.app.state.receipt_jwks = (await registry(request).receipt_jwks())["keys"]
    return keys


def status_view(request: Request) -> StatusView:
    view: StatusView = request.app.state.status_view
    return view


class Api:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.images = QrCache()

    def endpoints(self) -> list[Endpoint]:
        # Body limits are the guard's (verify.http.guard), answered in the error shape. Starlette
        # tries routes in order: the busiest (QR scans, lookups) come first.
        cached = {304: P.NO_BODY}  # answers with an ETag: 304 to a matching If-None-Match
        return [
            Endpoint("GET", "/api/v1/verify/{payload}", self.verify, ("查验二维码内容", "Verify a scanned QR payload"),
                     query={"payload": P.PAYLOAD_SEGMENT}, responses={200: P.VERIFICATION}),
            Endpoint("POST", "/api/v1/lookup", self.lookup, ("按编号或证件号码与姓名查询", "Look up by number or ID, and name"),
                     body=S.LOOKUP_BODY, responses={200: P.LOOKUP_FOUND, 404: P.LOOKUP_NOT_FOUND, 422: S.ERROR, 429: S.ERROR}),
            Endpoint("GET", "/api/v1", self.index, ("接口目录", "API index"), responses={200: P.API_INDEX}),
            Endpoint("GET", "/healthz", self.healthz, ("健康检查", "Health check"),
                     responses={200: P.HEALTH_OK, 503: P.HEALTH_UNAVAILABLE}),
            Endpoint("GET", "/api/v1/openapi.json", self.openapi, ("本接口描述（OpenAPI 3.1）", "This description (OpenAPI 3.1)"),
                     responses={200: P.OPENAPI_DOCUMENT, **cached}),
            Endpoint("GET", "/api/v1/codes/{number:path}", self.check_number, ("检查证书编号或机构代码", "Check a number or code"),
                     query={"number": S.CODE_INPUT}, responses={200: P.CODE_VALID, 422: P.CODE_INVALID}),
            Endpoint("GET", "/api/v1/institutions", self.institutions, ("全部机构及状态", "Every institution and its status"),
                     responses={200: P.INSTITUTION_LIST, **cached}),
            Endpoint("GET", "/api/v1/institutions/{code}", self.institution, ("机构公开信息", "An institution's public record"),
                     query={"code": S.INSTITUTION_CODE}, responses={200: P.INSTITUTION}),
            Endpoint("GET", "/api/v1/reference", self.reference_index, ("参考表目录", "Reference tables"),
                     responses={200: P.REFERENCE_INDEX, **cached}),
            Endpoint("GET", "/api/v1/reference/{name}", self.reference_table, ("一张参考表", "One reference table"),
                     query={"name": P.REFERENCE_NAME}, responses={200: P.REFERENCE_TABLE, **cached}),
            Endpoint("GET", "/.well-known/verify-keys.json", self.jwks, ("签名公钥（JWKS）", "Signing public keys (JWKS)"),
                     responses={200: P.JWKS, **cached}, media="application/jwk-set+json"),
            Endpoint("GET", "/api/v1/certificates/{number}/qr.{fmt:str}", self.qr_image,
                     ("持证人的二维码图片（查询结果中的链接）", "The holder's QR image (links in a lookup answer)"),
                     query={"fmt": {"enum": ["png", "svg"]}, "e": P.QR_LINK_EXPIRES, "t": P.QR_LINK_TOKEN},
                     responses={200: P.BINARY, 403: S.ERROR}, media="image/png, image/svg+xml"),
        ]  # fmt: skip

    # ------------------------------------------------------------------ shared with the pages

    async def lookup_answer(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """The one lookup path for the API and the form: number+name or ID+name, throttled per client
        address and per target (rule 57). Raises RateLimited, InvalidInput (and InvalidCode / InvalidId)."""
        client = client_address(request, self.settings.trust_proxy)
        name = text(body, "name", required=True)
        if body.get("number"):
            number = codes.normalize(text(body, "number", required=True))
            answer = await registry(request).lookup_by_number(number, name, client=client)
        elif body.get("id_number"):
            answer = await registry(request).lookup_by_id(
                text(body, "id_number", required=True), name, text(body, "id_type") or "resident_id",
                client=client,
            )  # fmt: skip
        else:
            raise errors.InvalidInput(
                "请提供 number（证书编号）或 id_number（证件号码），以及 name（姓名）",
                "give number (certificate number) or id_number (ID number), and name",
            )
        return self._with_qr_links(request, answer.to_json())

    def verification(self, request: Request) -> Verification:
        view = status_view(request)
        segment = request.path_params["payload"]
        return verify_path(
            segment.removesuffix(".json"),  # the landing page's JSON twin (Base32 has no dots)
            view.snapshot,
            fresh=view.fresh(),
            check_signature=_signature_ok,
        )

    def _with_qr_links(self, request: Request, answer: dict[str, Any]) -> dict[str, Any]:
        """Successful lookups carry short-lived links to the holder's QR images."""
        if answer.get("found"):
            expires = int(time.time()) + QR_LINK_SECONDS
            for cert in answer["certificates"]:
                token = registry(request).qr_link_token(cert["number"], expires)
                base = f"/api/v1/certificates/{cert['number']}/qr"
                cert["qr"] = {fmt: f"{base}.{fmt}?e={expires}&t={token}" for fmt in ("png", "svg")}
                cert["certificate_files"] = certificate_files.link(cert["number"], expires, token)
        return answer

    # ------------------------------------------------------------------ views

    async def index(self, request: Request) -> Response:
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
                    "institutions": "GET /api/v1/institutions",
                    "verify": "GET /api/v1/verify/{payload}",
                    "keys": "GET /.well-known/verify-keys.json",
                    "reference_tables": "GET /api/v1/reference",
                    "upload_batch": "POST /api/v1/batches",
                    "batches": "GET /api/v1/batches",
                    "batch": "GET /api/v1/batches/{batch_id}",
                    "openapi": "GET /api/v1/openapi.json",
                },
                "reference_version": codes.REFERENCE_VERSION,
            }
        )

    async def openapi(self, request: Request) -> Response:
        body: bytes = request.app.state.openapi
        return _cached_bytes(request, body, "application/json", "public, max-age=300")

    async def healthz(self, request: Request) -> Response:
        view = status_view(request)
        status = {
            "as_of": view.snapshot.as_of.isoformat() if view.snapshot else None,
            "fresh": view.fresh(),
            "worker": os.getpid(),
        }
        try:
            await registry(request).ping()
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

    async def check_number(self, request: Request) -> Response:
        result = codes.check_code(request.path_params["number"], today=today_cst())
        return JSON(result.to_json(), status_code=200 if result.valid else 422)

    async def lookup(self, request: Request) -> Response:
        answer = await self.lookup_answer(request, await json_body(request))
        return JSON(
            answer, status_code=200 if answer["found"] else 404, headers={"Cache-Control": "no-store"}
        )

    async def verify(self, request: Request) -> Response:
        return JSON(self.verification(request).to_json(), headers={"Cache-Control": "no-store"})

    async def institutions(self, request: Request) -> Response:
        """Every registered institution's code, name and current status, from the status view (the
        table a verifier needs to name an issuer; the full record is at /api/v1/institutions/{code})."""
        snapshot = status_view(request).snapshot
        issuers = [] if snapshot is None else sorted(snapshot.institutions.values(), key=lambda i: i.code)
        return _cacheable(
            request,
            {
                "as_of": snapshot.as_of.isoformat() if snapshot else None,
                "institutions": [
                    {"code": i.code, "name": i.name, "status": i.status, "since": i.since.isoformat()}
                    for i in issuers
                ],
            },
            max_age=60,
        )

    async def reference_index(self, request: Request) -> Response:
        return _cacheable(
            request,
            {
                "reference_version": codes.REFERENCE_VERSION,
                "tables": {name: f"/api/v1/reference/{name}" for name in reference.PUBLISHED_TABLES},
            },
            max_age=300,
        )

    async def reference_table(self, request: Request) -> Response:
        """A versioned reference table, byte for byte: its name carries its version, so it never
        changes and may be cached for a year."""
        name = request.path_params["name"]
        try:
            body = reference.table_bytes(name)
        except KeyError:
            raise errors.NotFound(f"没有参考表 {name[:40]}", f"no reference table {name[:40]}") from None
        return _cached_bytes(request, body, "application/json", "public, max-age=31536000, immutable")

    async def jwks(self, request: Request) -> Response:
        snapshot = status_view(request).snapshot
        keys = [] if snapshot is None else [k for ks in snapshot.keys_by_kid.values() for k in ks]
        body = json.dumps(
            {"keys": [*(public_jwk(k.public_key, not_before=k.not_before, not_after=k.not_after, status=k.status)
                        for k in sorted(keys, key=lambda k: (k.not_before, k.kid))),
                      *await _receipt_jwks(request)]},
            sort_keys=True, separators=(",", ":"),
        ).encode()  # fmt: skip
        return _cached_bytes(request, body, "application/jwk-set+json", "public, max-age=300")

    async def qr_image(self, request: Request) -> Response:
        number = codes.normalize(request.path_params["number"])
        fmt = request.path_params["fmt"]
        if fmt not in ("png", "svg"):
            raise errors.NotFound("只提供 PNG 或 SVG 格式", "only .png and .svg are offered")
        certificate_files.require_link(request, number, ("二维码图片", "QR images"))
        url = payload.qr_url(self.settings.public_url, await registry(request).qr_payload(number))
        image = await asyncio.to_thread(self.images.png if fmt == "png" else self.images.svg, url)
        media = "image/png" if fmt == "png" else "image/svg+xml"
        return Response(image, media_type=media, headers={"Cache-Control": "private, max-age=3600"})

    async def institution(self, request: Request) -> Response:
        view = await registry(request).institution_view(
            request.path_params["code"].strip().upper(), channels=self.settings.channels
        )
        return JSON(view, headers={"Cache-Control": "public, max-age=60"})


def _cached_bytes(request: Request, body: bytes, media_type: str, cache_control: str) -> Response:
    """A public answer with an ETag of its bytes; 304 when the client already has them."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _cacheable(request: Request, data: dict[str, Any], *, max_age: int) -> Response:
    body = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return _cached_bytes(request, body, "application/json", f"public, max-age={max_age}")

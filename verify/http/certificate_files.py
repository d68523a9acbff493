"""The holder's printable certificate: PDF and PNG, through the QR or a lookup answer's link.

Two ways in, both capabilities the holder has: the QR's own URL (``/c/{payload}/certificate.pdf``,
the signed payload proves the certificate) and the short-lived link of a successful lookup
(``/api/v1/certificates/{number}/certificate.pdf?e=…&t=…``, the same tokens as the QR image
links). Only a certificate whose answer is ``valid`` is offered; the ID number is masked as on every
public answer (D60). On the QR's path the PDF is the signed electronic certificate when the signer
has stored one (``verify render --electronic --store``). A render is 30-250 ms of CPU, so a worker renders at most ``RENDERS`` at once,
in threads, and keeps the last ``CACHE_ITEMS`` files.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
import zipfile
from collections import OrderedDict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from verify.config import Settings
from verify.domain import codes, errors, payload
from verify.domain.accounts import Action
from verify.domain.printed import Printed
from verify.http import public_schemas as P
from verify.http import schemas as S
from verify.http.errors import JSON
from verify.http.review_api import read_upload
from verify.http.routes import Endpoint, principal_of, registry, request_id
from verify.render import certificate

RENDERS = 2
CACHE_ITEMS = 64
MEDIA = {"pdf": "application/pdf", "png": "image/png"}


def require_link(request: Request, number: str, what: tuple[str, str]) -> None:
    """Let through only a request carrying an unexpired link of a lookup answer for ``number``
    (``e`` and ``t``, ``Lookups.qr_link_token``): the holder's files are capabilities. Raises
    Forbidden naming ``what`` (zh, en)."""
    try:
        expires = int(request.query_params.get("e", "0"))
    except ValueError:
        expires = 0
    if not registry(request).qr_link_valid(number, expires, request.query_params.get("t", ""), time.time()):
        raise errors.Forbidden(
            f"{what[0]}仅通过证书查询结果中的链接提供（链接一小时内有效）",
            f"{what[1]} are offered only through the links in a lookup answer (valid for one hour)",
        )


def link(number: str, expires: int, token: str) -> dict[str, str]:
    """The lookup answer's links to the certificate files."""
    base = f"/api/v1/certificates/{number}/certificate"
    return {fmt: f"{base}.{fmt}?e={expires}&t={token}" for fmt in certificate.FORMATS}


# The photo upload takes a body as large as a batch upload (the app's body limit by path).
PHOTO_UPLOAD = re.compile(r"/api/v1/batches/[^/]{1,40}/photos")


class CertificateFiles:
    def __init__(self, settings: Settings, verification: Any) -> None:
        self.settings = settings
        self.verification = verification  # Api.verification: the QR answer of a request's payload
        self._slots = asyncio.Semaphore(RENDERS)
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def endpoints(self) -> list[Endpoint]:
        fmt = {"fmt": {"enum": list(certificate.FORMATS)}}
        return [
            Endpoint("GET", "/c/{payload}/certificate.{fmt:str}", self.by_qr,
                     ("二维码对应的电子证书（PDF/PNG）", "The certificate of a scanned QR (PDF/PNG)"),
                     query={"payload": P.PAYLOAD_SEGMENT, **fmt}, responses={200: P.BINARY, 404: S.ERROR},
                     media="application/pdf, image/png"),
            Endpoint("GET", "/api/v1/certificates/{number}/certificate.{fmt:str}", self.by_link,
                     ("持证人的电子证书（查询结果中的链接）", "The holder's certificate (links in a lookup answer)"),
                     query={**fmt, "e": P.QR_LINK_EXPIRES, "t": P.QR_LINK_TOKEN},
                     responses={200: P.BINARY, 403: S.ERROR, 404: S.ERROR}, media="application/pdf, image/png"),
            Endpoint("GET", "/api/v1/batches/{batch_id}/certificates.zip", self.print_run,
                     ("本机构已发布批次的证书打印文件（ZIP，每部分 500 张）", "Print files of an own published batch (ZIP, 500 a part)"),
                     Action.BATCH_PRINT, tag="batches", target="batch",
                     query={"batch_id": S.BATCH_ID, "part": {"type": "integer", "minimum": 0}},
                     responses={200: P.BINARY, 404: S.ERROR}, media="application/zip"),
            Endpoint("POST", "/api/v1/batches/{batch_id}/photos", self.add_photos,
                     ("上传已发布批次的持证人照片（ZIP，全部或不保存）", "Upload holder photos of an own published batch (ZIP, all or none)"),
                     Action.BATCH_UPLOAD, tag="batches", target="batch", query={"batch_id": S.BATCH_ID}, form=S.PHOTO_FORM,
                     responses={200: S.PHOTOS_RESULT, 400: S.ERROR, 404: S.ERROR, 409: S.ERROR, 413: S.ERROR}),
        ]  # fmt: skip

    async def add_photos(self, request: Request) -> Response:
        """A ZIP of photos (multipart field ``file``, or the raw body) for the institution's own
        published batch; each named by certificate or ID number, or by a photo list inside it."""
        data, filename, _, _ = await read_upload(request, self.settings.max_upload_bytes)
        result = await registry(request).add_batch_photos(
            principal_of(request), request.path_params["batch_id"], data, filename
        )
        return JSON(result)

    async def print_run(self, request: Request) -> Response:
        """The institution's print run of its own published batch: PDFs with the ID in full and the
        photos, zipped, ``PRINT_PART`` a part; a certificate that cannot be rendered is named in
        ``not-rendered.txt`` inside the archive instead of failing the others."""
        try:
            part = int(request.query_params.get("part", "0"))
        except ValueError:
            raise errors.InvalidInput("part 须为整数", "part must be an integer") from None
        pages, parts = await registry(request).print_run_part(
            principal_of(request), request.path_params["batch_id"], part, public_url=self.settings.public_url,
            channels=self.settings.channels, request_id=request_id(request),
        )  # fmt: skip
        async with self._slots:
            data = await asyncio.to_thread(_zip_of, pages)
        name = f"{request.path_params['batch_id'][:40]}-{part}.zip"
        return Response(data, media_type="application/zip", headers={
            "Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{name}"',
            "X-Parts": str(parts),
        })  # fmt: skip

    async def by_qr(self, request: Request) -> Response:
        fmt = _format(request)
        answer = self.verification(request)
        if answer.outcome != "valid" or answer.certificate is None:
            raise errors.NotFound(
                "只为查验结果为有效的证书提供电子证书",
                "a certificate file is offered only for a valid certificate",
            )
        number = str(answer.certificate["number"])
        if fmt == "pdf":
            # The electronic certificate the signer signed (PAdES) and stored for this very payload
            # (a corrected certificate's older copy is not served): web workers never hold the key.
            scanned = payload.payload_from_path(request.path_params["payload"])
            signed = await registry(request).electronic_certificate(number, scanned)
            if signed is not None:
                return _answer(signed, number, fmt)
        return await self._file(request, number, fmt)

    async def by_link(self, request: Request) -> Response:
        fmt = _format(request)
        number = codes.normalize(request.path_params["number"])
        require_link(request, number, ("电子证书", "certificate files"))
        return await self._file(request, number, fmt)

    async def _file(self, request: Request, number: str, fmt: str) -> Response:
        key = (number, fmt)
        data = self._cache.get(key)
        if data is None:
            page = await registry(request).printed_page(
                number, public_url=self.settings.public_url, channels=self.settings.channels
            )
            async with self._slots:
                try:
                    data = await asyncio.to_thread(certificate.render, page, fmt, dpi=certificate.PHONE_DPI)
                except ValueError as exc:  # a character no font has: never a box, never a 500
                    raise errors.Unavailable(
                        f"证书 {number} 暂无法生成", f"certificate {number} cannot be rendered: {exc}"
                    ) from None
            self._cache[key] = data
            while len(self._cache) > CACHE_ITEMS:
                self._cache.popitem(last=False)
        return _answer(data, number, fmt)


def _answer(data: bytes, number: str, fmt: str) -> Response:
    return Response(data, media_type=MEDIA[fmt], headers={
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": f'inline; filename="{number}.{fmt}"',
    })  # fmt: skip


def _zip_of(pages: list[Printed]) -> bytes:
    out = io.BytesIO()
    failed: list[str] = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for page in pages:
            try:
                archive.writestr(f"{page.number}.pdf", certificate.render(page, "pdf"))
            except ValueError as exc:
                failed.append(f"{page.number}\t{exc}")
        if failed:
            archive.writestr("not-rendered.txt", "\n".join(failed) + "\n")
    return out.getvalue()


def _format(request: Request) -> str:
    fmt = str(request.path_params["fmt"])
    if fmt not in certificate.FORMATS:
        raise errors.NotFound("只提供 PDF 或 PNG 格式", "only .pdf and .png are offered")
    return fmt

"""Batch verification over the API (``POST /api/v1/verify-batch``) and the recheck of a receipt
(``POST /api/v1/receipts/recheck``), for verifier and regulator accounts. The views read the upload,
call ``Registry.verify_batch`` / ``recheck`` and write the answer as JSON, CSV or XLSX; the rules
are the service's (``verify.services.batch_verification``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from verify.config import Settings
from verify.domain import errors
from verify.domain.accounts import Action
from verify.http import schemas as S
from verify.http.errors import JSON
from verify.http.routes import Endpoint, principal_of, registry, request_id
from verify.services.batch_verification import BatchAnswer, spreadsheet

FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_RECEIPT_BYTES = 16 * 1024
# Paths that take a whole file, so get the upload body limit rather than a lookup's.
UPLOAD_PATHS = frozenset({"/api/v1/verify-batch", "/api/v1/receipts/recheck", "/console/verify-batch"})

_FORMAT = {"type": "string", "enum": list(FORMATS), "default": "json"}
_UPLOAD_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": S.file_field("CSV, XLSX or JSON (docs/VERIFY-BATCH.md)"),
    },
}
_RECHECK_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file", "receipt"],
    "properties": {
        "file": S.file_field("the file the receipt covers"),
        "receipt": {"type": "string", "description": "the receipt JSON (docs/RECEIPT-FORMAT.md)"},
    },
}
_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["counts", "results", "receipt"],
    "properties": {
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "results": {"type": "array", "items": {"type": "object"}},
        "receipt": {"type": "object"},
    },
}
_RECHECK: dict[str, Any] = {
    "type": "object",
    "required": ["receipt", "rechecked", "changed_rows", "rows"],
    "properties": {
        "receipt": {"type": "object"},
        "rechecked": {"type": "object"},
        "changed_rows": {"type": "integer"},
        "rows": {"type": "array", "items": {"type": "object"}},
    },
}


class VerifyBatchApi:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("POST", "/api/v1/verify-batch", self.verify_batch,
                     ("批量查验证书（每行结论与签名回执）", "Verify a file of certificates (a verdict per row, a signed receipt)"),
                     Action.BATCH_VERIFY, tag="verification", form=_UPLOAD_FORM, query={"format": _FORMAT},
                     responses={200: _ANSWER}),
            Endpoint("POST", "/api/v1/receipts/recheck", self.recheck,
                     ("复查回执：自回执以来哪些证书状态有变", "Recheck a receipt: what changed since it was issued"),
                     Action.BATCH_VERIFY, tag="verification", form=_RECHECK_FORM, responses={200: _RECHECK}),
        ]  # fmt: skip

    async def _file(self, request: Request, *, with_receipt: bool) -> tuple[bytes, str, str, bytes | None]:
        """The uploaded file (multipart ``file``, or the raw body named by ``?filename=``), its name,
        content type and, for a recheck, the receipt. Raises BadFile."""
        max_bytes = self.settings.max_upload_bytes
        receipt: bytes | None = None
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=2, max_fields=4, max_part_size=max_bytes)
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise errors.BadFile(
                    "请在表单字段 file 中上传文件", "send the file in the multipart field 'file'"
                )
            raw = form.get("receipt")
            if isinstance(raw, UploadFile):
                receipt = await raw.read(MAX_RECEIPT_BYTES + 1)
            elif isinstance(raw, str):
                receipt = raw.encode()
            data, name, ctype = await upload.read(), upload.filename or "rows.csv", upload.content_type or ""
        else:
            data = await request.body()
            name = request.query_params.get("filename") or "rows.csv"
            ctype = request.headers.get("content-type", "")
        if with_receipt and (not receipt or len(receipt) > MAX_RECEIPT_BYTES):
            raise errors.InvalidInput(
                "请在表单字段 receipt 中附上回执（JSON，不超过 16 KB）",
                "send the receipt (JSON, at most 16 KB) in the multipart field 'receipt'",
            )
        return data, name, ctype, receipt

    async def verify_batch(self, request: Request) -> Response:
        fmt = request.query_params.get("format", "json")
        if fmt not in FORMATS:
            raise errors.InvalidInput(
                f"format 须为 {'、'.join(FORMATS)} 之一", f"format must be one of {', '.join(FORMATS)}",
                details={"field": "format"},
            )  # fmt: skip
        data, name, ctype, _ = await self._file(request, with_receipt=False)
        answer = await self.answer(request, data, name, ctype)
        return respond(answer, fmt)

    async def answer(self, request: Request, data: bytes, name: str, ctype: str = "") -> BatchAnswer:
        """The one path of the API and the console screen. Raises BadFile, FileTooLarge, RateLimited."""
        return await registry(request).verify_file(
            data, name, content_type=ctype, max_bytes=self.settings.max_upload_bytes,
            max_rows=self.settings.batch_max_rows, by=principal_of(request), request_id=request_id(request),
            view=request.app.state.status_view,
        )  # fmt: skip

    async def recheck(self, request: Request) -> Response:
        data, name, ctype, receipt = await self._file(request, with_receipt=True)
        assert receipt is not None
        report = await registry(request).recheck_file(
            data, name, receipt, content_type=ctype, max_bytes=self.settings.max_upload_bytes,
            max_rows=self.settings.batch_max_rows, by=principal_of(request), request_id=request_id(request),
            view=request.app.state.status_view,
        )  # fmt: skip
        return JSON(report)


def respond(answer: BatchAnswer, fmt: str) -> Response:
    """The answer in ``fmt``; CSV and XLSX carry the receipt in ``X-Verify-Receipt`` (base64url
    JSON) as well, and the XLSX in its 回执 sheet."""
    if fmt == "json":
        return JSON(answer.to_json())
    receipt = base64.urlsafe_b64encode(json.dumps(answer.receipt, separators=(",", ":")).encode()).decode()
    body = spreadsheet(answer, fmt)
    filename = f"verdicts-{answer.receipt['receipt_id'][:12]}.{fmt}"
    return Response(
        body, media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Verify-Receipt": receipt},
    )  # fmt: skip

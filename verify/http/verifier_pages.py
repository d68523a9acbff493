"""The pages of batch verification (rules 54-57, 60): the verifier's console screen
(``/console/verify-batch``: upload a CSV or XLSX, see every row's verdict or download the answer as a
file) and the public printable receipt (``/receipts/<id>``, and its JSON twin ``/receipts/<id>.json``).

The screen answers through ``VerifyBatchApi.answer``, the API's one path, with the signed-in
principal, so it can never do what the API would refuse. Nothing of an answer is kept for the
screen: the result page is the POST's own answer, and a download is chosen on the upload form (the
answer then comes back as that file instead of the page), so no script and no stored answer is needed.

A receipt's id is 128 random bits: knowing it is the capability to see the receipt, which holds no
row content and no personal data, only the counts, the two digests, the verifier's login and the
signature (docs/RECEIPT-FORMAT.md §1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import markupsafe
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from verify.crypto.receipts import ReceiptCheck
from verify.domain import errors
from verify.domain.accounts import Action
from verify.domain.batch_verification import VERDICTS
from verify.domain.clock import CST
from verify.domain.verdicts import FORGED_REASONS
from verify.http import i18n
from verify.http.console import PREFIX, Console
from verify.http.errors import JSON, http_status, retry_headers
from verify.http.routes import Endpoint, registry
from verify.http.verify_batch_api import FORMATS, VerifyBatchApi, respond
from verify.render.qr import QrCache
from verify.services.batch_verification import BatchAnswer

SCREEN = f"{PREFIX}/verify-batch"
SHORT = "/verify-batch"
RECEIPTS = "/receipts"
PAGE = "page"  # the upload form's choice of an answer on the page rather than a file
# The upload form's choices, in the order it offers them.
CHOICES = (PAGE, "xlsx", "csv", "json")
assert set(CHOICES) == {PAGE, *FORMATS}
# The ids this service gives (16 random bytes in hex), within what ``Registry.receipt`` looks up (at
# most 64 characters) and without a dot (``<id>.json`` is the twin); any other id is not looked up.
RECEIPT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
# The receipt's QR code: the module grid of a 25 mm code; the page's CSS gives its size on screen
# and on paper (30 mm with its quiet zone).
QR_SIZE_MM = 25.0


class VerifierPages:
    def __init__(self, console: Console, batch_api: VerifyBatchApi) -> None:
        self.console = console
        self.pages = console.pages
        self.public_url = console.settings.public_url.rstrip("/")
        self.batch_api = batch_api
        self.qr = QrCache(max_items=256)
        # The console's menu offers each screen of ``console.SCREENS`` by its GET route's access
        # (the GRANTS table); the route of this screen is here rather than in the console's table.
        console.offer_screens(self.endpoints())

    def endpoints(self) -> list[Endpoint]:
        page = "text/html"
        return [
            # public: the JSON twin first, as the page's path parameter would take ``<id>.json`` too
            Endpoint("GET", f"{RECEIPTS}/{{receipt_id}}.json", self.receipt_json,
                     ("批量查验回执（JSON）", "A batch-verification receipt (JSON)")),
            Endpoint("GET", f"{RECEIPTS}/{{receipt_id}}", self.receipt_page,
                     ("批量查验回执（可打印）", "A batch-verification receipt (printable)"), media=page),
            # verifier and regulator; /verify-batch is the short address the screen is known by
            Endpoint("GET", SHORT, self.short, ("批量查验证书", "Verify a file of certificates"),
                     Action.BATCH_VERIFY, media=page, tag="console", console=True),
            Endpoint("GET", SCREEN, self.screen, ("批量查验证书", "Verify a file of certificates"),
                     Action.BATCH_VERIFY, media=page, tag="console", console=True),
            Endpoint("POST", SCREEN, self.verify, ("批量查验证书", "Verify a file of certificates"),
                     Action.BATCH_VERIFY, media=page, tag="console", console=True),
        ]  # fmt: skip

    # ------------------------------------------------------------------ the console screen

    async def short(self, request: Request) -> Response:
        return RedirectResponse(SCREEN, status_code=303)

    async def screen(self, request: Request) -> Response:
        return self._screen(request, PAGE)

    async def verify(self, request: Request) -> Response:
        """Verify the uploaded file; the answer as the page, or as the file the form chose."""
        form = await request.form()  # already read, within the upload limits, by the console's guard
        choice = form.get("format")
        fmt = choice if isinstance(choice, str) and choice in CHOICES else PAGE
        upload = form.get("file")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise errors.BadFile(
                    "请选择要查验的文件（CSV 或 XLSX）", "choose the file to verify (CSV or XLSX)"
                )
            data = await upload.read()
            answer = await self.batch_api.answer(request, data, upload.filename, upload.content_type or "")
        except errors.VerifyError as exc:
            return self._screen(request, fmt, exc=exc)
        if fmt != PAGE:
            return respond(answer, fmt)
        return self._screen(request, fmt, answer=answer)

    def _screen(
        self,
        request: Request,
        fmt: str,
        *,
        answer: BatchAnswer | None = None,
        exc: errors.VerifyError | None = None,
    ) -> Response:
        lang = self.pages.lang(request)
        context = self.console.context(
            request, title="console_nav_verify_batch", fmt=fmt,
            choices=[(c, i18n.t(f"vb_format_{c}", lang)) for c in CHOICES],
            answer=answer_view(answer, lang) if answer is not None else None,
        )  # fmt: skip
        if exc is not None:
            context.update(self.console.failed(request, exc))
        response = self.console.render(
            request, "console/verify_batch.html", context, status=http_status(exc) if exc else 200
        )
        if exc is not None:
            response.headers.update(retry_headers(exc))
        return response

    # ------------------------------------------------------------------ the public receipt

    async def _receipt(self, request: Request) -> tuple[dict[str, Any], ReceiptCheck]:
        """The receipt the path names and its check. Raises NotFound."""
        receipt_id = str(request.path_params["receipt_id"])
        if not RECEIPT_ID.fullmatch(receipt_id):
            raise errors.NotFound("没有该回执", "no such receipt")
        return await registry(request).receipt(receipt_id)

    async def receipt_json(self, request: Request) -> Response:
        """The receipt exactly as it was signed (what docs/RECEIPT-FORMAT.md describes, and what the
        recheck takes); whether it checks against the published receipt keys is in a header."""
        receipt, check = await self._receipt(request)
        return JSON(receipt, headers={
            "Cache-Control": "no-store", "Vary": "Accept",
            "X-Verify-Receipt-Check": "valid" if check.ok else str(check.reason),
        })  # fmt: skip

    async def receipt_page(self, request: Request) -> Response:
        if "application/json" in request.headers.get("accept", ""):  # as every page's JSON twin
            return await self.receipt_json(request)
        receipt, check = await self._receipt(request)
        lang = self.pages.lang(request)
        view = receipt_view(receipt, lang)
        # the links (and the QR code) name the page asked for, whatever the stored receipt says
        view["href"] = f"{RECEIPTS}/{request.path_params['receipt_id']}"
        view["json_href"] = view["href"] + ".json"
        url = self.public_url + view["href"]
        context = self.pages.context(request, lang, view["json_href"])
        context.update(
            receipt=view,
            check_ok=check.ok,
            check_text=(
                i18n.t("receipt_signature_ok", lang)
                if check.ok
                else i18n.t("receipt_signature_bad", lang).format(reason=check.reason)
            ),
            page_url=url,
            qr_svg=self._qr_svg(url),
            other_title=i18n.t("receipt_title", "en" if lang == "zh" else "zh"),
        )
        return self.pages.render(request, "receipt.html", context, private=True)

    def _qr_svg(self, url: str) -> markupsafe.Markup:
        """The QR code of ``url`` as an inline SVG element (the render's own output: one white
        rect and one path, no text of anyone's)."""
        svg = self.qr.svg(url, size_mm=QR_SIZE_MM).decode("ascii")
        svg = svg[svg.index("<svg") :].strip()
        svg = svg.replace("<svg ", '<svg class="qr" aria-hidden="true" focusable="false" ', 1)
        return markupsafe.Markup(svg)  # noqa: S704 - our own SVG, as above


# ---------------------------------------------------------------------- view data


def receipt_view(receipt: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """What a page shows of a receipt: its fields, its time in UTC and in China, the counts per
    verdict (those with rows) with their labels, and the links to its page and its JSON. A stored
    receipt that was altered is shown as far as it reads (its check then says it is not valid)."""

    def field(name: str) -> str:
        value = receipt.get(name)
        return "" if value is None else str(value)

    try:
        issued = datetime.strptime(field("issued_at"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        utc = china = field("issued_at")
    else:
        moment = issued.astimezone(CST)
        utc = issued.strftime("%Y-%m-%d %H:%M:%S UTC")
        china = f"{i18n.format_date(moment.date(), lang)} {moment:%H:%M:%S}"
    counts = receipt.get("counts")
    receipt_id = field("receipt_id")
    return {
        "id": receipt_id,
        "issued_utc": utc,
        "issued_cst": china,
        "account": field("account"),
        "service_version": field("service_version"),
        "rows": field("rows"),
        "counts": verdict_counts(counts, lang) if isinstance(counts, Mapping) else [],
        "request_sha256": field("request_sha256"),
        "results_root": field("results_root"),
        "kid": field("kid"),
        "href": f"{RECEIPTS}/{receipt_id}",
        "json_href": f"{RECEIPTS}/{receipt_id}.json",
    }


def verdict_counts(counts: Mapping[str, int], lang: str) -> list[dict[str, Any]]:
    """The verdicts with rows, in ``VERDICTS`` order (one this version does not know is listed by
    its slug, last)."""
    known = [s for s in VERDICTS if counts.get(s)]
    unknown = [s for s in counts if s not in VERDICTS and counts[s]]
    out = []
    for slug in [*known, *unknown]:
        verdict = VERDICTS.get(slug)
        out.append({
            "slug": slug, "n": counts[slug],
            "label": verdict.label.pick(lang) if verdict else slug, "tone": verdict.tone if verdict else "info",
        })  # fmt: skip
    return out


def answer_view(answer: BatchAnswer, lang: str) -> dict[str, Any]:
    """The result page's data: the counts, the receipt, the verifier's own column headers (in the
    order the file first has them) and one table row per result."""
    own: dict[str, None] = {}
    for r in answer.results:
        for header in r.get("columns") or {}:
            own.setdefault(header, None)
    return {
        "counts": verdict_counts(answer.counts, lang),
        "total": len(answer.results),
        "total_text": i18n.t("vb_total", lang).format(rows=len(answer.results)),
        "receipt": receipt_view(answer.receipt, lang),
        "own": list(own),
        "rows": [result_row(r, list(own), lang) for r in answer.results],
    }


def result_row(r: Mapping[str, Any], own: Sequence[str], lang: str) -> dict[str, Any]:
    """One result as the table shows it: the certificate's public fields (masked as in a single
    lookup), the verdict's label and tone, the notes and the verifier's own cells."""
    verdict = VERDICTS[r["verdict"]]
    cert = r.get("certificate") or {}
    occupation = cert.get("occupation") or {}
    level = cert.get("level") or {}
    issuer = cert.get("institution") or {}
    job = cert.get("job") or ""
    occupation_text = str(occupation.get("name") or "")
    if job and job != "--" and job != occupation_text:
        occupation_text = f"{occupation_text}（{job}）" if lang == "zh" else f"{occupation_text} ({job})"
    columns = r.get("columns") or {}
    return {
        "line": r["row"],
        "slug": verdict.slug,
        "tone": verdict.tone,
        "label": verdict.label.pick(lang),
        "number": cert.get("number") or "",
        "name": cert.get("holder_name") or "",
        "id_masked": cert.get("id_masked") or "",
        "occupation": occupation_text,
        "level": level.get("name") or "",
        "issuer": issuer.get("name") or issuer.get("code") or "",
        "notes": notes(r, lang),
        "own": [str(columns.get(h, "")) for h in own],
    }


def notes(r: Mapping[str, Any], lang: str) -> list[str]:
    """The row's public facts in ``lang``: revocation, successor, issuer, why a QR is refused, the
    input's problems, what the claims got wrong, the ID's other certificates."""
    facts = r.get("facts") or {}
    out: list[str] = []
    revocation = facts.get("revocation")
    if revocation:
        text = i18n.t("vb_note_revoked", lang).format(date=revocation.get("effective") or "?")
        label = (revocation.get("category_label") or {}).get(lang)
        out.append(f"{text}（{label}）" if label and lang == "zh" else f"{text} ({label})" if label else text)
    if facts.get("superseded_by"):
        out.append(i18n.t("vb_note_superseded", lang).format(number=facts["superseded_by"]))
    notice = facts.get("issuer_notice")
    merged = facts.get("merged_into")
    if isinstance(notice, Mapping) and notice.get(lang):
        out.append(str(notice[lang]))
    elif isinstance(merged, Mapping):
        out.append(
            i18n.t("vb_note_merged", lang).format(
                name=merged.get("name") or "", code=merged.get("code") or ""
            )
        )
    reason = facts.get("reason")
    if reason and r["verdict"] == "forged":
        out.append(FORGED_REASONS[reason].pick(lang) if reason in FORGED_REASONS else str(reason))
    for p in r.get("problems") or ():
        out.append(str(p.get("message_zh" if lang == "zh" else "message_en") or p.get("code") or ""))
    for d in r.get("claim_differences") or ():
        field = (
            i18n.t(f"vb_field_{d['field']}", lang) if d["field"] in ("occupation", "level") else d["field"]
        )
        out.append(
            i18n.t("vb_note_claim", lang).format(
                field=field, claimed=d["claimed"], actual=d.get("actual") or "—"
            )
        )
    if facts.get("other_certificates"):
        out.append(i18n.t("vb_note_others", lang).format(numbers="、".join(facts["other_certificates"])))
    return out

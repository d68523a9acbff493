"""Server-rendered pages (Jinja2). Each page renders the same view data its JSON twin returns
(``Accept: application/json`` or a ``.json`` path), so the two can never disagree.

Pages work without JavaScript; scripts only enhance (as-you-type number checks, the camera
scanner) and are same-origin files, so the CSP forbids inline script and style everywhere.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from verify.domain import errors
from verify.domain.channels import DEFAULT_CHANNELS, Channels
from verify.domain.clock import CST
from verify.domain.holder_ids import IdType
from verify.domain.text import check_text
from verify.domain.verdicts import CHECK_STATES, OUTCOMES
from verify.domain.verification import Verification
from verify.http import i18n
from verify.http.errors import JSON, retry_headers
from verify.http.routes import Endpoint

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The camera page also runs the decoder in a worker and shows the camera stream. The vendored
# qr-scanner (1.4.x) starts its decoder worker from a blob: URL that its own same-origin module builds
# (web/static/vendor/qr-scanner-*/README.md); script-src stays 'self', so only our scripts can do that.
CSP_SCAN = CSP + "; worker-src 'self' blob:; media-src 'self' blob:"

LookupAnswer = Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]
Verifier = Callable[[Request], Verification]
InstitutionView = Callable[[Request, str], Awaitable[dict[str, Any]]]


def _environment(web_dir: Path, lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(web_dir / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["t"] = functools.partial(_text, lang=lang)
    env.globals["row"] = field_row
    return env


_ROW = markupsafe.Markup('<div class="row"><dt>{}</dt><dd>{}</dd></div>')


def field_row(label: str, value: object) -> markupsafe.Markup:
    """One line of a field list, ``--`` for no value, both escaped. A Python function rather than
    a jinja macro: a page has up to a dozen, and a macro call costs ~10 µs (docs/DECISIONS.md D29)."""
    return _ROW.format(label, "--" if value is None or value == "" else value)


def _text(key: str, lang: str) -> str:
    return i18n.t(key, lang)


class Pages:
    def __init__(
        self,
        web_dir: Path,
        *,
        lookup_answer: LookupAnswer,
        verification: Verifier,
        institution_view: InstitutionView,
        channels: Channels = DEFAULT_CHANNELS,
    ) -> None:
        # One environment per language, each with its own ``t`` filter: jinja folds a filter of a
        # literal at compile time, so ``'holder_name'|t`` is compiled into each language's template
        # as its text and costs nothing per request (a page has ~25 of them, docs/DECISIONS.md D29).
        # Templates never change while the service runs, so they are not checked for changes.
        self.envs = {lang: _environment(web_dir, lang) for lang in i18n.LANGS}
        self.static_dir = web_dir / "static"
        # Cache-busting version of the static files, so they can be cached for a long time.
        digest = hashlib.sha256()
        for path in sorted(self.static_dir.rglob("*")):
            if path.is_file():
                digest.update(path.name.encode() + path.read_bytes())
        self.asset_version = digest.hexdigest()[:10]
        self.lookup_answer = lookup_answer
        self.verification = verification
        self.institution_view = institution_view
        self.channels = channels  # rule 62: the configured hotline and official sites (Settings.channels)

    # ------------------------------------------------------------------ plumbing

    def endpoints(self) -> list[Endpoint]:
        # The QR landing page first: Starlette tries routes in order, and scans are most requests.
        page = "text/html"
        return [
            # The QR carries an upper-case URL (alphanumeric mode).
            Endpoint("GET", "/C/{payload}", self.landing, ("二维码落地页", "QR landing page"), media=page),
            Endpoint("GET", "/c/{payload}", self.landing, ("二维码落地页", "QR landing page"), media=page),
            Endpoint("GET", "/", self.lookup_page, ("证书查询", "Certificate lookup"), media=page),
            Endpoint("GET", "/index.json", self.lookup_page, ("证书查询（JSON）", "Certificate lookup (JSON)")),
            Endpoint("POST", "/lookup", self.lookup_submit, ("提交查询", "Submit a lookup"), media=page),
            Endpoint("GET", "/institutions/{code}", self.institution, ("机构公开信息", "An institution's record"), media=page),
            Endpoint("GET", "/scan", self.scan, ("扫码查验", "Scan a QR"), media=page),
            Endpoint("GET", "/scan.json", self.scan, ("扫码查验（JSON）", "Scan a QR (JSON)")),
        ]  # fmt: skip

    def lang(self, request: Request) -> str:
        return i18n.pick_lang(
            request.query_params.get("lang"),
            request.cookies.get("lang"),
            request.headers.get("accept-language"),
        )

    def context(self, request: Request, lang: str, json_href: str | None) -> dict[str, Any]:
        other = "en" if lang == "zh" else "zh"
        return {
            "lang": lang,
            "other_lang": other,
            "date": lambda value: i18n.format_date(value, lang),
            "switch_href": f"{request.url.path}?lang={other}",
            "json_href": json_href,
            "hotline": self.channels.hotline,
            "official": self.channels.official_sites,
            "asset_version": self.asset_version,
        }

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        status: int = 200,
        private: bool = False,
        csp: str = CSP,
    ) -> Response:
        body = self.envs[context["lang"]].get_template(template).render(**context)
        headers = {
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store" if private else "no-cache",
            "Vary": "Accept, Accept-Language, Cookie",
        }
        response = HTMLResponse(body, status_code=status, headers=headers)
        requested = request.query_params.get("lang") or (
            context["lang"] if request.method == "POST" else None
        )
        if requested in i18n.LANGS:
            response.set_cookie("lang", str(requested), max_age=365 * 86400, samesite="lax", httponly=True)
        return response

    @staticmethod
    def _wants_json(request: Request) -> bool:
        return request.url.path.endswith(".json") or "application/json" in request.headers.get("accept", "")

    @staticmethod
    def _json(
        data: dict[str, Any],
        *,
        status: int = 200,
        private: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return JSON(
            data,
            status_code=status,
            headers={
                "Cache-Control": "no-store" if private else "no-cache",
                "Vary": "Accept",
                **(headers or {}),
            },
        )

    def _error(self, request: Request, lang: str, exc: errors.VerifyError, status: int) -> Response:
        context = self.context(request, lang, None)
        context.update(
            message=exc.message_zh if lang == "zh" else exc.message_en, problems=list(exc.problems)
        )
        response = self.render(request, "error.html", context, status=status, private=True)
        response.headers.update(retry_headers(exc))
        return response

    @staticmethod
    def is_page_request(request: Request) -> bool:
        """True for a page (HTML) request; False for the API, the key set and every JSON twin."""
        path = request.url.path
        if path.startswith(("/api/", "/.well-known/", "/healthz", "/static/")):
            return False
        return not Pages._wants_json(request)

    def error_page(self, request: Request, exc: errors.VerifyError, status: int) -> Response:
        """An error as a page in the visitor's language (the API answers the same error as JSON)."""
        return self._error(request, self.lang(request), exc, status)

    # ------------------------------------------------------------------ lookup

    def _lookup_context(self, request: Request, lang: str) -> dict[str, Any]:
        context = self.context(request, lang, "/index.json")
        context["id_types"] = [(t.value, t.label_zh if lang == "zh" else t.label_en) for t in IdType]
        context["form"] = {"mode": "", "number": "", "name": "", "id_type": IdType.RESIDENT.value}
        context["problems"] = []
        return context

    async def lookup_page(self, request: Request) -> Response:
        lang = self.lang(request)
        if self._wants_json(request):
            return self._json(
                {
                    "page": "lookup",
                    "lang": lang,
                    "forms": {
                        "by_number": {"method": "POST", "action": "/lookup", "fields": ["number", "name"]},
                        "by_id": {
                            "method": "POST",
                            "action": "/lookup",
                            "fields": ["id_type", "id_number", "name"],
                        },
                    },
                    "id_types": [t.value for t in IdType],
                    "api": {"check_number": "/api/v1/codes/{number}", "lookup": "/api/v1/lookup"},
                    "hotline": self.channels.hotline,
                    "official_sites": self.channels.official_sites,
                }
            )
        return self.render(request, "lookup.html", self._lookup_context(request, lang))

    async def lookup_submit(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=10, max_part_size=2048) as form:
            fields = {
                k: check_text(str(v)[:200], k if k.isprintable() else "form")
                for k, v in form.items()
                if isinstance(v, str)
            }
        lang = fields.get("lang") if fields.get("lang") in i18n.LANGS else self.lang(request)
        assert lang is not None
        mode = "number" if fields.get("number") else "id"
        body = (
            {"number": fields.get("number", ""), "name": fields.get("name", "")}
            if mode == "number"
            else {"id_number": fields.get("id_number", ""), "id_type": fields.get("id_type", ""), "name": fields.get("name", "")}
        )  # fmt: skip
        try:
            answer = await self.lookup_answer(request, body)
        except errors.RateLimited as exc:
            if self._wants_json(request):
                return self._json(exc.to_json(), status=429, private=True, headers=retry_headers(exc))
            return self._error(request, lang, exc, 429)
        except errors.InvalidInput as exc:
            if self._wants_json(request):
                return self._json(exc.to_json(), status=422, private=True)
            context = self._lookup_context(request, lang)
            context["problems"] = list(exc.problems) or [
                errors.Problem(code=exc.reason, message_zh=exc.message_zh, message_en=exc.message_en)
            ]
            # Never echo an ID number back into the page; the number and name are the user's own input.
            context["form"] = {"mode": mode, "number": fields.get("number", ""), "name": fields.get("name", ""),
                               "id_type": fields.get("id_type") or IdType.RESIDENT.value}  # fmt: skip
            return self.render(request, "lookup.html", context, status=422, private=True)
        status = 200 if answer["found"] else 404
        if self._wants_json(request):
            return self._json(answer, status=status, private=True)
        context = self.context(request, lang, None)
        context["answer"] = answer
        context["resubmit"] = {k: v for k, v in body.items() if v}
        return self.render(request, "results.html", context, status=status, private=True)

    # ------------------------------------------------------------------ QR landing

    async def landing(self, request: Request) -> Response:
        lang = self.lang(request)
        answer = self.verification(request).to_json()
        if self._wants_json(request):
            return self._json(answer, private=True)
        # optional parts of the answer, present (as None) for the template
        answer = {"reason": None, "certificate": None, **answer}
        outcome = OUTCOMES[answer["outcome"]]
        other = "en" if lang == "zh" else "zh"
        context = self.context(request, lang, f"/c/{request.path_params['payload']}.json")
        context.update(
            answer=answer,
            tone=outcome.tone,
            icon_name=outcome.icon,
            verdict_text=outcome.headline.pick(lang),
            verdict_other=outcome.headline.pick(other),
            next_text=outcome.next_step.pick(lang),
            as_of_text=_as_of(answer.get("status_as_of"), lang),
            check_text=lambda value: CHECK_STATES.get(value, CHECK_STATES["not_checked"]).pick(lang),
        )
        return self.render(request, "landing.html", context, private=True)

    # ------------------------------------------------------------------ institutions

    async def institution(self, request: Request) -> Response:
        raw = request.path_params["code"]
        as_json = raw.endswith(".json")
        code = (raw[: -len(".json")] if as_json else raw).strip().upper()
        lang = self.lang(request)
        try:
            view = await self.institution_view(request, code)
        except errors.NotFound as exc:
            if as_json or self._wants_json(request):
                return self._json(exc.to_json(), status=404)
            return self._error(request, lang, exc, 404)
        if as_json or self._wants_json(request):
            return self._json(view)
        context = self.context(request, lang, f"/institutions/{code}.json")
        context.update(
            inst=view,
            scope_rows=_scope_rows(view["scope"], lang),
            safe_website=_safe_url(view["contact"]["website"]),
        )
        return self.render(request, "institution.html", context)

    # ------------------------------------------------------------------ camera scanner

    async def scan(self, request: Request) -> Response:
        lang = self.lang(request)
        if self._wants_json(request):
            return self._json({"page": "scan", "lang": lang, "accepts": "/c/<payload> URLs of this service"})
        return self.render(request, "scan.html", self.context(request, lang, "/scan.json"), csp=CSP_SCAN)


def _as_of(value: str | None, lang: str) -> str:
    if not value:
        return "--"
    moment = datetime.fromisoformat(value).astimezone(CST)
    clock = moment.strftime("%H:%M:%S")
    return (
        f"{i18n.format_date(moment.date(), lang)} {clock}（北京时间）"
        if lang == "zh"
        else (f"{i18n.format_date(moment.date(), lang)} {clock} (UTC+8)")
    )


def _scope_rows(scope: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """One table row per (occupation, 工种, effective date) with its levels, as filed (docs/RULES.md §6.1)."""
    grouped: dict[tuple[str, str, str, str], list[int]] = {}
    for s in scope:
        key = (s["occupation_code"], s["occupation_name"], s["job"], s["effective_from"])
        grouped.setdefault(key, [])
        if s["level"]:
            grouped[key].append(s["level"]["code"])
    rows = []
    for (code, name, job, since), levels in grouped.items():
        text = (
            "、".join(str(level) for level in sorted(levels, reverse=True))
            if levels
            else i18n.t("level_none", lang)
        )
        rows.append(
            {
                "occupation_code": code,
                "occupation_name": name,
                "job": job,
                "levels": text,
                "effective_from": since,
            }
        )
    return rows


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links are rendered as links (institution data is uploaded by others)."""
    if url and (url.startswith("https://") or url.startswith("http://")) and '"' not in url:
        return url
    return None


__all__ = ["CSP", "Pages"]

"""The console: server-rendered screens for institutions and reviewing centres (``/console``),
signed in with a session cookie, every form carrying its CSRF token, no JavaScript needed.

Views call the same use cases as the authenticated API (``verify.http.review_api``) with the
signed-in principal, so a screen can never do what the API would refuse.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from verify.config import Settings
from verify.domain import errors
from verify.domain.accounts import ROLE_LABELS, Action, Owner, Principal, authorize, jurisdiction_label
from verify.domain.batch.lifecycle import STATE_LABELS, BatchState
from verify.domain.clock import CST
from verify.domain.events import EVENT_STATUS, REASON_CATEGORIES
from verify.domain.institution import ACTIVE, STATUS_LABELS, SUSPENDED
from verify.http import auth, i18n
from verify.http.errors import http_status
from verify.http.pages import Pages
from verify.http.parsing import client_address, effective_date, text
from verify.http.review_api import PLAN_FIELDS, event_from, submit_upload
from verify.http.routes import Endpoint, principal_of, registry, request_id
from verify.services.registry import Registry

PREFIX = "/console"
# Routes whose body may be a whole batch file (the guard's body limit).
UPLOAD_PATHS = frozenset({"/api/v1/batches", f"{PREFIX}/upload"})
# The screens the home page and the menu offer, in this order. Who sees each follows from its
# route's ``access`` through ``authorize`` (the GRANTS table), so the menu never offers a screen the
# route would refuse and there is no second list of roles.
SCREENS: tuple[tuple[str, str], ...] = (
    (f"{PREFIX}/upload", "console_nav_upload"),
    (f"{PREFIX}/review", "console_nav_review"),
    (f"{PREFIX}/batches", "console_nav_batches"),
    (f"{PREFIX}/certificates/revoke", "console_nav_revoke"),
    (f"{PREFIX}/institutions", "console_nav_institutions"),
    (f"{PREFIX}/verify-batch", "console_nav_verify_batch"),  # verify.http.verifier_pages
)
# Decisions the status screen offers a reviewer or regulator (the use case refuses any other).
STATUS_CHOICES = (SUSPENDED, ACTIVE)
# The flash message after a POST is one of these words (looked up in i18n), never user input.
DONE = frozenset(
    {"uploaded", "unchanged", "withdrawn", "approved", "rejected", *EVENT_STATUS, "suspended", "resumed"}
)
ROW_REASON = re.compile(r"(?:第\s*)?([0-9]{1,7})\s*行?\s*[:：]\s*(.+)")
ROW_REASONS_MAX_CHARS = 100_000
# One batch decision of ``Review``: (registry, principal, batch id) -> the batch as decided.
Decision = Callable[[Registry, Principal, str], Awaitable[dict[str, Any]]]


class Console:
    def __init__(self, settings: Settings, pages: Pages) -> None:
        self.settings = settings
        self.pages = pages
        self._screen_access = {e.path: e.access for e in self.endpoints() if e.method == "GET"}
        self._offered: set[str] = set()

    def offer_screens(self, endpoints: list[Endpoint]) -> None:
        """Offer another module's console screens in the menu, each by its GET route's access; those
        outside /console answer errors as the console does (a sign-in form, not a 401)."""
        self._screen_access.update({e.path: e.access for e in endpoints if e.console and e.method == "GET"})
        self._offered |= {e.path for e in endpoints if e.console and not e.path.startswith(PREFIX + "/")}

    def endpoints(self) -> list[Endpoint]:
        page = "text/html"
        return [
            Endpoint("GET", f"{PREFIX}/login", self.login_page, ("登录", "Sign in"), media=page, tag="console"),
            Endpoint("POST", f"{PREFIX}/login", self.login, ("登录", "Sign in"), media=page, tag="console"),
            Endpoint("POST", f"{PREFIX}/logout", self.logout, ("退出登录", "Sign out"), Action.SELF_READ,
                     media=page, tag="console", console=True),
            Endpoint("GET", PREFIX, self.home, ("管理台首页", "Console home"), Action.SELF_READ,
                     media=page, tag="console", console=True),
            # institution
            Endpoint("GET", f"{PREFIX}/batches", self.batch_list, ("批次列表", "Batches"), Action.BATCH_LIST,
                     media=page, tag="console", console=True),
            Endpoint("GET", f"{PREFIX}/upload", self.upload_page, ("上传成绩批次", "Upload a batch"),
                     Action.BATCH_UPLOAD, media=page, tag="console", console=True),
            Endpoint("POST", f"{PREFIX}/upload", self.upload, ("上传成绩批次", "Upload a batch"),
                     Action.BATCH_UPLOAD, media=page, tag="console", console=True),
            Endpoint("GET", f"{PREFIX}/batches/{{batch_id}}", self.batch, ("批次详情", "A batch"), Action.BATCH_READ,
                     media=page, tag="console", console=True, target="batch"),
            Endpoint("POST", f"{PREFIX}/batches/{{batch_id}}/withdraw", self.withdraw, ("撤回批次", "Withdraw a batch"),
                     Action.BATCH_WITHDRAW, media=page, tag="console", console=True, target="batch"),
            # reviewer
            Endpoint("GET", f"{PREFIX}/review", self.review_queue, ("审核队列", "Review queue"), Action.BATCH_REVIEW,
                     media=page, tag="console", console=True),
            Endpoint("POST", f"{PREFIX}/batches/{{batch_id}}/approve", self.approve, ("审核通过", "Approve"),
                     Action.BATCH_REVIEW, media=page, tag="console", console=True, target="batch"),
            Endpoint("POST", f"{PREFIX}/batches/{{batch_id}}/reject", self.reject, ("驳回", "Reject"),
                     Action.BATCH_REVIEW, media=page, tag="console", console=True, target="batch"),
            Endpoint("GET", f"{PREFIX}/certificates/revoke", self.revoke_page, ("证书撤销与恢复", "Certificate events"),
                     Action.CERTIFICATE_REVOKE, media=page, tag="console", console=True),
            Endpoint("POST", f"{PREFIX}/certificates/revoke", self.revoke, ("证书撤销与恢复", "Certificate events"),
                     Action.CERTIFICATE_REVOKE, media=page, tag="console", console=True),
            # reviewer and regulator
            Endpoint("GET", f"{PREFIX}/institutions", self.institution_find, ("查找机构", "Find an institution"),
                     Action.INSTITUTION_STATUS, media=page, tag="console", console=True),
            Endpoint("GET", f"{PREFIX}/institutions/{{code}}/status", self.status_page, ("机构暂停与恢复", "Suspend or resume"),
                     Action.INSTITUTION_STATUS, media=page, tag="console", console=True, target="institution"),
            Endpoint("POST", f"{PREFIX}/institutions/{{code}}/status", self.set_status, ("机构暂停与恢复", "Suspend or resume"),
                     Action.INSTITUTION_STATUS, media=page, tag="console", console=True, target="institution"),
        ]  # fmt: skip

    def is_console(self, request: Request) -> bool:
        path = request.url.path
        return path == PREFIX or path.startswith(PREFIX + "/") or path in self._offered

    def error_page(self, request: Request, exc: errors.VerifyError, status: int) -> Response:
        """A console error: a sign-in that is missing, expired or revoked sends the browser to the
        sign-in form (saying why); anything else is an error page in the visitor's language."""
        if isinstance(exc, errors.Unauthorized) and not isinstance(exc, errors.LoginFailed):
            target = f"{PREFIX}/login?why={exc.reason}"
            if request.method == "GET" and request.url.path != f"{PREFIX}/login":
                target += "&next=" + quote(request.url.path, safe="/")
            response = RedirectResponse(target, status_code=303)
            auth.clear_session_cookie(response, secure=self._secure(request))
            return response
        return self.pages.error_page(request, exc, status)

    def _secure(self, request: Request) -> bool:
        return auth.secure_cookies(request, self.settings.public_url)

    def context(self, request: Request, **extra: Any) -> dict[str, Any]:
        """The page context of a console screen, with the signed-in account and its CSRF token."""
        lang = self.pages.lang(request)
        context = self.pages.context(request, lang, None)
        principal = getattr(request.state, "principal", None)
        if principal is not None:
            zh, en = ROLE_LABELS[principal.role]
            context["me"] = {
                "login": principal.login,
                "role": principal.role.value,
                "role_label": zh if lang == "zh" else en,
                "institution": principal.institution_code,
                "jurisdiction": jurisdiction_label(principal.jurisdiction),
                "manager": principal.manager,
            }
            context["screens"] = [
                {"href": path, "label": i18n.t(key, lang)}
                for path, key in SCREENS
                if _may(principal, self._screen_access[path])
            ]
        done = request.query_params.get("done", "")
        context["done"] = i18n.t(f"console_done_{done}", lang) if done in DONE else None
        context["csrf"] = getattr(request.state, "csrf", "")
        context["error"] = None
        context["problems"] = []
        context["when"] = lambda value: _when(value, lang)
        context.update(extra)
        return context

    def failed(self, request: Request, exc: errors.VerifyError) -> dict[str, Any]:
        """The context of a screen shown again after ``exc``: the message in the visitor's
        language and every problem (a rejected file's rows) as the API reports them."""
        lang = self.pages.lang(request)
        return {
            "error": exc.message_zh if lang == "zh" else exc.message_en,
            "problems": problem_rows(exc.problems, lang),
        }

    def render(
        self, request: Request, template: str, context: dict[str, Any], *, status: int = 200
    ) -> Response:
        return self.pages.render(request, template, context, status=status, private=True)

    # ------------------------------------------------------------------ sign-in

    async def login_page(self, request: Request, *, failed: errors.VerifyError | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        why = request.query_params.get("why", "")
        context = self.context(
            request,
            login_csrf=token,
            next=_safe_next(request.query_params.get("next", "")),
            why=why
            if why in ("credentials_expired", "credentials_revoked", "unauthorized", "signed_out")
            else "",
            failed=failed,
            login_value="",
        )
        response = self.render(request, "console/login.html", context, status=401 if failed else 200)
        response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, max_age=3600, path=f"{PREFIX}/login", httponly=True,
                            samesite="strict", secure=self._secure(request))  # fmt: skip
        return response

    async def login(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=10, max_part_size=1024) as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        # The sign-in form has no session yet: its CSRF token is a double-submit cookie.
        cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie.encode(), fields.get("csrf", "").encode()):
            raise errors.CsrfFailed()
        reg = request.app.state.registry
        try:
            session, _, principal = await reg.sign_in(
                fields.get("login", "")[:64], fields.get("password", "")[:256],
                client=client_address(request, self.settings.trust_proxy),
            )  # fmt: skip
        except (errors.LoginFailed, errors.CredentialsRevoked) as exc:
            return await self.login_page(request, failed=exc)
        response = RedirectResponse(_safe_next(fields.get("next", "")) or PREFIX, status_code=303)
        auth.set_session_cookie(response, session, secure=self._secure(request),
                                max_age=self.settings.session_hours * 3600)  # fmt: skip
        response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path=f"{PREFIX}/login")
        return response

    async def logout(self, request: Request) -> Response:
        await request.app.state.registry.sign_out(
            request.cookies.get(auth.SESSION_COOKIE, ""), principal_of(request)
        )
        response = RedirectResponse(f"{PREFIX}/login?why=signed_out", status_code=303)
        auth.clear_session_cookie(response, secure=self._secure(request))
        return response

    async def home(self, request: Request) -> Response:
        return self.render(request, "console/home.html", self.context(request))

    # ------------------------------------------------------------------ batches

    async def batch_list(self, request: Request) -> Response:
        rows = await registry(request).batch_list(principal_of(request), request_id=request_id(request))
        return self._batches(request, "console_nav_batches", rows, "console_no_batches")

    async def review_queue(self, request: Request) -> Response:
        rows = await registry(request).batch_list(
            principal_of(request), state=BatchState.SUBMITTED.value, request_id=request_id(request)
        )
        rows.sort(key=lambda b: b["submitted_at"])  # the queue: the longest waiting first
        return self._batches(request, "console_nav_review", rows, "console_queue_empty")

    def _batches(self, request: Request, title: str, rows: list[dict[str, Any]], empty: str) -> Response:
        lang = self.pages.lang(request)
        for b in rows:
            b["state_label"] = _state_label(b["state"], lang)
        context = self.context(request, title=title, batches=rows, empty=empty)
        return self.render(request, "console/batches.html", context)

    async def upload_page(self, request: Request) -> Response:
        return self._upload_screen(request, dict.fromkeys(PLAN_FIELDS, ""))

    def _upload_screen(
        self, request: Request, plan: dict[str, str], exc: errors.VerifyError | None = None
    ) -> Response:
        context = self.context(request, plan=plan, today=registry(request).today().isoformat())
        if exc is not None:
            context.update(self.failed(request, exc))
        return self.render(request, "console/upload.html", context, status=http_status(exc) if exc else 200)

    async def upload(self, request: Request) -> Response:
        try:
            result = await submit_upload(request, self.settings, principal_of(request))
        except errors.VerifyError as exc:
            fields = await _form(request)
            return self._upload_screen(request, {k: fields.get(k, "")[:64] for k in PLAN_FIELDS}, exc)
        done = "uploaded" if result["created"] else "unchanged"
        return _redirect(f"{PREFIX}/batches/{result['batch_id']}?done={done}")

    async def batch(self, request: Request) -> Response:
        return await self._batch_screen(request)

    async def _batch_screen(self, request: Request, exc: errors.VerifyError | None = None) -> Response:
        """The batch page, or after a refused decision the same page with why. A principal who may
        not see the batch at all gets that refusal instead (not found, outside the jurisdiction)."""
        principal = principal_of(request)
        b = await registry(request).batch_detail(
            principal, _batch_id(request), request_id=request_id(request)
        )
        lang = self.pages.lang(request)
        open_ = b["state"] == BatchState.SUBMITTED.value
        context = self.context(
            request, batch=b, state_label=_state_label(b["state"], lang),
            warnings=problem_rows(b["warnings"], lang),
            can_withdraw=open_ and _may(principal, Action.BATCH_WITHDRAW),
            can_review=open_ and _may(principal, Action.BATCH_REVIEW),
            switch_href=f"{PREFIX}/batches/{b['batch_id']}?lang={'en' if lang == 'zh' else 'zh'}",
        )  # fmt: skip
        if exc is not None:
            context.update(self.failed(request, exc))
        return self.render(request, "console/batch.html", context, status=http_status(exc) if exc else 200)

    async def withdraw(self, request: Request) -> Response:
        fields = await _form(request)
        return await self._decide(request, "withdrawn", lambda reg, p, bid: reg.withdraw_batch(
            p, bid, reason=text(fields, "reason", limit=500), request_id=request_id(request)))  # fmt: skip

    async def approve(self, request: Request) -> Response:
        fields = await _form(request)
        return await self._decide(request, "approved", lambda reg, p, bid: reg.approve_batch(
            p, bid, note=text(fields, "note", limit=500), request_id=request_id(request)))  # fmt: skip

    async def reject(self, request: Request) -> Response:
        fields = await _form(request)
        return await self._decide(request, "rejected", lambda reg, p, bid: reg.reject_batch(
            p, bid, reason=text(fields, "reason", limit=500),
            rows=row_reasons(text(fields, "rows", limit=ROW_REASONS_MAX_CHARS)), request_id=request_id(request)))  # fmt: skip

    async def _decide(self, request: Request, done: str, use_case: Decision) -> Response:
        """Run one batch decision; then the batch page with a flash, or the batch page with why."""
        batch_id = _batch_id(request)
        try:
            await use_case(registry(request), principal_of(request), batch_id)
        except errors.VerifyError as exc:
            return await self._batch_screen(request, exc)
        return _redirect(f"{PREFIX}/batches/{batch_id}?done={done}")

    # ------------------------------------------------------------------ certificates

    async def revoke_page(self, request: Request) -> Response:
        blank = {"number": "", "event": "revoked", "reason_category": "", "reason": "", "document_ref": "",
                 "effective": registry(request).today().isoformat(), "superseded_by": ""}  # fmt: skip
        return self._revoke_screen(request, blank)

    def _revoke_screen(
        self, request: Request, form: dict[str, str], exc: errors.VerifyError | None = None
    ) -> Response:
        lang = self.pages.lang(request)
        context = self.context(
            request, form=form, events=[(e, i18n.t(f"console_event_{e}", lang)) for e in EVENT_STATUS],
            categories=[(k, _pick(v, lang)) for k, v in REASON_CATEGORIES.items()],
        )  # fmt: skip
        if exc is not None:
            context.update(self.failed(request, exc))
        return self.render(request, "console/revoke.html", context, status=http_status(exc) if exc else 200)

    async def revoke(self, request: Request) -> Response:
        fields = await _form(request)
        principal, reg = principal_of(request), registry(request)
        try:
            number = text(fields, "number", required=True, limit=40)
            event = event_from(fields, number, principal, reg.today())
            await reg.revoke_certificate(principal, event, request_id=request_id(request))
        except errors.VerifyError as exc:
            keep = (
                "number",
                "event",
                "reason_category",
                "reason",
                "document_ref",
                "effective",
                "superseded_by",
            )
            return self._revoke_screen(request, {k: fields.get(k, "")[:500] for k in keep}, exc)
        return _redirect(f"{PREFIX}/certificates/revoke?done={event.event}")

    # ------------------------------------------------------------------ institutions

    async def institution_find(self, request: Request) -> Response:
        """Where a reviewer or regulator names the institution to act on (a GET form, no script)."""
        code = request.query_params.get("code", "").strip().upper()[:40]
        if code:
            return _redirect(f"{PREFIX}/institutions/{quote(code, safe='')}/status")
        return self.render(request, "console/institution.html", self.context(request, inst=None))

    async def status_page(self, request: Request) -> Response:
        return await self._status_screen(request)

    async def _status_screen(self, request: Request, exc: errors.VerifyError | None = None) -> Response:
        """The institution's status and history with the decision form. The record is public, but
        the screen is offered only within the principal's scope, as the decision itself is."""
        principal, reg = principal_of(request), registry(request)
        view = await reg.institution_view(_code(request))
        owner = Owner(view["code"], view["parent_code"], (view["province"] or {}).get("code"),
                      (view["city"] or {}).get("code"))  # fmt: skip
        authorize(principal, Action.INSTITUTION_STATUS, owner)
        lang = self.pages.lang(request)
        fields = await _form(request) if exc is not None else {}
        form = {"status": fields.get("status", SUSPENDED if view["status"]["code"] == ACTIVE else ACTIVE),
                "effective": fields.get("effective", reg.today().isoformat())[:10],
                "reason": fields.get("reason", "")[:500], "document_ref": fields.get("document_ref", "")[:200]}  # fmt: skip
        context = self.context(
            request, inst=view, form=form, choices=[(s, _pick(STATUS_LABELS[s], lang)) for s in STATUS_CHOICES],
            history=[{**h, "label": _pick(STATUS_LABELS.get(h["status"], (h["status"], h["status"])), lang)}
                     for h in view["status"]["history"]],
        )  # fmt: skip
        if exc is not None:
            context.update(self.failed(request, exc))
        return self.render(
            request, "console/institution.html", context, status=http_status(exc) if exc else 200
        )

    async def set_status(self, request: Request) -> Response:
        fields = await _form(request)
        principal, reg = principal_of(request), registry(request)
        code = _code(request)
        try:
            status = text(fields, "status", required=True, limit=20)
            view = await reg.set_status(
                code, status, effective=effective_date(fields, reg.today()), reason=text(fields, "reason", required=True, limit=500),
                document_ref=text(fields, "document_ref") or None, actor=principal.actor, by=principal,
                request_id=request_id(request),
            )  # fmt: skip
        except errors.VerifyError as exc:
            return await self._status_screen(request, exc)
        done = "suspended" if status == SUSPENDED else "resumed"
        return _redirect(f"{PREFIX}/institutions/{quote(view['code'], safe='')}/status?done={done}")


def _may(principal: Principal, action: Action | None) -> bool:
    """Whether the principal's role may take ``action`` at all (the route guard's own decision)."""
    if action is None:
        return True
    try:
        authorize(principal, action)
    except errors.Forbidden:
        return False
    return True


def _redirect(target: str) -> Response:
    return RedirectResponse(target, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    """The text fields of the form (already read, within its limits, by the console's guard)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _batch_id(request: Request) -> str:
    return str(request.path_params["batch_id"])[:40]


def _code(request: Request) -> str:
    return str(request.path_params["code"]).strip().upper()[:40]


def row_reasons(value: str) -> list[dict[str, Any]]:
    """Per-row reasons typed one a line as ``行号: 理由`` (``第3行：…`` and full-width colons too),
    as the reject use case takes them. Raises InvalidInput naming the first line that does not read."""
    rows: list[dict[str, Any]] = []
    for n, raw in enumerate(value.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        match = ROW_REASON.fullmatch(line)
        if match is None:
            raise errors.InvalidInput(
                f"逐行理由第 {n} 行须写成“行号: 理由”，如“3: 证件号码有误”",
                f"line {n} of the row reasons must read 'row number: reason', e.g. '3: wrong ID number'",
                details={"field": "rows", "index": n},
            )
        rows.append({"line": int(match.group(1)), "reason": match.group(2).strip()})
    return rows


def problem_rows(items: Any, lang: str) -> list[dict[str, Any]]:
    """Problems (of an error) or stored warnings as table rows: line, column, code and the message in
    ``lang``, the fields the API reports for each."""
    out = []
    for item in items:
        p = item if isinstance(item, dict) else item.to_json()
        out.append({"line": p.get("line"), "column": p.get("column"), "code": p.get("code"),
                    "message": p.get("message_zh") if lang == "zh" else p.get("message_en")})  # fmt: skip
    return out


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def _state_label(state: str, lang: str) -> str:
    return _pick(STATE_LABELS[BatchState(state)], lang)


def _when(value: str | None, lang: str) -> str:
    """A stored moment (ISO) as the date and time in China Standard Time."""
    if not value:
        return "--"
    moment = datetime.fromisoformat(value).astimezone(CST)
    return f"{i18n.format_date(moment.date(), lang)} {moment:%H:%M}"


def _safe_next(value: str) -> str:
    """Only a console path of this site (never ``//host`` or a scheme) is followed after sign-in."""
    if value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value and ":" not in value:
        return value[:200]
    return ""

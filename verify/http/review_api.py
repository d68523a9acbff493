"""The authenticated API: batches and their review, certificate events, institution status,
accounts (``/api/v1/...`` with ``Authorization: Bearer <token>``). Views parse, call one use case
of ``verify.services`` with the caller's principal, and answer JSON; every rule and scope check is
the use case's."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from verify.config import Settings
from verify.domain import errors
from verify.domain.accounts import Action, Principal
from verify.domain.batch.plan import parse_plan
from verify.domain.corrections import MAX_PRINT_SERIAL, REISSUE, ChangeRequest
from verify.domain.events import (
    SCOPE_BATCH,
    SCOPE_CERTIFICATES,
    SCOPE_ISSUED_BETWEEN,
    CertificateEvent,
    Decision,
    Scope,
)
from verify.http import public_schemas as P
from verify.http import schemas as S
from verify.http.errors import JSON
from verify.http.parsing import effective_date, json_body, text
from verify.http.routes import Endpoint, principal_of, registry, request_id

PLAN_FIELDS = ("plan_ref", "plan_filed_on", "assessed_on", "supervision_report_on")
MAX_LOGIN = 64  # verify.domain.accounts.LOGIN_PATTERN


async def read_upload(
    request: Request, max_bytes: int
) -> tuple[bytes, str, dict[str, str], tuple[bytes, str] | None]:
    """The batch file, its name, the plan fields and the roster file of an upload: multipart
    (``file``, optional ``roster``, plan fields) or the raw file as the body (plan fields in the
    query). Raises BadFile."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=20, max_part_size=max_bytes)
        upload, roster = form.get("file"), form.get("roster")
        if not isinstance(upload, UploadFile):
            raise errors.BadFile(
                "请在表单字段 file 中上传文件", "send the file in the multipart field 'file'"
            )
        fields = {k: v for k, v in form.items() if isinstance(v, str) and k in PLAN_FIELDS}
        roster_file = None
        if isinstance(roster, UploadFile) and roster.filename:
            roster_file = (await roster.read(), roster.filename)
        return await upload.read(), upload.filename or "batch", fields, roster_file
    name = request.query_params.get("filename") or request.headers.get("x-filename") or "batch.csv"
    fields = {k: request.query_params[k] for k in PLAN_FIELDS if k in request.query_params}
    return await request.body(), name, fields, None


async def submit_upload(request: Request, settings: Settings, principal: Principal) -> dict[str, Any]:
    """The one upload path of the API and the console. Raises what ``import_batch`` raises and
    InvalidInput (plan fields)."""
    reg = registry(request)
    data, filename, fields, roster = await read_upload(request, settings.max_upload_bytes)
    plan = parse_plan(fields, today=reg.today()) if any(v.strip() for v in fields.values()) else None
    assert principal.institution_code is not None
    result = await reg.import_batch(
        principal.institution_code, data, filename, actor=principal.actor, max_bytes=settings.max_upload_bytes,
        plan=plan, roster=roster, account_id=principal.account_id, role=principal.role.value,
        request_id=request_id(request),
    )  # fmt: skip
    return {**result.to_json(), "created": result.created}


def event_from(body: dict[str, Any], number: str, principal: Principal, today: date) -> CertificateEvent:
    """A certificate event from a request body. Raises InvalidInput."""
    effective = effective_date(body, today)
    return CertificateEvent(
        number=number, event=text(body, "event") or "revoked", effective=effective,
        reason_category=text(body, "reason_category", required=True), reason=text(body, "reason", required=True, limit=500),
        decided_by=text(body, "decided_by") or principal.actor, document_ref=text(body, "document_ref") or None,
        served=text(body, "served") or None, superseded_by=text(body, "superseded_by") or None,
    )  # fmt: skip


def _code(request: Request) -> str:
    return str(request.path_params["code"]).strip().upper()


def _choice(body: dict[str, Any], key: str, default: str | None) -> str | None:
    """An optional enumerated field: ``default`` when absent, else the text given (an empty
    string is a value, which the use case refuses). Raises InvalidInput."""
    if key not in body:
        return default
    value = body[key]
    if not isinstance(value, str):
        raise errors.InvalidInput(f"字段 {key} 须为文字", f"{key} must be a string", details={"field": key})
    return text(body, key, limit=20) if value else value


def _date(body: dict[str, Any], key: str, default: date | None) -> date | None:
    """An optional date field: ``default`` when absent, else a YYYY-MM-DD date. Raises InvalidInput."""
    if key not in body:
        return default
    value = body[key]
    if not isinstance(value, str) or len(value) != 10:
        raise errors.InvalidInput(
            f"{key} 须为 YYYY-MM-DD 格式的日期", f"{key} is a date, YYYY-MM-DD", details={"field": key}
        )
    return effective_date(body, date.min, key)


class ReviewApi:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def endpoints(self) -> list[Endpoint]:
        batch = {"batch_id": S.BATCH_ID}
        return [
            Endpoint("GET", "/api/v1/me", self.me, ("当前账户", "The calling account"), Action.SELF_READ,
                     tag="accounts", responses={200: S.ACCOUNT}),
            Endpoint("POST", "/api/v1/batches", self.upload_batch, ("上传成绩批次（提交审核）", "Upload a result batch (submitted for review)"),
                     Action.BATCH_UPLOAD, tag="batches", form=S.UPLOAD_FORM, responses={201: S.IMPORT_RESULT, 200: S.IMPORT_RESULT}),
            Endpoint("GET", "/api/v1/batches", self.list_batches, ("可见的批次（审核队列）", "Batches in scope (the review queue)"),
                     Action.BATCH_LIST, tag="batches", query={"state": S.BATCH_STATE_FILTER}, responses={200: S.BATCH_LIST}),
            Endpoint("GET", "/api/v1/batches/{batch_id}", self.get_batch, ("批次详情与全部提示", "A batch with every warning"),
                     Action.BATCH_READ, tag="batches", target="batch", query=batch, responses={200: S.BATCH}),
            Endpoint("POST", "/api/v1/batches/{batch_id}/withdraw", self.withdraw, ("撤回待审核批次", "Withdraw a batch awaiting review"),
                     Action.BATCH_WITHDRAW, tag="batches", target="batch", body=S.REASON_BODY, responses={200: S.BATCH}),
            Endpoint("POST", "/api/v1/batches/{batch_id}/approve", self.approve, ("审核通过（之后由签名进程发布）", "Approve (the signer then publishes)"),
                     Action.BATCH_REVIEW, tag="review", target="batch", body=S.NOTE_BODY, responses={200: S.BATCH}),
            Endpoint("POST", "/api/v1/batches/{batch_id}/reject", self.reject, ("驳回（整批或逐行理由）", "Reject, with reasons for the batch or per row"),
                     Action.BATCH_REVIEW, tag="review", target="batch", body=S.REJECT_BODY, responses={200: S.BATCH}),
            Endpoint("POST", "/api/v1/certificates/{number}/events", self.certificate_event,
                     ("撤销、注销或恢复一张证书", "Revoke, supersede or reinstate one certificate"),
                     Action.CERTIFICATE_REVOKE, tag="review", target="certificate", body=S.EVENT_BODY, responses={200: S.EVENT_RESULT}),
            Endpoint("POST", "/api/v1/certificates/{number}/requests", self.request_change,
                     ("申请更正或补发一张证书", "Ask to correct or re-issue a certificate"),
                     Action.CERTIFICATE_REQUEST, tag="review", target="certificate", body=S.CHANGE_REQUEST_BODY,
                     responses={201: S.CHANGE_REQUEST_RESULT}),
            Endpoint("GET", "/api/v1/certificates/{number}/requests", self.certificate_requests,
                     ("证书的更正与补发申请", "A certificate's correction and re-issue requests"),
                     Action.BATCH_READ, tag="review", target="certificate", responses={200: S.CHANGE_REQUESTS}),
            Endpoint("POST", "/api/v1/certificates/{number}/requests/decision", self.decide_request,
                     ("审核证书的更正或补发申请", "Approve or reject a certificate's open request"),
                     Action.CERTIFICATE_REQUEST_REVIEW, tag="review", target="certificate",
                     body=S.REQUEST_DECISION_BODY, responses={200: S.CHANGE_REQUEST_RESULT}),
            Endpoint("POST", "/api/v1/batches/{batch_id}/revocation", self.revoke_batch,
                     ("撤销已发布批次的全部或部分证书", "Revoke all or part of a published batch"),
                     Action.CERTIFICATE_REVOKE, tag="review", target="batch", query=batch, body=S.BATCH_REVOCATION_BODY,
                     responses={200: S.DECISION_RESULT}),
            Endpoint("POST", "/api/v1/institutions/{code}/revocation", self.revoke_issued_between,
                     ("撤销机构在某一发证日期范围内的全部证书", "Revoke what an institution issued in a date range"),
                     Action.CERTIFICATE_REVOKE, tag="review", target="institution", body=S.RANGE_REVOCATION_BODY,
                     responses={200: S.DECISION_RESULT}),
            Endpoint("POST", "/api/v1/institutions/{code}/status", self.institution_status,
                     ("暂停或恢复机构评价活动", "Suspend or resume an institution"),
                     Action.INSTITUTION_STATUS, tag="review", target="institution", body=S.STATUS_BODY, responses={200: P.INSTITUTION}),
            Endpoint("POST", "/api/v1/institutions/{code}/records", self.institution_record,
                     ("记录警告或诚信不良档案（公开）", "Record a warning or bad-credit entry (public)"),
                     Action.INSTITUTION_RECORD, tag="review", target="institution", body=S.RECORD_BODY, responses={200: P.INSTITUTION}),
            Endpoint("POST", "/api/v1/institutions/{code}/grades", self.institution_grade,
                     ("记录鉴定机构年度质量等级", "Record an appraisal institution's quality grade for a year"),
                     Action.INSTITUTION_RECORD, tag="review", target="institution", body=S.GRADE_BODY, responses={200: P.INSTITUTION}),
            Endpoint("POST", "/api/v1/institutions/{code}/termination", self.institution_termination,
                     ("终止备案（代码列入废置库）", "Terminate a filing (the code is retired)"),
                     Action.INSTITUTION_REGISTRY, tag="registry", target="institution", body=S.TERMINATION_BODY, responses={200: P.INSTITUTION}),
            Endpoint("POST", "/api/v1/institutions/{code}/merger", self.institution_merger,
                     ("机构合并：并入本机构，或合并设立本机构", "A merger into this institution, or into it as a new one"),
                     Action.INSTITUTION_REGISTRY, tag="registry", target="institution", body=S.MERGER_BODY, responses={200: P.INSTITUTION}),
            Endpoint("POST", "/api/v1/institutions/{code}/aliases", self.institution_alias,
                     ("登记曾用代码（别名）", "Record an earlier code (alias)"),
                     Action.INSTITUTION_REGISTRY, tag="registry", target="institution", body=S.ALIAS_BODY, responses={200: P.INSTITUTION}),
            Endpoint("POST", "/api/v1/institutions/{code}/aliases/withdraw", self.institution_alias_withdraw,
                     ("撤回误登的别名（保留记录）", "Withdraw an alias recorded by mistake (kept as history)"),
                     Action.INSTITUTION_REGISTRY, tag="registry", target="institution", body=S.ALIAS_WITHDRAW_BODY,
                     responses={200: P.INSTITUTION}),
            Endpoint("GET", "/api/v1/accounts", self.list_accounts, ("账户列表", "Accounts"), Action.ACCOUNT_READ,
                     tag="accounts", responses={200: {"type": "array", "items": S.ACCOUNT}}),
            Endpoint("POST", "/api/v1/accounts", self.add_account, ("创建账户（机构管理员：本机构子账号）", "Create an account (a manager: a staff sub-account)"),
                     Action.ACCOUNT_MANAGE, tag="accounts", body=S.ACCOUNT_BODY, responses={201: S.ACCOUNT}),
            Endpoint("POST", "/api/v1/accounts/{login}/disable", self.disable_account, ("停用账户（立即生效）", "Disable an account (at once)"),
                     Action.ACCOUNT_MANAGE, tag="accounts", target="account", query={"login": S.LOGIN}, body=S.DISABLE_BODY,
                     responses={200: S.ACCOUNT}),
        ]  # fmt: skip

    async def me(self, request: Request) -> Response:
        return JSON(await registry(request).account_of(principal_of(request)))

    async def upload_batch(self, request: Request) -> Response:
        result = await submit_upload(request, self.settings, principal_of(request))
        created = result.pop("created")
        return JSON(result, status_code=201 if created else 200)

    async def list_batches(self, request: Request) -> Response:
        state = request.query_params.get("state") or None
        rows = await registry(request).batch_list(
            principal_of(request), state=state, request_id=request_id(request)
        )
        return JSON({"batches": rows})

    async def get_batch(self, request: Request) -> Response:
        b = await registry(request).batch_detail(
            principal_of(request), request.path_params["batch_id"], request_id=request_id(request)
        )
        return JSON(b)

    async def withdraw(self, request: Request) -> Response:
        body = await json_body(request)
        return JSON(
            await registry(request).withdraw_batch(
                principal_of(request),
                request.path_params["batch_id"],
                reason=text(body, "reason", limit=500),
                request_id=request_id(request),
            )  # fmt: skip
        )

    async def approve(self, request: Request) -> Response:
        body = await json_body(request)
        return JSON(
            await registry(request).approve_batch(
                principal_of(request),
                request.path_params["batch_id"],
                note=text(body, "note", limit=500),
                request_id=request_id(request),
            )  # fmt: skip
        )

    async def reject(self, request: Request) -> Response:
        body = await json_body(request)
        rows = body.get("rows") or []
        if not isinstance(rows, list):
            raise errors.InvalidInput("rows 须为数组", "rows must be an array", details={"field": "rows"})
        return JSON(
            await registry(request).reject_batch(
                principal_of(request),
                request.path_params["batch_id"],
                reason=text(body, "reason", limit=500),
                rows=rows,
                request_id=request_id(request),
            )  # fmt: skip
        )

    async def certificate_event(self, request: Request) -> Response:
        principal = principal_of(request)
        reg = registry(request)
        event = event_from(await json_body(request), request.path_params["number"], principal, reg.today())
        return JSON(await reg.revoke_certificate(principal, event, request_id=request_id(request)))

    async def request_change(self, request: Request) -> Response:
        body = await json_body(request)
        changes = body.get("changes") or {}
        if not isinstance(changes, dict) or not all(isinstance(v, str) for v in changes.values()):
            raise errors.InvalidInput("changes 须为字段到文本的对象", "changes must map fields to texts",
                                      details={"field": "changes"})  # fmt: skip
        kind = text(body, "kind", required=True)
        if kind == REISSUE:
            changes = {"print_serial": text(body, "print_serial", limit=MAX_PRINT_SERIAL)}
        change = ChangeRequest(request.path_params["number"], kind, text(body, "reason", required=True, limit=500),
                               changes)  # fmt: skip
        result = await registry(request).request_change(
            principal_of(request), change, request_id=request_id(request)
        )
        return JSON(result, status_code=201)

    async def certificate_requests(self, request: Request) -> Response:
        return JSON(
            await registry(request).certificate_requests(
                principal_of(request), request.path_params["number"], request_id=request_id(request)
            )
        )

    async def decide_request(self, request: Request) -> Response:
        body = await json_body(request)
        approve = body.get("approve")
        if not isinstance(approve, bool):
            raise errors.InvalidInput("approve 须为 true 或 false", "approve must be true or false",
                                      details={"field": "approve"})  # fmt: skip
        return JSON(
            await registry(request).decide_request(
                principal_of(request),
                request.path_params["number"],
                approve=approve,
                note=text(body, "note", limit=500),
                request_id=request_id(request),
            )  # fmt: skip
        )

    async def revoke_batch(self, request: Request) -> Response:
        body = await json_body(request)
        numbers = body.get("numbers") or []
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
            raise errors.InvalidInput("numbers 须为字符串数组", "numbers must be an array of strings",
                                      details={"field": "numbers"})  # fmt: skip
        batch = request.path_params["batch_id"]
        scope = (
            Scope(SCOPE_CERTIFICATES, tuple(numbers), batch=batch)
            if numbers
            else Scope(SCOPE_BATCH, batch=batch)
        )
        return await self._decide(request, body, scope)

    async def revoke_issued_between(self, request: Request) -> Response:
        body = await json_body(request)
        today = registry(request).today()
        scope = Scope(
            SCOPE_ISSUED_BETWEEN, institution=request.path_params["code"].strip().upper(),
            issued_from=effective_date(body, today, "issued_from"), issued_to=effective_date(body, today, "issued_to"),
        )  # fmt: skip
        return await self._decide(request, body, scope)

    async def _decide(self, request: Request, body: dict[str, Any], scope: Scope) -> Response:
        principal = principal_of(request)
        reg = registry(request)
        decision = Decision(
            scope, effective_date(body, reg.today()), text(body, "reason_category", required=True),
            text(body, "reason", required=True, limit=500), text(body, "decided_by") or principal.actor,
            text(body, "document_ref") or None, text(body, "served") or None,
        )  # fmt: skip
        return JSON(
            await reg.decide(decision, actor=principal.actor, by=principal, request_id=request_id(request))
        )

    async def institution_status(self, request: Request) -> Response:
        body = await json_body(request)
        principal = principal_of(request)
        reg = registry(request)
        effective = effective_date(body, reg.today())
        view = await reg.set_status(
            request.path_params["code"].strip().upper(), text(body, "status", required=True), effective=effective,
            reason=text(body, "reason", required=True, limit=500), document_ref=text(body, "document_ref") or None,
            actor=principal.actor, by=principal, request_id=request_id(request),
        )  # fmt: skip
        return await self._institution(request, view)

    # The institution lifecycle (rules 40-53): each answers the institution's public record, with
    # the configured hotline and official sites (rule 62).

    async def _institution(self, request: Request, view: dict[str, Any]) -> Response:
        return JSON(await registry(request).institution_view(view["code"], channels=self.settings.channels))

    async def institution_record(self, request: Request) -> Response:
        body = await json_body(request)
        principal, reg = principal_of(request), registry(request)
        view = await reg.record_credit_entry(
            _code(request), _choice(body, "kind", "warning") or "",
            effective=_date(body, "effective", reg.today()) or reg.today(),
            article=text(body, "article", required=True), summary=text(body, "summary", required=True, limit=500),
            decided_by=text(body, "decided_by", required=True), document_ref=text(body, "document_ref") or None,
            facts=text(body, "facts", limit=2000) or None,
            rectify_by=_date(body, "rectify_by", None),
            actor=principal.actor, by=principal, request_id=request_id(request),
        )  # fmt: skip
        return await self._institution(request, view)

    async def institution_grade(self, request: Request) -> Response:
        body = await json_body(request)
        principal, reg = principal_of(request), registry(request)
        year = body.get("year")
        if isinstance(year, bool) or not isinstance(year, int):
            raise errors.InvalidInput(
                "year 须为整数年份", "year must be an integer year", details={"field": "year"}
            )
        view = await reg.record_quality_grade(
            _code(request), year=year, grade=text(body, "grade", required=True, limit=20),
            decided_on=_date(body, "decided_on", reg.today()) or reg.today(),
            document_ref=text(body, "document_ref", required=True), decided_by=text(body, "decided_by", required=True),
            actor=principal.actor, by=principal, request_id=request_id(request),
        )  # fmt: skip
        return await self._institution(request, view)

    async def institution_termination(self, request: Request) -> Response:
        body = await json_body(request)
        principal, reg = principal_of(request), registry(request)
        view = await reg.set_status(
            _code(request), "terminated", effective=_date(body, "effective", reg.today()) or reg.today(),
            reason=text(body, "reason", required=True, limit=500), document_ref=text(body, "document_ref") or None,
            actor=principal.actor, by=principal, request_id=request_id(request),
        )  # fmt: skip
        return await self._institution(request, view)

    async def institution_merger(self, request: Request) -> Response:
        body = await json_body(request)
        principal, reg = principal_of(request), registry(request)
        parties = body.get("institutions")
        if not isinstance(parties, list) or not all(isinstance(c, str) and len(c) <= 40 for c in parties):
            raise errors.InvalidInput("institutions 须为机构代码数组", "institutions must be an array of codes",
                                      details={"field": "institutions"})  # fmt: skip
        new = body.get("new_institution")
        if new is not None and not isinstance(new, dict):
            raise errors.InvalidInput("new_institution 须为对象", "new_institution must be an object",
                                      details={"field": "new_institution"})  # fmt: skip
        view = await reg.merge_institutions(
            _code(request), parties, form=_choice(body, "form", None), new_institution=new,
            effective=_date(body, "effective", reg.today()) or reg.today(), reason=text(body, "reason", required=True, limit=500),
            document_ref=text(body, "document_ref") or None, actor=principal.actor, by=principal,
            request_id=request_id(request),
        )  # fmt: skip
        return await self._institution(request, view)

    async def institution_alias(self, request: Request) -> Response:
        body = await json_body(request)
        principal = principal_of(request)
        view = await registry(request).add_institution_alias(
            _code(request), text(body, "alias", required=True, limit=40), note=text(body, "note") or None,
            actor=principal.actor, by=principal, request_id=request_id(request),
        )  # fmt: skip
        return await self._institution(request, view)

    async def institution_alias_withdraw(self, request: Request) -> Response:
        body = await json_body(request)
        principal = principal_of(request)
        view = await registry(request).withdraw_institution_alias(
            _code(request), text(body, "alias", required=True, limit=40),
            reason=text(body, "reason", required=True, limit=500), actor=principal.actor, by=principal,
            request_id=request_id(request),
        )  # fmt: skip
        return await self._institution(request, view)

    async def list_accounts(self, request: Request) -> Response:
        principal = principal_of(request)
        return JSON(await registry(request).account_list(by=principal, actor=principal.actor))

    async def add_account(self, request: Request) -> Response:
        body = await json_body(request)
        principal = principal_of(request)
        row = await registry(request).add_account(
            text(body, "login", required=True), text(body, "role", required=True),
            display_name=text(body, "display_name", required=True), institution_code=text(body, "institution") or None,
            jurisdiction=text(body, "jurisdiction") or None, manager=body.get("manager") is True,
            password=text(body, "password", limit=256) or None, by=principal, actor=principal.actor,
        )  # fmt: skip
        return JSON(row, status_code=201)

    async def disable_account(self, request: Request) -> Response:
        body = await json_body(request)
        principal = principal_of(request)
        login = request.path_params["login"]
        if len(login) > MAX_LOGIN:
            # No login is longer; cutting it would disable the account its first characters name.
            raise errors.NotFound("未找到账号", "no such account", details={"field": "login"})
        row = await registry(request).disable_account(
            login, reason=text(body, "reason", required=True, limit=500), by=principal, actor=principal.actor,
        )  # fmt: skip
        return JSON(row)

"""Institution registry use cases: the public record and filing (``InstitutionRecords``) and the
decisions about an institution: status decisions, mergers, credit records, quality grades,
aliases. A mixin of ``verify.services.registry.Registry``.

Every decision has an effective date that may lie ahead: it is recorded at once, shown on the
public page as scheduled ("自 YYYY-MM-DD 起暂停评价活动"), and takes effect on its day
(``verify.db.institutions.apply_due_statuses``, ``verify.domain.institution.in_force``). A
termination or merger is final (rule 40): the code is retired and nothing re-activates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from verify.db import audit, institutions
from verify.db.pool import transaction
from verify.domain import codes
from verify.domain.accounts import Action, Principal, audit_role, authorize
from verify.domain.errors import Conflict, InvalidInput, RoleNotAllowed
from verify.domain.institution import (
    ABSORPTION,
    ACTIVE,
    GRADED_KINDS,
    MERGED,
    MERGER_FORMS,
    NEW_ENTITY,
    QUALITY_GRADES,
    RECORD_KINDS,
    STATUS_LABELS,
    SUSPENDED,
    TERMINATED,
)
from verify.domain.text import check_text
from verify.services.institution_record import InstitutionRecords, locked, refuse_after_final

MAX_MERGER_PARTIES = 50  # more than any merger the documents imagine; bounds one request's work
MAX_ALIAS = 40


class InstitutionAdmin(InstitutionRecords):
    # ------------------------------------------------------------------ status decisions

    async def set_status(
        self,
        institution_code: str,
        status: str,
        *,
        effective: date,
        reason: str,
        document_ref: str | None,
        actor: str,
        merged_into: str | None = None,
        by: Principal | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a status decision with its history, in force from ``effective`` (which may be
        ahead: it then applies from that day). Certificates already issued are untouched (rule 38);
        new uploads are refused while not active, and rows dated inside a suspension or after a
        termination always (rule 39). A termination or merger (an absorption into ``merged_into``,
        rule 41) retires the code into the 废置库 for good: no decision follows it (rule 40).
        Reviewers (in their jurisdiction) and regulators may only suspend and resume; an admin
        terminates and merges; the operator (``by=None``) may record any decision. Returns the
        institution's view. Raises NotFound, InvalidInput, RoleNotAllowed, OutsideJurisdiction,
        InstitutionRetired."""
        if by is not None:
            action = (
                Action.INSTITUTION_STATUS if status in (SUSPENDED, ACTIVE) else Action.INSTITUTION_REGISTRY
            )
            try:
                authorize(by, action, await institutions.owner_of(self.pool, institution_code))
            except RoleNotAllowed as exc:
                raise RoleNotAllowed(
                    "审核与监管账号只能暂停或恢复机构的评价活动；终止备案与合并由管理员（或命令行运维）记录",
                    "reviewers and regulators may only suspend or resume; an admin (or the operator) records"
                    " terminations and mergers",
                    details=exc.details,
                ) from None
        if status not in STATUS_LABELS:
            raise InvalidInput(
                f"状态必须是 {', '.join(STATUS_LABELS)} 之一",
                f"status must be one of {', '.join(STATUS_LABELS)}",
                details={"field": "status"},
            )
        reason = _required(
            reason, "reason", 500, "必须写明决定的理由或条款", "a reason (article, facts) is required"
        )
        inst = await institutions.get_institution(self.pool, institution_code)
        if status == MERGED:
            if not merged_into:
                raise InvalidInput(
                    "合并须指明并入的机构",
                    "a merger must name the absorbing institution",
                    details={"field": "into"},
                )
            await self.merge_institutions(
                merged_into, [inst.code], form=ABSORPTION, effective=effective, reason=reason,
                document_ref=document_ref, actor=actor, by=by, request_id=request_id,
            )  # fmt: skip
            return await self.institution_view(inst.code)
        async with transaction(self.pool) as conn:
            inst = await locked(conn, inst)
            await refuse_after_final(conn, inst)
            await institutions.set_institution_status(
                conn, inst.id, status, effective, reason=reason, document_ref=document_ref, decided_by=actor,
                today=self.today(),
            )  # fmt: skip
            if status == TERMINATED:
                await institutions.retire_code(conn, inst.id, inst.code, effective, reason)
            await audit.audit(conn, actor, "institution.status", inst.code,
                              {"status": status, "effective": effective.isoformat(), "reason": reason,
                               "document_ref": document_ref, "merged_into": None},
                              role=audit_role(by), request_id=request_id, reason=reason)  # fmt: skip
        return await self.institution_view(inst.code)

    async def merge_institutions(
        self,
        into_code: str,
        institution_codes: Sequence[str],
        *,
        form: str | None = None,
        new_institution: dict[str, Any] | None = None,
        effective: date,
        reason: str,
        document_ref: str | None,
        actor: str,
        by: Principal | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Record one merger (rule 41) of ``institution_codes`` into ``into_code``, in force from
        ``effective``: an absorption (并入: the absorbing institution keeps its code) or a merger
        into a new institution (合并新设: ``new_institution`` files it first, in the same
        transaction, with a new code; at least two institutions merge). Every merged institution's
        code is retired for good (rule 40); its certificates stay valid (rule 38) and its page names
        the institution it merged into. Returns the absorbing or new institution's view. Raises
        InvalidInput, InvalidCode, NotFound, Conflict, InstitutionRetired, RoleNotAllowed."""
        if by is not None:
            authorize(by, Action.INSTITUTION_REGISTRY)
        form = form or (NEW_ENTITY if new_institution is not None else ABSORPTION)
        if form not in MERGER_FORMS:
            raise InvalidInput(
                f"合并形式须为 {', '.join(MERGER_FORMS)} 之一", f"form must be one of {', '.join(MERGER_FORMS)}",
                details={"field": "form"},
            )  # fmt: skip
        if form == ABSORPTION and new_institution is not None:
            raise InvalidInput(
                "并入时吸收方保留原代码，无需新登记；合并设立新机构时 form 为 new_entity",
                "in an absorption the absorbing institution keeps its code; a new institution is form new_entity",
                details={"field": "form"},
            )
        reason = _required(
            reason, "reason", 500, "必须写明决定的理由或条款", "a reason (article, facts) is required"
        )
        sources = list(dict.fromkeys(codes.normalize(c) for c in institution_codes))
        if not sources or len(sources) > MAX_MERGER_PARTIES or len(sources) != len(institution_codes):
            raise InvalidInput(
                f"须列出 1-{MAX_MERGER_PARTIES} 个互不相同的被合并机构",
                f"list 1 to {MAX_MERGER_PARTIES} distinct institutions to merge",
                details={"field": "institutions"},
            )
        if form == NEW_ENTITY and len(sources) < 2:
            raise InvalidInput(
                "合并设立新机构须有两个及以上机构参与；单个机构并入他机构为 absorption",
                "a merger into a new institution takes at least two institutions; one joining another is absorption",
                details={"field": "institutions", "rule": 41},
            )
        role = audit_role(by)
        async with transaction(self.pool) as conn:
            into = codes.normalize(into_code)
            if new_institution is not None:
                into = await self._register(
                    conn, {**new_institution, "code": into}, actor=actor, role=role, request_id=request_id
                )
            target = await institutions.get_institution(conn, into)
            parties = [await institutions.get_institution(conn, code) for code in sources]
            if any(p.id == target.id for p in parties):
                raise InvalidInput(
                    "机构不能并入自身",
                    "an institution cannot merge into itself",
                    details={"field": "institutions"},
                )
            if len({p.id for p in parties}) != len(parties):
                raise InvalidInput(
                    "被合并机构重复（别名或废置代码指向同一机构）",
                    "an institution is listed twice (an alias or retired code names the same one)",
                    details={"field": "institutions"},
                )
            # One lock order for every merger, so two at once cannot deadlock.
            held = {i.id: await locked(conn, i) for i in sorted([target, *parties], key=lambda i: i.id)}
            for inst in held.values():
                await refuse_after_final(conn, inst)
            target = held[target.id]
            merger = await institutions.insert_merger(
                conn, form, target.id, effective, reason=reason, document_ref=document_ref, decided_by=actor
            )
            merged = [held[p.id] for p in parties]
            for inst in merged:
                await institutions.set_institution_status(
                    conn, inst.id, MERGED, effective, reason=reason, document_ref=document_ref, decided_by=actor,
                    merged_into=target.code, merger_id=merger, today=self.today(),
                )  # fmt: skip
                await institutions.retire_code(conn, inst.id, inst.code, effective, reason)
                await audit.audit(conn, actor, "institution.status", inst.code,
                                  {"status": MERGED, "effective": effective.isoformat(), "reason": reason,
                                   "document_ref": document_ref, "merged_into": target.code, "form": form},
                                  role=role, request_id=request_id, reason=reason)  # fmt: skip
            await audit.audit(conn, actor, "institution.merger", target.code,
                              {"form": form, "institutions": [i.code for i in merged],
                               "effective": effective.isoformat(), "document_ref": document_ref},
                              role=role, request_id=request_id, reason=reason)  # fmt: skip
        return await self.institution_view(target.code)

    # ------------------------------------------------------------------ credit records and grades

    async def record_credit_entry(
        self,
        institution_code: str,
        kind: str,
        *,
        effective: date,
        article: str,
        summary: str,
        decided_by: str,
        document_ref: str | None = None,
        facts: str | None = None,
        rectify_by: date | None = None,
        actor: str,
        by: Principal | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a warning (警告) or an entry in the 诚信不良档案 in the institution's public record
        (rules 49, 51; 人社职司便函〔2021〕57号 附件2 第十三条): in force from ``effective``, with the
        article, a public summary, the deciding body and the document; ``facts`` stay internal. The
        status is not changed (a suspension is its own decision). Never deleted. Reviewers (in their
        jurisdiction), regulators and the operator. Raises NotFound, InvalidInput, RoleNotAllowed,
        OutsideJurisdiction."""
        if by is not None:
            authorize(by, Action.INSTITUTION_RECORD, await institutions.owner_of(self.pool, institution_code))
        if kind not in RECORD_KINDS:
            raise InvalidInput(
                f"记录类型须为 {', '.join(RECORD_KINDS)} 之一", f"kind must be one of {', '.join(RECORD_KINDS)}",
                details={"field": "kind"},
            )  # fmt: skip
        record: dict[str, Any] = {
            "kind": kind,
            "effective": effective,
            "article": _required(
                article, "article", 200, "必须写明依据的条款", "the article applied is required"
            ),
            "summary": _required(
                summary, "summary", 500, "必须写明公开的决定摘要", "a public summary is required"
            ),
            "decided_by": _required(
                decided_by, "decided_by", 200, "必须写明作出决定的单位", "the deciding body is required"
            ),
            "document_ref": _optional(document_ref, "document_ref", 200),
            "facts": _optional(facts, "facts", 2000),
            "rectify_by": rectify_by,
        }
        if rectify_by is not None and rectify_by < effective:
            raise InvalidInput(
                "整改期限不能早于决定生效日期", "the rectification deadline cannot precede the decision",
                details={"field": "rectify_by"},
            )  # fmt: skip
        inst = await institutions.get_institution(self.pool, institution_code)
        async with transaction(self.pool) as conn:
            await institutions.insert_record(conn, inst.id, record, recorded_by=actor)
            await audit.audit(conn, actor, "institution.record", inst.code,
                              {"kind": kind, "effective": effective.isoformat(), "article": record["article"],
                               "document_ref": record["document_ref"], "decided_by": record["decided_by"]},
                              role=audit_role(by), request_id=request_id, reason=record["summary"])  # fmt: skip
        return await self.institution_view(inst.code)

    async def record_quality_grade(
        self,
        institution_code: str,
        *,
        year: int,
        grade: str,
        decided_on: date,
        document_ref: str,
        decided_by: str,
        actor: str,
        by: Principal | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a 鉴定机构's quality grade for an assessment year (rule 53; 豫人社规〔2020〕1号
        第三十条): ``grade`` is excellent | good | basic | unqualified or its Chinese name. A
        regrading of a year is a new record and the year's grade from then on. 不合格 does not
        terminate the filing by itself: that is its own decision. Raises NotFound, InvalidInput,
        RoleNotAllowed, OutsideJurisdiction."""
        if by is not None:
            authorize(by, Action.INSTITUTION_RECORD, await institutions.owner_of(self.pool, institution_code))
        inst = await institutions.get_institution(self.pool, institution_code)
        if inst.kind not in GRADED_KINDS:
            raise InvalidInput(
                "质量等级只评定职业技能考核鉴定机构", "only skills appraisal institutions (鉴定机构) are graded",
                details={"field": "grade", "rule": 53},
            )  # fmt: skip
        key = next((k for k, (zh, _) in QUALITY_GRADES.items() if grade in (k, zh)), None)
        if key is None:
            raise InvalidInput(
                f"质量等级须为 {', '.join(QUALITY_GRADES)}（优秀、良好、基本合格、不合格）之一",
                f"grade must be one of {', '.join(QUALITY_GRADES)}",
                details={"field": "grade", "rule": 53},
            )
        if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= self.today().year:
            raise InvalidInput(
                f"评定年度须为 2000-{self.today().year} 之间的年份", f"year must be 2000 to {self.today().year}",
                details={"field": "year"},
            )  # fmt: skip
        if decided_on.year < year:
            raise InvalidInput(
                "评定日期不能早于评定年度",
                "the grade cannot be decided before its year",
                details={"field": "decided_on"},
            )
        row = {
            "year": year,
            "grade": key,
            "decided_on": decided_on,
            "document_ref": _required(
                document_ref,
                "document_ref",
                200,
                "必须写明评定文件的文号",
                "the grading document is required",
            ),
            "decided_by": _required(
                decided_by, "decided_by", 200, "必须写明评定单位", "the grading body is required"
            ),
        }
        async with transaction(self.pool) as conn:
            await institutions.insert_grade(conn, inst.id, row, recorded_by=actor)
            await audit.audit(conn, actor, "institution.grade", inst.code,
                              {"year": year, "grade": key, "decided_on": decided_on.isoformat(),
                               "document_ref": row["document_ref"], "decided_by": row["decided_by"]},
                              role=audit_role(by), request_id=request_id)  # fmt: skip
        return await self.institution_view(inst.code)

    # ------------------------------------------------------------------ aliases

    async def add_institution_alias(
        self,
        institution_code: str,
        alias: str,
        *,
        note: str | None,
        actor: str,
        by: Principal | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Keep an earlier code (原鉴定所（站）代码, an earlier institution code) as an alias that
        resolves to the institution (rule 52). Adding an alias it already has changes nothing.
        Raises NotFound, InvalidInput, Conflict (another institution's alias, a withdrawn alias, or
        a code in use or retired), RoleNotAllowed."""
        if by is not None:
            authorize(by, Action.INSTITUTION_REGISTRY)
        value = _alias(alias)
        note = _optional(note, "note", 200)
        inst = await institutions.get_institution(self.pool, institution_code)
        async with transaction(self.pool) as conn:
            inst = await locked(conn, inst)
            existing = await institutions.alias_record(conn, value)
            if existing is not None:
                if existing["institution_id"] == inst.id and existing["withdrawn_on"] is None:
                    return await self.institution_view(inst.code)
                raise Conflict(
                    f"别名 {value} 已有记录（机构 {existing['code']}"
                    + ("，已撤回" if existing["withdrawn_on"] else "") + "），别名作为历史保留，不能重复登记",
                    f"alias {value} is already recorded (institution {existing['code']}"
                    + (", withdrawn" if existing["withdrawn_on"] else "") + "); aliases are history and never reused",
                    details={"field": "alias", "rule": 52},
                )  # fmt: skip
            if await institutions.code_in_use(conn, value):
                raise Conflict(
                    f"{value} 是现行或废置的机构代码，不能作为别名",
                    f"{value} is an institution code in use or retired; it cannot be an alias",
                    details={"field": "alias", "rule": 52},
                )
            if not await institutions.add_alias(
                conn, inst.id, value, note, added_on=self.today(), added_by=actor
            ):
                raise Conflict(
                    f"别名 {value} 已有记录", f"alias {value} is already recorded", details={"field": "alias"}
                )
            await audit.audit(conn, actor, "institution.alias_add", inst.code, {"alias": value, "note": note},
                              role=audit_role(by), request_id=request_id)  # fmt: skip
        return await self.institution_view(inst.code)

    async def withdraw_institution_alias(
        self,
        institution_code: str,
        alias: str,
        *,
        reason: str,
        actor: str,
        by: Principal | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Withdraw an alias recorded by mistake: it stops resolving and showing, and stays in the
        registry as history (aliases are never deleted, rule 52). Raises NotFound, InvalidInput (not
        an alias in use of this institution), RoleNotAllowed."""
        if by is not None:
            authorize(by, Action.INSTITUTION_REGISTRY)
        value = _alias(alias)
        reason = _required(reason, "reason", 500, "必须写明撤回的理由", "a reason is required")
        inst = await institutions.get_institution(self.pool, institution_code)
        async with transaction(self.pool) as conn:
            if not await institutions.withdraw_alias(conn, inst.id, value, self.today(), reason):
                raise InvalidInput(
                    f"{value} 不是机构 {inst.code} 在用的别名", f"{value} is not an alias in use of {inst.code}",
                    details={"field": "alias", "rule": 52},
                )  # fmt: skip
            await audit.audit(conn, actor, "institution.alias_withdraw", inst.code, {"alias": value},
                              role=audit_role(by), request_id=request_id, reason=reason)  # fmt: skip
        return await self.institution_view(inst.code)


def _alias(raw: str) -> str:
    value = codes.normalize(check_text(raw or "", "alias"))
    if not value or len(value) > MAX_ALIAS:
        raise InvalidInput(
            f"别名须为 1-{MAX_ALIAS} 个字符",
            f"an alias has 1 to {MAX_ALIAS} characters",
            details={"field": "alias"},
        )
    return value


def _required(value: str | None, field: str, limit: int, zh: str, en: str) -> str:
    text = _optional(value, field, limit)
    if not text:
        raise InvalidInput(zh, en, details={"field": field})
    return text


def _optional(value: str | None, field: str, limit: int) -> str | None:
    text = check_text((value or "").strip(), field)
    if len(text) > limit:
        raise InvalidInput(
            f"字段 {field} 不能超过 {limit} 个字符",
            f"{field} has at most {limit} characters",
            details={"field": field},
        )
    return text or None

"""Institution registry use cases: the public institution record and its administration
(filing, scope additions, status decisions, mergers, upload tokens). A mixin of
``verify.services.registry.Registry``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from verify.db import audit, institutions
from verify.db.pool import Pool, transaction
from verify.domain import codes
from verify.domain.accounts import Action, Principal, audit_role, authorize
from verify.domain.batch.cells import normalize_job
from verify.domain.certificate import level_json
from verify.domain.channels import NATIONAL_HOTLINE, OFFICIAL_SITES
from verify.domain.errors import InvalidCode, InvalidInput, Problem, RoleNotAllowed
from verify.domain.institution import (
    ACTIVE,
    KIND_LABELS,
    MERGED,
    SPECIAL_ASSESSOR,
    STATUS_LABELS,
    SUSPENDED,
    TERMINATED,
    Scope,
)


class InstitutionAdmin:
    pool: Pool
    today: Callable[[], date]

    # ------------------------------------------------------------------ institutions

    async def institution_view(self, code: str) -> dict[str, Any]:
        """Public institution record (rule 50). Raises NotFound."""
        inst = await institutions.get_institution(self.pool, code)
        scopes = await institutions.institution_scopes(self.pool, inst.id)
        history = await institutions.institution_history(self.pool, inst.id)
        retired = await institutions.retired_codes_of(self.pool, inst.id)
        aliases = await institutions.aliases_of(self.pool, inst.id)
        r = inst.record
        kind_zh, kind_en = KIND_LABELS.get(inst.kind, (inst.kind, inst.kind))
        status_zh, status_en = STATUS_LABELS[inst.status]
        looked_up_retired = any(x["code"] == code for x in retired)
        return {
            "code": inst.code,
            "requested_code": code,
            "requested_code_retired": looked_up_retired,
            "name": inst.name,
            "short_name": r["short_name"],
            "kind": {"code": inst.kind, "zh": kind_zh, "en": kind_en},
            "filing": {
                "number": r["filing_number"],
                "authority": r["filing_authority"],
                "date": _iso(r["filing_date"]),
                "expires": _iso(r["filing_expires"]),
            },
            "province": _named(r["province_code"], codes.NUMBER_PROVINCES),
            "city": _named(r["city_code"], codes.HENAN_CITIES) if r["province_code"] == "41" else None,
            "parent_code": r["parent_code"],
            "contact": {
                "address": r["address"],
                "phone": r["phone"],
                "email": r["email"],
                "website": r["website"],
            },
            "status": {
                "code": inst.status,
                "zh": status_zh,
                "en": status_en,
                "since": _iso(inst.status_since),
                "merged_into": r["merged_into"],
                "history": [
                    {
                        "status": h["status"],
                        "effective": _iso(h["effective"]),
                        "reason": h["reason"],
                        "document_ref": h["document_ref"],
                    }
                    for h in history
                ],
            },
            "scope": [
                {
                    "occupation_code": s.occupation_code,
                    "occupation_name": s.occupation_name,
                    "job": s.job,
                    "level": level_json(s.level),
                    "standard": s.standard,
                    "effective_from": _iso(s.effective_from),
                    "effective_to": _iso(s.effective_to),
                }
                for s in scopes
            ],
            "retired_codes": [
                {"code": x["code"], "retired_on": _iso(x["retired_on"]), "reason": x["reason"]}
                for x in retired
            ],
            "aliases": [{"code": a["alias"], "note": a["note"]} for a in aliases],
            "complaint_channel": {
                "institution": r["complaint_channel"],
                "national_hotline": NATIONAL_HOTLINE,
                "official_sites": OFFICIAL_SITES,
            },
        }

    # ------------------------------------------------------------------ registry administration

    async def register_institution(self, fields: dict[str, Any], *, actor: str) -> dict[str, Any]:
        """File a new institution. The code must be a valid 13-character Y/S key or an 8-digit 专项
        考核机构 code (rule 12). Raises InvalidCode, InvalidInput, Conflict (code taken or retired, rule 40)."""
        code = codes.normalize(str(fields.get("code", "")))
        kind = str(fields.get("kind", ""))
        if kind not in KIND_LABELS:
            raise InvalidInput(
                f"机构类型必须是 {', '.join(KIND_LABELS)} 之一",
                f"kind must be one of {', '.join(KIND_LABELS)}",
            )
        if kind == SPECIAL_ASSESSOR:
            check = codes.check_code(code, today=self.today())
            if not check.valid or check.kind is not codes.CodeKind.SPECIAL_ASSESSOR:
                raise InvalidCode(
                    problems=check.problems
                    or _wrong_kind(code, "8 位专项考核机构代码", "an 8-digit 专项 code")
                )
            province, city = "41", None
        else:
            parts = codes.institution_key_parts(code)
            province = parts["province"]["code"]
            city = parts.get("city", {}).get("code") if isinstance(parts.get("city"), dict) else None
            # 技工院校 file as Y for their own students and S for the public (豫职鉴〔2021〕1号, 豫人社办函〔2021〕155号), so only
            # employers and social organisations have a fixed letter.
            letter = {"employer": "Y", "social": "S"}.get(kind)
            if letter and code[0] != letter:
                raise InvalidCode(
                    problems=_wrong_kind(
                        code, f"该类机构代码以 {letter} 开头", f"codes of this kind start with {letter}"
                    )
                )
        if not str(fields.get("name", "")).strip():
            raise InvalidInput("机构名称不能为空", "the institution name is required")
        record = {**fields, "code": code, "kind": kind, "province_code": fields.get("province_code") or province,
                  "city_code": fields.get("city_code") or city}  # fmt: skip
        record.setdefault("filing_authority", "city")
        async with transaction(self.pool) as conn:
            await institutions.insert_institution(conn, record)
            await audit.audit(
                conn, actor, "institution.register", code, {"kind": kind, "name": record["name"]}
            )
        return await self.institution_view(code)

    async def add_scope(
        self,
        institution_code: str,
        *,
        occupation_code: str,
        occupation_name: str,
        job: str,
        levels: list[int | None],
        effective_from: date,
        standard: str = "国家职业技能标准",
        actor: str,
    ) -> dict[str, Any]:
        """File scope rows (增量备案, rule 42): one per level, in force from ``effective_from``.
        Raises NotFound, InvalidInput."""
        inst = await institutions.get_institution(self.pool, institution_code)
        if not occupation_name.strip():
            raise InvalidInput("职业名称不能为空", "the occupation name is required")
        if any(level is not None and not 1 <= level <= 5 for level in levels):
            raise InvalidInput("等级必须是 1-5", "levels must be 1 to 5")
        if (inst.kind == SPECIAL_ASSESSOR) != (levels == [None]):
            raise InvalidInput(
                "专项考核机构的范围不分等级；其他机构的范围必须列出等级",
                "a 专项 scope has no level; other scopes must list their levels",
            )
        rows = [
            Scope(occupation_code.strip(), occupation_name.strip(), normalize_job(job), level, effective_from,
                  None, standard)
            for level in levels
        ]  # fmt: skip
        async with transaction(self.pool) as conn:
            await institutions.add_scopes(conn, inst.id, rows)
            await audit.audit(conn, actor, "institution.scope_add", inst.code,
                              {"occupation": occupation_code, "job": job, "levels": levels,
                               "from": effective_from.isoformat()})  # fmt: skip
        return await self.institution_view(inst.code)

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
        termination always (rule 39). A merger retires the code into the 废置库 (rules 40-41).
        Reviewers (in their jurisdiction) and regulators may only suspend and resume; the operator
        may record any decision. Raises NotFound, InvalidInput, RoleNotAllowed, OutsideJurisdiction."""
        if by is not None:
            authorize(by, Action.INSTITUTION_STATUS, await institutions.owner_of(self.pool, institution_code))
            if status not in (SUSPENDED, ACTIVE):
                raise RoleNotAllowed(
                    "审核与监管账号只能暂停或恢复机构的评价活动",
                    "reviewers and regulators may only suspend or resume",
                )
        if status not in STATUS_LABELS:
            raise InvalidInput(
                f"状态必须是 {', '.join(STATUS_LABELS)} 之一",
                f"status must be one of {', '.join(STATUS_LABELS)}",
            )
        if not reason.strip():
            raise InvalidInput("必须写明决定的理由或条款", "a reason (article, facts) is required")
        inst = await institutions.get_institution(self.pool, institution_code)
        target = None
        if status == MERGED:
            if not merged_into:
                raise InvalidInput("合并须指明并入的机构", "a merger must name the absorbing institution")
            target = await institutions.get_institution(self.pool, merged_into)
            if target.id == inst.id:
                raise InvalidInput("机构不能并入自身", "an institution cannot merge into itself")
        async with transaction(self.pool) as conn:
            await institutions.set_institution_status(
                conn, inst.id, status, effective, reason=reason, document_ref=document_ref, decided_by=actor,
                merged_into=target.code if target else None, today=self.today(),
            )  # fmt: skip
            if status in (MERGED, TERMINATED):
                await institutions.retire_code(conn, inst.id, inst.code, effective, reason)
            await audit.audit(conn, actor, "institution.status", inst.code,
                              {"status": status, "effective": effective.isoformat(), "reason": reason,
                               "document_ref": document_ref, "merged_into": target.code if target else None},
                              role=audit_role(by), request_id=request_id, reason=reason)  # fmt: skip
        return await self.institution_view(inst.code)


def _wrong_kind(code: str, zh: str, en: str) -> list[Problem]:
    return [Problem(code="wrong_kind", message_zh=zh, message_en=en, position=1, found=code[:1])]


def _named(code: str | None, table: Any) -> dict[str, Any] | None:
    return None if not code else {"code": code, "name": table.get(code, code)}


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()

"""The institution's public record and its filing: the view every page, answer and command
shows (rules 49-53), filing an institution or a 站点 (rules 12, 49, 50), and scope additions
(rule 42). The base of ``verify.services.institutions.InstitutionAdmin``, which adds the decisions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from verify.db import audit, institutions
from verify.db.pool import Conn, Pool, transaction
from verify.domain import codes, occupations
from verify.domain.accounts import Action, Principal, audit_role, authorize
from verify.domain.batch.cells import normalize_job
from verify.domain.certificate import level_json
from verify.domain.channels import DEFAULT_CHANNELS, Channels
from verify.domain.errors import InstitutionRetired, InvalidCode, InvalidInput, NotFound, Problem
from verify.domain.institution import (
    FILING_AUTHORITY_LABELS,
    FINAL_STATUSES,
    KIND_LABELS,
    MERGER_FORMS,
    QUALITY_GRADES,
    RECORD_KINDS,
    SPECIAL_ASSESSOR,
    STATUS_LABELS,
    Institution,
    Scope,
    StatusChange,
    filing_record,
    final_decision,
    in_force,
    scheduled_notice,
    site_code_problems,
)


class InstitutionRecords:
    pool: Pool
    today: Callable[[], date]

    # ------------------------------------------------------------------ the public record

    async def institution_view(self, code: str, *, channels: Channels = DEFAULT_CHANNELS) -> dict[str, Any]:
        """Public institution record (rules 49-53): the filing, status with its history and the
        decisions scheduled ahead, 站点 and parent, mergers, credit records, quality grades, scope,
        retired codes, aliases, and ``channels`` (the configured hotline and official sites).
        ``code`` may be a retired code or an alias. Raises NotFound."""
        requested = codes.normalize(code)
        inst = await institutions.get_institution(self.pool, requested)
        today = self.today()
        scopes = await institutions.institution_scopes(self.pool, inst.id)
        history = await institutions.institution_history(self.pool, inst.id)
        retired = await institutions.retired_codes_of(self.pool, inst.id)
        aliases = await institutions.aliases_of(self.pool, inst.id)
        sites = await institutions.sites_of(self.pool, inst.code)
        mergers = await institutions.mergers_of(self.pool, inst.id)
        records = await institutions.records_of(self.pool, inst.id)
        grades = await institutions.grades_of(self.pool, inst.id)
        r = inst.record
        parent_name = await institutions.name_of(self.pool, r["parent_code"]) if r["parent_code"] else None
        into_name = await institutions.name_of(self.pool, r["merged_into"]) if r["merged_into"] else None
        # The status in force today by the decisions' dates (the stored one follows within the
        # signer's poll, apply_due_statuses); an institution without decisions has its filed one.
        current = in_force([StatusChange(h["status"], h["effective"]) for h in history], today)
        status, since = (current.status, current.effective) if current else (inst.status, inst.status_since)
        kind_zh, kind_en = KIND_LABELS.get(inst.kind, (inst.kind, inst.kind))
        status_zh, status_en = STATUS_LABELS[status]
        authority = FILING_AUTHORITY_LABELS.get(r["filing_authority"])
        into = f"{into_name or ''} {r['merged_into']}".strip() if r["merged_into"] else None
        return {
            "code": inst.code,
            "requested_code": requested,
            "requested_code_retired": any(
                x["code"] == requested and x["retired_on"] <= today for x in retired
            ),
            "name": inst.name,
            "short_name": r["short_name"],
            "kind": {"code": inst.kind, "zh": kind_zh, "en": kind_en},
            "filing": {
                "number": r["filing_number"],
                "authority": r["filing_authority"],
                "authority_label": _label(authority),
                "date": _iso(r["filing_date"]),
                "expires": _iso(r["filing_expires"]),
            },
            "province": _named(r["province_code"], codes.NUMBER_PROVINCES),
            "city": _named(r["city_code"], codes.HENAN_CITIES) if r["province_code"] == "41" else None,
            "parent_code": r["parent_code"],
            "parent": {"code": r["parent_code"], "name": parent_name} if r["parent_code"] else None,
            "sites": [
                {
                    "code": s["code"],
                    "name": s["name"],
                    "status": _status(s["status"]),
                    "since": _iso(s["status_since"]),
                }
                for s in sites
            ],
            "contact": {
                "address": r["address"],
                "phone": r["phone"],
                "email": r["email"],
                "website": r["website"],
            },
            "status": {
                "code": status,
                "zh": status_zh,
                "en": status_en,
                "since": _iso(since),
                "merged_into": r["merged_into"],
                "merged_into_name": into_name,
                "history": [
                    {
                        "status": h["status"],
                        "label": _label(STATUS_LABELS.get(h["status"])),
                        "effective": _iso(h["effective"]),
                        "scheduled": h["effective"] > today,
                        "reason": h["reason"],
                        "document_ref": h["document_ref"],
                    }
                    for h in history
                ],
                "scheduled": [
                    {
                        "status": h["status"],
                        "effective": _iso(h["effective"]),
                        "notice": scheduled_notice(StatusChange(h["status"], h["effective"]), into),
                    }
                    for h in history
                    if h["effective"] > today
                ],
            },
            "mergers": [
                {
                    "form": m["form"],
                    "form_label": _label(MERGER_FORMS.get(m["form"])),
                    "into": {"code": m["into_code"], "name": m["into_name"]},
                    "institutions": m["parties"],
                    "effective": _iso(m["effective"]),
                    "scheduled": m["effective"] > today,
                    "document_ref": m["document_ref"],
                }
                for m in mergers
            ],
            "credit_records": [
                {
                    "kind": x["kind"],
                    "label": _label(RECORD_KINDS.get(x["kind"])),
                    "effective": _iso(x["effective"]),
                    "scheduled": x["effective"] > today,
                    "article": x["article"],
                    "summary": x["summary"],
                    "document_ref": x["document_ref"],
                    "decided_by": x["decided_by"],
                    "rectify_by": _iso(x["rectify_by"]),
                }
                for x in records
            ],
            "quality_grades": [
                {
                    "year": g["year"],
                    "grade": g["grade"],
                    "label": _label(QUALITY_GRADES.get(g["grade"])),
                    "decided_on": _iso(g["decided_on"]),
                    "document_ref": g["document_ref"],
                    "decided_by": g["decided_by"],
                }
                for g in grades
            ],
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
                "national_hotline": channels.hotline,
                "official_sites": channels.official_sites,
            },
        }

    # ------------------------------------------------------------------ filing

    async def register_institution(
        self,
        fields: dict[str, Any],
        *,
        actor: str,
        by: Principal | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """File a new institution (rule 49), or a 站点 of one (``parent_code``, rule 50). The code
        must be a valid 13-character Y/S key or an 8-digit 专项 考核机构 code (rule 12); a 站点's
        key shares its institution's positions 1-5. Raises InvalidCode, InvalidInput, NotFound (no
        such parent), InstitutionRetired (the parent's filing ended), Conflict (code taken or
        retired, rule 40), RoleNotAllowed."""
        if by is not None:
            authorize(by, Action.INSTITUTION_REGISTRY)
        async with transaction(self.pool) as conn:
            code = await self._register(conn, fields, actor=actor, role=audit_role(by), request_id=request_id)
        return await self.institution_view(code)

    async def _register(
        self, conn: Conn, fields: dict[str, Any], *, actor: str, role: str, request_id: str | None
    ) -> str:
        code = codes.normalize(str(fields.get("code", "")))
        kind = str(fields.get("kind", ""))
        if kind not in KIND_LABELS:
            raise InvalidInput(
                f"机构类型必须是 {', '.join(KIND_LABELS)} 之一",
                f"kind must be one of {', '.join(KIND_LABELS)}",
                details={"field": "kind"},
            )
        record = filing_record(fields)
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
        if record.get("parent_code"):
            record["parent_code"] = await self._site_parent(
                conn, code, codes.normalize(record["parent_code"])
            )
        record.update(code=code, kind=kind, province_code=province, city_code=city)
        if record.get("filing_date"):
            record["status_since"] = record["filing_date"]  # active since it was filed
        await institutions.insert_institution(conn, record)
        await audit.audit(
            conn, actor, "institution.register", code,
            {"kind": kind, "name": record["name"], "parent_code": record.get("parent_code")},
            role=role, request_id=request_id,
        )  # fmt: skip
        return code

    async def _site_parent(self, conn: Conn, code: str, parent_code: str) -> str:
        """The canonical code of a new 站点's institution (rule 50). Raises NotFound, InvalidInput,
        InvalidCode, InstitutionRetired."""
        try:
            parent = await institutions.get_institution(conn, parent_code)
        except NotFound:
            raise NotFound(
                f"所属机构 {parent_code} 未登记：请先登记机构，再登记其站点",
                f"no institution {parent_code}: file the institution before its 站点",
                details={"field": "parent_code", "code": parent_code, "rule": 50},
            ) from None
        if parent.record["parent_code"]:
            raise InvalidInput(
                f"{parent.code} 本身是站点，站点下不再设站点", f"{parent.code} is itself a 站点; a 站点 has none",
                details={"field": "parent_code", "rule": 50},
            )  # fmt: skip
        problems = site_code_problems(code, parent.code)
        if problems:
            raise InvalidCode(problems=problems)
        await refuse_after_final(conn, parent)
        return parent.code

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
        Raises NotFound, InvalidInput (also for an occupation no certificate may name: rules 26, 27, 73)."""
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
        special = inst.kind == SPECIAL_ASSESSOR
        refused = occupations.occupation_problems(occupation_code, occupation_name, skill=not special,
                                                  henan=special or inst.code[5:7] == "41")  # fmt: skip
        if refused:  # what no certificate may name is not filed either (rules 26, 27, 73)
            first = refused[0]
            raise InvalidInput(first.message_zh, first.message_en,
                               details={"field": first.field, "code": first.code, "rule": first.rule})  # fmt: skip
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


async def locked(conn: Conn, inst: Institution) -> Institution:
    """The institution re-read under its row lock (decisions about it take turns)."""
    await institutions.lock_institution(conn, inst.id)
    return await institutions.get_institution(conn, inst.code)


async def refuse_after_final(conn: Conn, inst: Institution) -> None:
    """Raise InstitutionRetired when the institution's filing was terminated or merged (rule 40):
    its code is retired for good, whatever the later decision would be."""
    final = final_decision(await institutions.status_changes(conn, inst.id))
    if final is None and inst.status in FINAL_STATUSES:  # filed as such, without a recorded decision
        final = StatusChange(inst.status, inst.status_since)
    if final is None:
        return
    zh, en = STATUS_LABELS[final.status]
    day = final.effective.isoformat()
    raise InstitutionRetired(
        f"机构 {inst.code} 自 {day} 起{zh}，代码已列入废置库，不能再恢复或变更；重新开展评价须以新的机构代码重新备案",
        f"institution {inst.code} is {en} from {day}; its code is retired for good and nothing re-activates it:"
        " a returning institution files again under a new code",
        details={"code": inst.code, "status": final.status, "effective": day, "rule": 40},
    )


def _wrong_kind(code: str, zh: str, en: str) -> list[Problem]:
    return [Problem(code="wrong_kind", message_zh=zh, message_en=en, position=1, found=code[:1])]


def _named(code: str | None, table: Any) -> dict[str, Any] | None:
    return None if not code else {"code": code, "name": table.get(code, code)}


def _label(pair: tuple[str, str] | None) -> dict[str, str] | None:
    return None if pair is None else {"zh": pair[0], "en": pair[1]}


def _status(status: str) -> dict[str, str]:
    zh, en = STATUS_LABELS.get(status, (status, status))
    return {"code": status, "zh": zh, "en": en}


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()

"""The institution lifecycle (docs/RULES.md rules 38-41, 49-53): final terminations and mergers,
mergers into a new institution, 站点 as child records, credit records, quality grades, aliases,
and decisions dated ahead. Real PostgreSQL through the ``registry`` fixture (today 2026-11-25)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import ENC_KEY, INDEX_KEY, TODAY, InstitutionFactory, unique_henan_code
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch, reviewer
from verify import cli
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer
from verify.db import institutions
from verify.domain import errors
from verify.domain.accounts import Principal, Role
from verify.services.registry import Registry
from verify.services.status_view import StatusView

MB = 1 << 20
DOC = "豫人社函〔2026〕9号"


def _registry_on(pool: asyncpg.Pool, test_dsn: str, day: date) -> Registry:
    return Registry(pool, IdProtector(INDEX_KEY, ENC_KEY), id_keys=IdKeys(INDEX_KEY, ENC_KEY), today=lambda: day,
                    dsn=test_dsn)  # fmt: skip


async def _free_code(pool: asyncpg.Pool, letter: str = "S", city: str = "01", first: str = "7") -> str:
    taken = await institutions.all_institution_codes(pool)
    return next(c for c in (unique_henan_code(letter, city, first) for _ in range(200)) if c not in taken)


async def _actions(pool: asyncpg.Pool, target: str) -> list[str]:
    rows = await pool.fetch("SELECT action FROM audit_log WHERE target = $1 ORDER BY id", target)
    return [r["action"] for r in rows]


# ------------------------------------------------------------------ rule 40: final decisions


async def test_rule_40_a_terminated_institution_never_uploads_under_its_retired_code(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    code = (await make_institution())["code"]
    await registry.set_status(code, "terminated", effective=date(2026, 11, 1), reason="第十四条 证书数据造假",
                              document_ref=DOC, actor="t")  # fmt: skip
    for status in ("active", "suspended"):
        with pytest.raises(errors.InstitutionRetired) as refused:
            await registry.set_status(code, status, effective=date(2026, 11, 20), reason="恢复", document_ref=None,
                                      actor="t")  # fmt: skip
        assert refused.value.details == {
            "code": code,
            "status": "terminated",
            "effective": "2026-11-01",
            "rule": 40,
        }
        assert "新的机构代码" in refused.value.message_zh and "new code" in refused.value.message_en
    with pytest.raises(errors.Forbidden) as upload:
        await registry.import_batch(code, csv_bytes([Row(code, serial=1)]), "r.csv", actor="t", max_bytes=MB)
    assert upload.value.details["rule"] == 39
    view = await registry.institution_view(code)
    assert view["status"]["code"] == "terminated" and [h["status"] for h in view["status"]["history"]] == [
        "terminated"
    ]


async def test_rule_40_a_scheduled_termination_or_merger_is_final_too(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    ending = (await make_institution())["code"]
    await registry.set_status(ending, "terminated", effective=date(2027, 1, 1), reason="第十四条", document_ref=None,
                              actor="t")  # fmt: skip
    with pytest.raises(errors.InstitutionRetired):
        await registry.set_status(ending, "active", effective=date(2027, 2, 1), reason="撤销终止", document_ref=None,
                                  actor="t")  # fmt: skip
    absorbing, absorbed = (await make_institution())["code"], (await make_institution())["code"]
    await registry.set_status(absorbed, "merged", effective=date(2026, 10, 1), reason="并入", document_ref=None,
                              actor="t", merged_into=absorbing)  # fmt: skip
    with pytest.raises(errors.InstitutionRetired):
        await registry.set_status(absorbed, "active", effective=date(2026, 11, 1), reason="分立", document_ref=None,
                                  actor="t")  # fmt: skip
    with pytest.raises(errors.InstitutionRetired):  # nor into anything else, nor as the absorbing one
        await registry.merge_institutions(ending, [absorbing], effective=TODAY, reason="并入", document_ref=None,
                                          actor="t")  # fmt: skip


# ------------------------------------------------------------------ rule 41: mergers


async def test_rule_41_merger_into_a_new_institution_with_a_new_code(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    a, b = await make_institution(), await make_institution()
    row = Row(a["code"], serial=1)
    done = await registry.import_batch(a["code"], csv_bytes([row]), "m.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, done.batch_id, signer=signer)
    new = await _free_code(pool)
    view = await registry.merge_institutions(
        new, [a["code"], b["code"]], new_institution={"kind": "social", "name": "合并新设评价中心", "filing_date": "2026-11-01"},
        effective=date(2026, 11, 2), reason="两机构合并设立新机构", document_ref=DOC, actor="t",
    )  # fmt: skip
    assert view["code"] == new and view["status"]["code"] == "active" and view["retired_codes"] == []
    (merger,) = view["mergers"]
    assert merger["form"] == "new_entity" and merger["into"] == {"code": new, "name": "合并新设评价中心"}
    assert {p["code"] for p in merger["institutions"]} == {a["code"], b["code"]} and merger[
        "document_ref"
    ] == DOC
    for old in (a, b):
        gone = await registry.institution_view(old["code"])
        assert gone["status"]["code"] == "merged" and gone["requested_code_retired"]
        assert (
            gone["status"]["merged_into"] == new and gone["status"]["merged_into_name"] == "合并新设评价中心"
        )
        assert gone["mergers"] == view["mergers"]
        assert await _actions(pool, old["code"]) == ["institution.status"]
    assert await _actions(pool, new) == ["institution.register", "institution.merger"]
    # rule 38: the merged institution's certificate stays valid
    answer = (await registry.lookup_by_number(number_of(row), row.name)).to_json()
    assert answer["certificates"][0]["status"] == "valid"
    # rule 40: the old codes are retired, for the new institution as for anyone
    with pytest.raises(errors.Conflict):
        await registry.register_institution({"code": a["code"], "kind": "social", "name": "x"}, actor="t")


async def test_rule_41_a_merger_is_one_decision_or_nothing(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    a, b = (await make_institution())["code"], (await make_institution())["code"]
    await registry.set_status(b, "terminated", effective=date(2026, 1, 1), reason="第十四条", document_ref=None,
                              actor="t")  # fmt: skip
    new = await _free_code(pool)
    with pytest.raises(errors.InstitutionRetired):
        await registry.merge_institutions(new, [a, b], new_institution={"kind": "social", "name": "新机构"},
                                          effective=TODAY, reason="合并", document_ref=None, actor="t")  # fmt: skip
    with pytest.raises(errors.NotFound):  # the new institution was not filed either
        await registry.institution_view(new)
    assert (await registry.institution_view(a))["status"]["code"] == "active"
    for sources, form in (([a], "new_entity"), ([a, a], None), ([], None)):
        with pytest.raises(errors.InvalidInput):
            await registry.merge_institutions(new, sources, form=form, effective=TODAY, reason="合并",
                                              document_ref=None, actor="t")  # fmt: skip
    with pytest.raises(errors.InvalidInput):
        await registry.merge_institutions(
            a, [a], effective=TODAY, reason="并入", document_ref=None, actor="t"
        )


# ------------------------------------------------------------------ rule 50: 站点


async def test_rule_50_a_site_is_a_child_record_of_its_institution(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    parent = await make_institution(name="郑州市示例评价中心")
    site = await _free_code(pool, city="03")
    view = await registry.register_institution(
        {"code": site, "kind": "social", "name": "郑州市示例评价中心洛阳站点", "parent_code": parent["code"].lower()},
        actor="t",
    )  # fmt: skip
    assert (
        view["parent"] == {"code": parent["code"], "name": "郑州市示例评价中心"}
        and view["city"]["code"] == "03"
    )
    listed = (await registry.institution_view(parent["code"]))["sites"]
    assert [(s["code"], s["name"], s["status"]["code"]) for s in listed] == [
        (site, "郑州市示例评价中心洛阳站点", "active")
    ]
    other_letter = await _free_code(pool, letter="Y")
    with pytest.raises(errors.InvalidCode) as mismatch:
        await registry.register_institution(
            {"code": other_letter, "kind": "employer", "name": "x", "parent_code": parent["code"]}, actor="t"
        )
    assert [(p.code, p.rule) for p in mismatch.value.problems] == [("site_code_mismatch", 50)]
    with pytest.raises(errors.NotFound):
        await registry.register_institution(
            {"code": await _free_code(pool), "kind": "social", "name": "x", "parent_code": "S000041019990"}, actor="t"
        )  # fmt: skip
    with pytest.raises(errors.InvalidInput):  # a 站点 has no 站点
        await registry.register_institution(
            {"code": await _free_code(pool), "kind": "social", "name": "x", "parent_code": site}, actor="t"
        )
    await registry.set_status(parent["code"], "terminated", effective=date(2026, 11, 1), reason="第十四条",
                              document_ref=None, actor="t")  # fmt: skip
    with pytest.raises(errors.InstitutionRetired):
        await registry.register_institution(
            {"code": await _free_code(pool), "kind": "social", "name": "x", "parent_code": parent["code"]}, actor="t"
        )  # fmt: skip


# ------------------------------------------------------------------ rule 51: credit records


async def test_rule_51_a_warning_is_public_and_leaves_the_status_alone(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    code = (await make_institution())["code"]
    me = await reviewer(registry, "t-rev-4101", jurisdiction="4101")
    view = await registry.record_credit_entry(
        code, "warning", effective=date(2026, 11, 20), article="人社职司便函〔2021〕57号 附件2 第十三条",
        summary="考务管理不规范，限期整改", decided_by="郑州市职业技能鉴定指导中心", document_ref=DOC,
        facts="2026-10-12 考点巡查发现冒名顶替未制止（内部）", rectify_by=date(2027, 1, 20), actor=me.actor, by=me,
    )  # fmt: skip
    assert view["status"]["code"] == "active" and view["status"]["history"] == []
    assert view["credit_records"] == [
        {
            "kind": "warning", "label": {"zh": "警告", "en": "warning"}, "effective": "2026-11-20", "scheduled": False,
            "article": "人社职司便函〔2021〕57号 附件2 第十三条", "summary": "考务管理不规范，限期整改",
            "document_ref": DOC, "decided_by": "郑州市职业技能鉴定指导中心", "rectify_by": "2027-01-20",
        }
    ]  # fmt: skip
    assert "冒名顶替" not in json.dumps(view, ensure_ascii=False)  # the facts stay internal
    view = await registry.record_credit_entry(
        code, "credit_bad", effective=date(2026, 12, 1), article="第十三条", summary="列入诚信不良档案",
        decided_by="河南省职业技能鉴定指导中心", actor="t",
    )  # fmt: skip
    assert [(r["kind"], r["scheduled"]) for r in view["credit_records"]] == [
        ("warning", False),
        ("credit_bad", True),
    ]
    entry = await pool.fetchrow("SELECT actor, role, reason FROM audit_log WHERE target = $1 AND action ="
                                " 'institution.record' ORDER BY id LIMIT 1", code)  # fmt: skip
    assert entry is not None and dict(entry) == {"actor": me.actor, "role": "reviewer",
                                                 "reason": "考务管理不规范，限期整改"}  # fmt: skip
    for sql in ("DELETE FROM institution_records", "UPDATE institution_records SET summary = 'x'"):
        with pytest.raises(asyncpg.RestrictViolationError):
            await pool.execute(sql)
    outside = await reviewer(registry, "t-rev-4102", jurisdiction="4102")
    with pytest.raises(errors.OutsideJurisdiction):
        await registry.record_credit_entry(code, "warning", effective=TODAY, article="a", summary="s",
                                           decided_by="d", actor=outside.actor, by=outside)  # fmt: skip
    with pytest.raises(errors.InvalidInput):
        await registry.record_credit_entry(code, "praise", effective=TODAY, article="a", summary="s",
                                           decided_by="d", actor="t")  # fmt: skip


# ------------------------------------------------------------------ rule 52: aliases


async def test_rule_52_aliases_are_managed_and_withdrawn_never_deleted(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst, other = await make_institution(), await make_institution()
    alias = "豫鉴-" + inst["code"][-5:]
    view = await registry.add_institution_alias(inst["code"], alias, note="原鉴定所（站）代码", actor="t")
    stored = "豫鉴" + inst["code"][-5:]
    assert {"code": stored, "note": "原鉴定所（站）代码"} in view["aliases"]
    assert (await registry.institution_view(f" 豫鉴 {inst['code'][-5:]}"))["code"] == inst["code"]
    assert (await registry.add_institution_alias(inst["code"], stored, note=None, actor="t"))[
        "aliases"
    ] == view["aliases"]  # adding it again changes nothing
    for taken in (stored, other["code"]):
        with pytest.raises(errors.Conflict):
            await registry.add_institution_alias(other["code"] if taken == stored else inst["code"], taken,
                                                 note=None, actor="t")  # fmt: skip
    with pytest.raises(errors.InvalidInput):
        await registry.withdraw_institution_alias(other["code"], stored, reason="误登", actor="t")
    view = await registry.withdraw_institution_alias(inst["code"], stored, reason="误登", actor="t")
    assert view["aliases"] == []
    with pytest.raises(errors.NotFound):
        await registry.institution_view(stored)
    row = await pool.fetchrow(
        "SELECT withdrawn_on, withdrawn_reason FROM institution_aliases WHERE alias = $1", stored
    )
    assert row is not None and (row["withdrawn_on"], row["withdrawn_reason"]) == (TODAY, "误登")
    with pytest.raises(errors.Conflict):  # history: a withdrawn alias is not handed out again
        await registry.add_institution_alias(inst["code"], stored, note=None, actor="t")
    with pytest.raises(asyncpg.RestrictViolationError):
        await pool.execute("DELETE FROM institution_aliases WHERE alias = $1", stored)
    assert await _actions(pool, inst["code"]) == ["institution.alias_add", "institution.alias_withdraw"]


# ------------------------------------------------------------------ rule 53: quality grades


async def test_rule_53_quality_grade_per_year_only_for_appraisal_institutions(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    appraisal = (await make_institution(kind="appraisal"))["code"]
    kw: dict[str, Any] = {"document_ref": "豫人社规〔2020〕1号 评估结果", "decided_by": "河南省人力资源和社会保障厅",
                          "actor": "t"}  # fmt: skip
    await registry.record_quality_grade(appraisal, year=2024, grade="优秀", decided_on=date(2025, 3, 1), **kw)
    await registry.record_quality_grade(appraisal, year=2025, grade="good", decided_on=date(2026, 3, 1), **kw)
    view = await registry.record_quality_grade(
        appraisal, year=2025, grade="basic", decided_on=date(2026, 4, 1), **kw
    )
    assert [(g["year"], g["grade"], g["label"]["zh"], g["decided_on"]) for g in view["quality_grades"]] == [
        (2025, "basic", "基本合格", "2026-04-01"),  # the regrading of 2025 is its grade
        (2024, "excellent", "优秀", "2025-03-01"),
    ]
    assert view["status"]["code"] == "active"  # 不合格 or not, a grade changes no status
    social = (await make_institution())["code"]
    with pytest.raises(errors.InvalidInput) as refused:
        await registry.record_quality_grade(social, year=2025, grade="good", decided_on=TODAY, **kw)
    assert refused.value.details["rule"] == 53
    for year, grade in ((2025, "A"), (2027, "good"), (1999, "good")):
        with pytest.raises(errors.InvalidInput):
            await registry.record_quality_grade(appraisal, year=year, grade=grade, decided_on=TODAY, **kw)


# ------------------------------------------------------------------ rule 39: effective dates


async def test_rule_39_every_decision_dated_ahead_is_scheduled_then_applies_on_its_day(
    registry: Registry, pool: asyncpg.Pool, test_dsn: str, make_institution: InstitutionFactory
) -> None:
    suspended, absorbed, absorbing = (await make_institution())["code"], (await make_institution())["code"], (
        await make_institution(name="并入方评价中心"))["code"]  # fmt: skip
    await registry.set_status(suspended, "suspended", effective=date(2026, 12, 15), reason="第十三条 限期整改",
                              document_ref=DOC, actor="t")  # fmt: skip
    await registry.set_status(suspended, "active", effective=date(2027, 1, 15), reason="整改完成",
                              document_ref=None, actor="t")  # fmt: skip
    await registry.merge_institutions(absorbing, [absorbed], effective=date(2027, 1, 1), reason="并入",
                                      document_ref=DOC, actor="t")  # fmt: skip
    view = await registry.institution_view(suspended)
    assert view["status"]["code"] == "active"
    assert [s["notice"]["zh"] for s in view["status"]["scheduled"]] == [
        "自 2026-12-15 起暂停评价活动", "自 2027-01-15 起恢复评价活动"
    ]  # fmt: skip
    merged = await registry.institution_view(absorbed)
    assert merged["status"]["code"] == "active" and not merged["requested_code_retired"]
    assert (
        merged["status"]["scheduled"][0]["notice"]["zh"] == f"自 2027-01-01 起并入 并入方评价中心 {absorbing}"
    )
    assert merged["mergers"][0]["scheduled"] is True
    december = _registry_on(pool, test_dsn, date(2026, 12, 16))
    view = await december.institution_view(suspended)
    assert view["status"]["code"] == "suspended" and view["status"]["since"] == "2026-12-15"
    assert [s["effective"] for s in view["status"]["scheduled"]] == ["2027-01-15"]
    january = _registry_on(pool, test_dsn, date(2027, 1, 2))
    assert (await january.institution_view(absorbed))["status"]["code"] == "merged"
    assert (await january.institution_view(absorbed))["requested_code_retired"]
    assert (await january.institution_view(suspended))["status"]["code"] == "suspended"
    # the stored status (what the web workers' status view reads) follows when due statuses apply
    await institutions.apply_due_statuses(pool, date(2027, 1, 2))
    stored = await pool.fetch(
        "SELECT code, status FROM institutions WHERE code = ANY($1)", [suspended, absorbed]
    )
    assert {r["code"]: r["status"] for r in stored} == {suspended: "suspended", absorbed: "merged"}
    await pool.execute(
        "UPDATE institutions SET status = 'active' WHERE code = ANY($1)", [suspended, absorbed]
    )


async def test_a_status_decision_reaches_the_web_workers_status_view(
    registry: Registry, make_institution: InstitutionFactory, status_view: StatusView
) -> None:
    absorbing, absorbed = await make_institution(name="吸收方"), (await make_institution())["code"]
    await registry.set_status(absorbed, "merged", effective=TODAY, reason="并入", document_ref=None, actor="t",
                              merged_into=absorbing["code"])  # fmt: skip
    for _ in range(100):
        snapshot = status_view.snapshot
        issuer = snapshot.institutions.get(absorbed) if snapshot else None
        if issuer is not None and issuer.status == "merged":
            break
        await asyncio.sleep(0.05)
    assert issuer is not None and (issuer.status, issuer.merged_into) == ("merged", absorbing["code"])


# ------------------------------------------------------------------ rule 49: the whole record


async def test_rule_49_every_field_of_the_institution_record_is_stored_and_public(
    registry: Registry, pool: asyncpg.Pool
) -> None:
    code, site = await _free_code(pool, letter="Y", city="01"), await _free_code(pool, letter="Y", city="07")
    filing = {
        "code": code, "kind": "appraisal", "name": "河南示例职业技能鉴定所", "short_name": "示例鉴定所",
        "filing_number": "豫鉴备 2026-001", "filing_authority": "province", "filing_date": "2026-01-05",
        "filing_expires": "2029-01-04", "address": "郑州市示例路 8 号", "phone": "0371-6000000",
        "email": "jd@example.org", "website": "https://jd.example.org", "complaint_channel": "0371-12333",
    }  # fmt: skip
    await registry.register_institution(filing, actor="t")
    await registry.register_institution(
        {"code": site, "kind": "appraisal", "name": "河南示例职业技能鉴定所新乡站", "parent_code": code},
        actor="t",
    )
    await registry.add_scope(code, occupation_code="6-20-01-01", occupation_name="钳工", job="", levels=[4, 3],
                             effective_from=date(2026, 1, 5), actor="t")  # fmt: skip
    await registry.set_status(code, "suspended", effective=date(2026, 6, 1), reason="第十三条", document_ref=DOC,
                              actor="t")  # fmt: skip
    await registry.set_status(code, "active", effective=date(2026, 7, 1), reason="整改完成", document_ref=None,
                              actor="t")  # fmt: skip
    await registry.record_credit_entry(code, "warning", effective=date(2026, 6, 1), article="第十三条",
                                       summary="警告并限期整改", decided_by="河南省职业技能鉴定指导中心", actor="t")  # fmt: skip
    await registry.record_quality_grade(code, year=2026, grade="good", decided_on=date(2026, 11, 1),
                                        document_ref=DOC, decided_by="河南省人力资源和社会保障厅", actor="t")  # fmt: skip
    v = await registry.institution_view(code)
    assert (v["code"], v["name"], v["short_name"], v["kind"]["code"]) == (
        code, "河南示例职业技能鉴定所", "示例鉴定所", "appraisal"
    )  # fmt: skip
    assert v["filing"] == {
        "number": "豫鉴备 2026-001", "authority": "province",
        "authority_label": {"zh": "省级人力资源社会保障部门", "en": "provincial department"},
        "date": "2026-01-05", "expires": "2029-01-04",
    }  # fmt: skip
    assert v["contact"] == {"address": "郑州市示例路 8 号", "phone": "0371-6000000", "email": "jd@example.org",
                            "website": "https://jd.example.org"}  # fmt: skip
    assert v["complaint_channel"]["institution"] == "0371-12333"
    assert [s["code"] for s in v["sites"]] == [site]
    assert {(s["occupation_code"], s["level"]["code"], s["effective_from"]) for s in v["scope"]} == {
        ("6-20-01-01", 4, "2026-01-05"), ("6-20-01-01", 3, "2026-01-05")
    }  # fmt: skip
    assert (v["status"]["code"], v["status"]["since"]) == ("active", "2026-07-01")
    assert [(h["status"], h["effective"], h["document_ref"]) for h in v["status"]["history"]] == [
        ("suspended", "2026-06-01", DOC), ("active", "2026-07-01", None)
    ]  # fmt: skip
    assert [(c["kind"], c["summary"]) for c in v["credit_records"]] == [("warning", "警告并限期整改")]
    assert [(g["year"], g["grade"]) for g in v["quality_grades"]] == [(2026, "good")]


async def test_filing_refuses_bad_fields_with_the_field_named(registry: Registry, pool: asyncpg.Pool) -> None:
    code = await _free_code(pool)
    for bad, field in (({"filing_authority": "village"}, "filing_authority"), ({"filing_date": "2026/01/05"},
                       "filing_date"), ({"phone": 12}, "phone"), ({"name": " "}, "name"),
                       ({"filing_date": "2026-02-01", "filing_expires": "2026-01-01"}, "filing_expires")):  # fmt: skip
        with pytest.raises(errors.InvalidInput) as refused:
            await registry.register_institution(
                {"code": code, "kind": "social", "name": "n", **bad}, actor="t"
            )
        assert refused.value.details["field"] == field


async def test_who_may_record_which_decision(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    code = (await make_institution())["code"]
    me = await reviewer(registry, "t-rev-41", jurisdiction="41")
    with pytest.raises(errors.RoleNotAllowed):
        await registry.set_status(code, "terminated", effective=TODAY, reason="第十四条", document_ref=None,
                                  actor=me.actor, by=me)  # fmt: skip
    for call in (
        registry.merge_institutions(code, [code], effective=TODAY, reason="r", document_ref=None, actor=me.actor, by=me),
        registry.add_institution_alias(code, "X1", note=None, actor=me.actor, by=me),
    ):  # fmt: skip
        with pytest.raises(errors.RoleNotAllowed):
            await call
    admin = Principal(0, "t-admin", Role.ADMIN)
    with pytest.raises(errors.RoleNotAllowed):  # suspending is the reviewers' and regulators'
        await registry.set_status(code, "suspended", effective=TODAY, reason="r", document_ref=None,
                                  actor=admin.actor, by=admin)  # fmt: skip
    view = await registry.set_status(code, "terminated", effective=TODAY, reason="第十四条", document_ref=None,
                                     actor=admin.actor, by=admin)  # fmt: skip
    assert view["status"]["code"] == "terminated"


# ------------------------------------------------------------------ the command line


async def test_the_lifecycle_commands(
    monkeypatch: pytest.MonkeyPatch, test_dsn: str, tmp_path: Path, pool: asyncpg.Pool,
    make_institution: InstitutionFactory, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name, value in (("VERIFY_DATABASE_URL", test_dsn), ("VERIFY_HOME", str(tmp_path)),
                        ("VERIFY_ID_INDEX_KEY", INDEX_KEY.hex()), ("VERIFY_ID_ENC_KEY", ENC_KEY.hex())):  # fmt: skip
        monkeypatch.setenv(name, value)

    async def run(*argv: str) -> tuple[int, Any]:
        code = await asyncio.to_thread(cli.main, ["institutions", *argv])
        out = capsys.readouterr()
        return code, json.loads(out.out) if code == 0 else json.loads(out.err)

    a, b = (await make_institution())["code"], (await make_institution())["code"]
    new, site = await _free_code(pool), await _free_code(pool, city="09")
    code, view = await run("merge", new, "--from", f"{a},{b}", "--kind", "social", "--name", "新设中心",
                           "--reason", "合并", "--document", DOC, "--effective", "2026-11-01")  # fmt: skip
    assert code == 0 and view["mergers"][0]["form"] == "new_entity"
    code, view = await run("add", site, "--kind", "social", "--name", "新设中心濮阳站", "--parent-code", new)
    assert code == 0 and view["parent"]["code"] == new
    code, view = await run("sites", new)
    assert code == 0 and [s["code"] for s in view["sites"]] == [site]
    code, view = await run("warn", new, "--article", "第十三条", "--summary", "警告", "--decided-by", "鉴定中心",
                           "--record-kind", "credit_bad")  # fmt: skip
    assert code == 0 and view["credit_records"][0]["kind"] == "credit_bad"
    code, view = await run("alias", new, "--add", "豫鉴0999" + new[-3:], "--note", "原代码")
    assert code == 0 and view["aliases"][0]["note"] == "原代码"
    code, err = await run("status", a, "--status", "active", "--reason", "恢复")
    assert code == 4 and err["error"] == "institution_retired"
    code, err = await run(
        "grade", new, "--year", "2025", "--grade", "good", "--document", DOC, "--decided-by", "厅"
    )
    assert code == 1 and err["details"]["rule"] == 53
    code, err = await run("warn", new, "--summary", "s", "--decided-by", "d")
    assert code == 1 and err["details"]["field"] == "article"

"""The import checks of rules 24, 26/72, 27, 47, 48 and 73 against the real database: each rule
rejects (or, for 48, warns about) the row it names, with line, column and both languages, and a
rejected batch writes nothing."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import date

import asyncpg
import httpx
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import HEADER, Row, csv_bytes, holder_id, number_of
from tests.workflow import publish_batch
from verify.crypto.signing import Signer
from verify.domain import occupations
from verify.domain.errors import BatchRejected, InvalidInput
from verify.domain.institution import DEFAULT_STANDARD, SPECIAL_STANDARD, Scope
from verify.services.registry import Registry

MB = 1 << 20
SINCE = date(2020, 1, 1)


def _file(rows: list[Row], extra: dict[str, list[str]] | None = None) -> bytes:
    """A batch file of ``rows`` with optional extra columns (header -> one cell per row)."""
    extra = extra or {}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([*HEADER, *extra])
    for i, r in enumerate(rows):
        w.writerow([*r.cells(), *(cells[i] for cells in extra.values())])
    return out.getvalue().encode()


async def _rejected(registry: Registry, code: str, data: bytes) -> list[dict[str, object]]:
    with pytest.raises(BatchRejected) as info:
        await registry.import_batch(code, data, f"r{secrets.token_hex(4)}.csv", actor="t", max_bytes=MB)
    return [p.to_json() for p in info.value.problems]


async def _accepted(registry: Registry, code: str, data: bytes) -> list[dict[str, object]]:
    result = await registry.import_batch(code, data, f"a{secrets.token_hex(4)}.csv", actor="t", max_bytes=MB)
    assert result.created
    return [w.to_json() for w in result.warnings]


async def _count(pool: asyncpg.Pool, code: str) -> int:
    n: int = await pool.fetchval(
        "SELECT count(*) FROM certificates c JOIN institutions i ON i.id = c.institution_id WHERE i.code = $1",
        code,
    )
    return n


def _scope(code: str, name: str, levels: tuple[int, ...] = (4, 3)) -> list[Scope]:
    return [Scope(code, name, "--", level, SINCE, None, DEFAULT_STANDARD) for level in levels]


# ------------------------------------------------------------------------- rule 24: printed name


async def test_rule_24_the_printed_institution_name_must_be_the_filed_name(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution(name="郑州市（高新区）职业技能评价中心")
    code = inst["code"]
    rows = [Row(code, serial=1), Row(code, serial=2), Row(code, serial=3)]
    # Line 3 prints another institution's name; line 4 leaves the column empty (derived from the filing).
    names = ["郑州市(高新区) 职业技能评价中心", "洛阳市职业技能评价中心", ""]
    [p] = await _rejected(registry, code, _file(rows, {"评价机构名称": names}))
    assert (p["line"], p["column"], p["code"], p["rule"]) == (
        3,
        "评价机构名称",
        "institution_name_mismatch",
        24,
    )
    assert "郑州市（高新区）职业技能评价中心" in str(p["message_zh"]) and "filed name" in str(p["message_en"])
    assert await _count(pool, code) == 0  # a rejected batch writes nothing
    # Full-width and half-width brackets and spacing are the same printed name.
    await _accepted(registry, code, _file([rows[0], rows[2]], {"评价机构名称": [names[0], ""]}))
    assert await _count(pool, code) == 2


# ------------------------------------------------------------------ rules 26 and 72: 准入类 list


def test_rule_72_the_access_list_is_shipped_versioned_and_marked_for_confirmation() -> None:
    assert occupations.RULES_VERSION.startswith("occupation-rules-v1")
    assert {"保安员", "消防设施操作员", "家畜繁殖员", "轨道交通司机", "消防员"} <= set(occupations.ACCESS)
    assert all(a.needs_confirmation for a in occupations.ACCESS.values())
    assert occupations.ACCESS["消防员"].to_become_access  # 拟依法调整为准入类 counts too (rule 26)
    assert "焊工" not in occupations.ACCESS  # only nuclear-safety welding is 准入类


async def test_rule_72_the_access_list_is_published_as_a_reference_table(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/reference/occupation-rules-v1.json")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == occupations.RULES_VERSION
    assert any("保安员" in e["occupations"] for e in body["access"])


async def test_rule_26_no_skill_level_certificate_for_an_access_occupation(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    # A scope filed before the check existed (written straight to the registry) does not let it through.
    inst = await make_institution(scopes=_scope("4-07-05-01", "保安员") + _scope("6-20-01-01", "钳工"))
    code = inst["code"]
    bad = Row(code, serial=2, occupation_code="4-07-05-01", occupation_name="保安员")
    [p] = await _rejected(registry, code, csv_bytes([Row(code, serial=1), bad]))
    assert (p["line"], p["column"], p["code"], p["rule"]) == (3, "职业名称", "access_occupation", 26)
    assert (
        "准入类" in str(p["message_zh"])
        and "公安部门" in str(p["message_zh"])
        and "access" in str(p["message_en"])
    )
    assert await _count(pool, code) == 0
    with pytest.raises(InvalidInput) as info:  # and it cannot be filed as scope any more
        await registry.add_scope(code, occupation_code="4-07-05-01", occupation_name="消防设施操作员", job="",
                                 levels=[4], effective_from=SINCE, actor="t")  # fmt: skip
    assert info.value.details["rule"] == 26


async def test_rule_26_general_welding_stays_allowed(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution(scopes=_scope("6-18-02-04", "焊工"))
    row = Row(inst["code"], serial=1, occupation_code="6-18-02-04", occupation_name="焊工")
    await _accepted(registry, inst["code"], csv_bytes([row]))


# ------------------------------------------------------------- rule 27: Henan 第二大类, categories


async def test_rule_27_henan_issues_no_certificates_for_major_group_2_or_category_names(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution(
        scopes=_scope("2-02-07-01", "机械设计工程技术人员") + _scope("6", "生产制造及有关人员")
    )
    code = inst["code"]
    rows = [
        Row(code, serial=1, occupation_code="2-02-07-01", occupation_name="机械设计工程技术人员"),
        Row(code, serial=2, occupation_code="6", occupation_name="生产制造及有关人员"),
    ]
    problems = await _rejected(registry, code, csv_bytes(rows))
    assert {(p["line"], p["column"], p["code"], p["rule"]) for p in problems} == {
        (2, "职业编码", "professional_group", 27),
        (3, "职业名称", "category_name", 27),
    }
    assert await _count(pool, code) == 0
    with pytest.raises(InvalidInput) as info:
        await registry.add_scope(code, occupation_code="2-02-07-01", occupation_name="机械设计工程技术人员",
                                 job="", levels=[3], effective_from=SINCE, actor="t")  # fmt: skip
    assert info.value.details["code"] == "professional_group"


def test_rule_27_major_group_2_is_refused_only_in_henan() -> None:
    national = occupations.occupation_problems("2-02-07-01", "机械设计工程技术人员", skill=True, henan=False)
    henan = occupations.occupation_problems("2-02-07-01", "机械设计工程技术人员", skill=True, henan=True)
    assert national == [] and [p.code for p in henan] == ["professional_group"]


# --------------------------------------------------------------------- rule 47: 评价方式


async def test_rule_47_assessment_method_is_a_closed_list_and_1_plus_x_confers_levels_3_and_4(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    code = inst["code"]
    rows = [Row(code, serial=1, level=4), Row(code, serial=2, level=3), Row(code, serial=1, level=3)]
    problems = await _rejected(
        registry,
        code,
        _file(rows, {"评价方式": ["笔试加实操", "1+X 直接认定（初级）", "1＋x 直接认定（高级）"]}),
    )
    assert {(p["line"], p["column"], p["code"], p["rule"]) for p in problems} == {
        (2, "评价方式", "unknown_assessment_method", 47),
        (3, "职业技能等级", "one_plus_x_level", 47),
    }
    assert "考试考核" in str(problems[0]["message_zh"])
    assert await _count(pool, code) == 0
    good = [Row(code, serial=1, level=4), Row(code, serial=2, level=3), Row(code, serial=3, level=4)]
    await _accepted(registry, code, _file(good, {"评价方式": ["1+x初级", "1＋X 直接认定（高级）", "考试"]}))
    records = await pool.fetch(
        "SELECT number, assessment_method FROM certificates WHERE number = ANY($1::text[])",
        [number_of(r) for r in good],
    )
    stored = {r["number"]: r["assessment_method"] for r in records}
    assert [stored[number_of(r)] for r in good] == [
        "1+X 直接认定（初级）",
        "1+X 直接认定（高级）",
        "考试考核",
    ]


# ------------------------------------------------------------------------ rule 48: dedup warning


async def test_rule_48_the_same_person_occupation_and_level_twice_is_flagged(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst, other = await make_institution(), await make_institution()
    person = holder_id()
    first = [Row(inst["code"], serial=1, id_number=person), Row(inst["code"], serial=2),
             Row(inst["code"], serial=3, id_number=person), Row(inst["code"], serial=4, id_number=person, level=3)]  # fmt: skip
    warnings = [w for w in await _accepted(registry, inst["code"], csv_bytes(first)) if w["rule"] == 48]
    # Line 4 repeats line 2 (same person, occupation, level); line 5 is another level.
    assert [(w["line"], w["code"], w["severity"], w["column"]) for w in warnings] == [
        (4, "repeat_certificate", "warning", "证件号码")
    ]
    assert "第 2 行" in str(warnings[0]["message_zh"]) and person not in str(warnings[0])
    # Not yet published: a later batch is not warned against it.
    again = Row(inst["code"], serial=5, id_number=person)
    batch = await registry.import_batch(
        inst["code"], csv_bytes([again]), "later.csv", actor="t", max_bytes=MB
    )
    assert [w for w in batch.warnings if w.rule == 48] == []
    published = await registry.import_batch(
        inst["code"], csv_bytes([Row(inst["code"], serial=6, id_number=person, level=2)]), "pub.csv",
        actor="t", max_bytes=MB,
    )  # fmt: skip
    await publish_batch(registry, published.batch_id, signer=signer)
    own = await _accepted(
        registry, inst["code"], csv_bytes([Row(inst["code"], serial=7, id_number=person, level=2)])
    )
    [w] = [w for w in own if w["rule"] == 48]
    assert number_of(Row(inst["code"], serial=6, level=2)) in str(w["message_zh"])
    # Another institution learns that a certificate exists, never its number (rule 58).
    theirs = await _accepted(
        registry, other["code"], csv_bytes([Row(other["code"], serial=1, id_number=person, level=2)])
    )
    [w] = [w for w in theirs if w["rule"] == 48]
    assert "其他机构" in str(w["message_zh"]) and inst["code"] not in str(w)


# ------------------------------------------------------------------- rule 73: 专项 project names


async def _special_assessor(make_institution: InstitutionFactory, project: str) -> str:
    for _ in range(50):
        code = f"16015{secrets.randbelow(900) + 100:03d}"
        try:
            inst = await make_institution(
                code=code, kind="special_assessor",
                scopes=[Scope("", project, "--", None, SINCE, None, SPECIAL_STANDARD)],
            )  # fmt: skip
        except RuntimeError:  # taken
            continue
        return str(inst["code"])
    raise AssertionError("no free 专项 code")


async def test_rule_73_a_special_project_is_not_named_like_an_occupation(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    code = await _special_assessor(make_institution, "中式面点师")
    header = "证书编号,姓名,证件类型,证件号码,项目名称,发证日期\n"
    data = header + f"25{code}00001,张三,居民身份证,{holder_id()},中式面点师,2025-03-01\n"
    [p] = await _rejected(registry, code, data.encode())
    assert (p["line"], p["column"], p["code"], p["rule"]) == (2, "职业名称", "project_name_form", 73)
    assert "工" in str(p["message_zh"]) and "must not end" in str(p["message_en"])
    assert await _count(pool, code) == 0
    with pytest.raises(InvalidInput) as info:
        await registry.add_scope(code, occupation_code="", occupation_name="育婴员", job="", levels=[None],
                                 effective_from=SINCE, actor="t")  # fmt: skip
    assert info.value.details["rule"] == 73
    await registry.add_scope(code, occupation_code="", occupation_name="中式面点制作", job="", levels=[None],
                             effective_from=SINCE, actor="t")  # fmt: skip
    ok = header + f"25{code}00002,张三,居民身份证,{holder_id()},中式面点制作,2025-03-01\n"
    await _accepted(registry, code, ok.encode())

"""Legacy 职业资格证书 (rule 44) against the real database: import under an old 鉴定所 code, review,
publication without a QR, lookup by number + name and by ID + name."""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import pytest

from tests.conftest import TODAY, InstitutionFactory
from tests.workflow import approve, reviewer
from verify.crypto.signing import Signer
from verify.db import institutions as db_institutions
from verify.db import pool as db_pool
from verify.db import signatures
from verify.domain import codes
from verify.domain import holder_ids as ids
from verify.domain.batch.legacy import parse_legacy_level, upgraded_resident_id
from verify.domain.errors import BatchRejected, Forbidden, InvalidCode, OutsideJurisdiction, OwnUpload
from verify.domain.occupations import OCCUPATION_CODES
from verify.services.registry import Registry

MB = 1 << 20
HEADER = ["证书编号", "姓名", "证件类型", "证件号码", "职业编码", "职业名称", "职业资格等级", "发证日期"]


def legacy_number() -> str:
    """A fresh 16-digit number, the usual printed length of a pre-reform certificate."""
    return f"{secrets.randbelow(10**16):016d}"


def old_resident_id() -> tuple[str, str]:
    """(15-digit first-generation form, 18-digit form) of one synthetic 1960s resident ID."""
    full = ids.make_resident_id("410105", date(1966, 3, 8), 1 + secrets.randbelow(998))
    return full[:6] + full[8:17], full


@dataclass
class LegacyRow:
    number: str
    name: str = "王建国"
    id_number: str = ""
    occupation_code: str = ""
    occupation_name: str = "计算机操作员"
    level: str = "中级"
    issue_date: str = "2012-06-30"

    def cells(self) -> list[str]:
        id_number = self.id_number or ids.make_resident_id(
            "410105", date(1975, 1, 2), 1 + secrets.randbelow(998)
        )
        return [self.number, self.name, "居民身份证", id_number, self.occupation_code, self.occupation_name,
                self.level, self.issue_date]  # fmt: skip


def legacy_csv(rows: list[LegacyRow]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for r in rows:
        w.writerow(r.cells())
    return out.getvalue().encode()


class CountingSigner:
    """The session's signer, counting what it is given to sign."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self.signed = 0

    @property
    def kid(self) -> str:
        return self._signer.kid

    def sign(self, message: bytes) -> bytes:
        self.signed += 1
        return self._signer.sign(message)


async def appraisal_with_alias(
    make_institution: InstitutionFactory, pool: asyncpg.Pool
) -> tuple[dict[str, Any], str]:
    """A registered 鉴定机构 and its old 鉴定所 code, kept as an alias (rule 52)."""
    inst = await make_institution(kind="appraisal", scopes=[])
    alias = f"豫鉴所{secrets.token_hex(3)}"
    await db_institutions.add_alias(pool, inst["id"], alias, "原鉴定所（站）代码")
    return inst, alias


async def test_rule_44_import_review_publish_and_look_up(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst, alias = await appraisal_with_alias(make_institution, pool)
    old_id, full_id = old_resident_id()
    # 计算机操作员 left the catalogue in 2020; the 2015 大典 table of today does not have this code.
    assert "3-01-02-05" not in OCCUPATION_CODES
    row = LegacyRow(legacy_number(), id_number=old_id, occupation_code="3-01-02-05")
    other = LegacyRow(legacy_number(), name="李秀英", occupation_name="美发师", level="国家职业资格二级",
                      issue_date="2009-11-20")  # fmt: skip
    result = await registry.import_legacy(
        alias, legacy_csv([row, other]), "鉴定所档案.csv", actor="cli:t", max_bytes=MB
    )
    assert result.created and result.state == "submitted" and result.rows == 2
    assert result.institution == inst["code"]
    assert [w.code for w in result.warnings] == ["legacy_batch"]
    assert alias in result.warnings[0].message_zh
    stored = await pool.fetchrow(
        "SELECT kind, level, id_tail FROM certificates WHERE number = $1", row.number
    )
    assert stored is not None
    assert dict(stored) == {"kind": "qualification", "level": 4, "id_tail": full_id[-4:]}
    # Not public before review (rule 32).
    assert not (await registry.lookup_by_number(row.number, row.name)).found

    await approve(registry, result.batch_id)
    published = await registry.publish(result.batch_id, actor="t", signer=signer)
    assert published["state"] == "published" and published["certificates"] == 0

    by_number = (await registry.lookup_by_number(row.number, row.name)).to_json()
    assert by_number["found"] is True
    found = by_number["certificates"][0]
    assert found["kind"] == "qualification" and found["status"] == "valid" and found["outcome"] == "valid"
    assert found["occupation"] == {"code": "3-01-02-05", "name": "计算机操作员"}
    assert found["level"]["code"] == 4 and found["id_masked"].endswith(full_id[-4:])
    notice = found["legacy_notice"]
    assert (
        notice["kind_zh"] == "职业资格证书"
        and notice["zh"] == "改革前颁发的职业资格证书，继续有效（人社厅发〔2020〕80号）"
    )
    assert "remains valid" in notice["en"]
    # The holder types today's 18-digit ID: it finds the certificate issued under the 15-digit one.
    by_id = (await registry.lookup_by_id(full_id, row.name)).to_json()
    assert [c["number"] for c in by_id["certificates"]] == [row.number]
    # A wrong name and an unknown number give the one not-found answer (rule 56).
    wrong = await registry.lookup_by_number(row.number, "王建军")
    unknown = await registry.lookup_by_number(legacy_number(), row.name)
    assert not wrong.found and wrong.to_json() == unknown.to_json()
    assert not (await registry.lookup_by_id(full_id, "王建军")).found


async def test_rule_44_a_legacy_number_never_enters_the_qr_signer(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst, _ = await appraisal_with_alias(make_institution, pool)
    rows = [LegacyRow(legacy_number()), LegacyRow(legacy_number(), name="赵敏")]
    result = await registry.import_legacy(
        inst["code"], legacy_csv(rows), "a.csv", actor="cli:t", max_bytes=MB
    )
    batch = await pool.fetchval("SELECT id FROM batches WHERE public_id = $1", result.batch_id)
    async with db_pool.transaction(pool) as conn:
        assert await signatures.batch_records_to_sign(conn, batch) == []
    await approve(registry, result.batch_id)
    counting = CountingSigner(signer)
    assert (await registry.publish(result.batch_id, actor="t", signer=counting))["certificates"] == 0
    assert counting.signed == 0
    assert await pool.fetchval(
        "SELECT count(*) FROM certificate_signatures WHERE number = ANY($1::text[])", [r.number for r in rows]
    ) == 0  # fmt: skip
    assert (await registry.lookup_by_number(rows[0].number, rows[0].name)).found


async def test_rule_44_rows_are_checked_without_todays_scope_and_a_bad_file_writes_nothing(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst, _ = await appraisal_with_alias(make_institution, pool)
    async with db_pool.transaction(pool) as conn:
        await db_institutions.set_institution_status(
            conn, inst["id"], "terminated", date(2021, 3, 1), reason="鉴定所撤销", document_ref=None,
            decided_by="t", today=TODAY,
        )  # fmt: skip
    rows = [
        LegacyRow(legacy_number()),  # line 2: good, although the issuer is terminated today
        LegacyRow("S000041010012224000007"),  # line 3: a current number belongs in a result batch
        LegacyRow("211601400100001"),  # line 4: 15 digits are the 专项 format's, never a legacy number
        LegacyRow(legacy_number(), level=""),  # line 5: no level
        LegacyRow(legacy_number(), level="特级"),  # line 6: not a level
        LegacyRow(legacy_number(), issue_date="2022-05-01"),  # line 7: after the termination (rule 39)
        LegacyRow(legacy_number(), occupation_code="车工"),  # line 8: a name in the code column
    ]
    rows.append(LegacyRow(rows[0].number, name="周强"))  # line 9: repeats line 2 (rule 13)
    with pytest.raises(BatchRejected) as info:
        await registry.import_legacy(inst["code"], legacy_csv(rows), "bad.csv", actor="cli:t", max_bytes=MB)
    by_line: dict[int, set[str]] = {}
    for p in info.value.problems:
        assert p.line is not None and p.column and p.message_zh and p.message_en
        by_line.setdefault(p.line, set()).add(p.code)
    assert by_line == {
        3: {"not_qualification_number"},
        4: {"length"},
        5: {"level_missing"},
        6: {"bad_level"},
        7: {"issuer_not_active_on_date"},
        8: {"bad_occupation_code"},
        9: {"duplicate_in_batch"},
    }
    assert await pool.fetchval("SELECT count(*) FROM batches WHERE institution_id = $1", inst["id"]) == 0

    good = LegacyRow(legacy_number(), issue_date="2021-02-26")
    done = await registry.import_legacy(
        inst["code"], legacy_csv([good]), "ok.csv", actor="cli:t", max_bytes=MB
    )
    assert done.created and [w.code for w in done.warnings] == ["legacy_batch", "qualification_after_exit"]
    # A number registered already is refused with the rows that carry it (rule 13).
    with pytest.raises(BatchRejected) as again:
        await registry.import_legacy(
            inst["code"],
            legacy_csv([LegacyRow(good.number, name="吴刚")]),
            "dup.csv",
            actor="cli:t",
            max_bytes=MB,
        )
    assert [(p.line, p.code) for p in again.value.problems] == [(2, "duplicate_existing")]


async def test_rule_44_only_an_appraisal_institution_and_a_reviewer_in_its_jurisdiction(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    social = await make_institution()
    data = legacy_csv([LegacyRow(legacy_number())])
    with pytest.raises(Forbidden) as refused:
        await registry.import_legacy(social["code"], data, "a.csv", actor="cli:t", max_bytes=MB)
    assert refused.value.details == {"rule": 44, "kind": "social"}
    inst, _ = await appraisal_with_alias(make_institution, pool)  # Henan city 01 (郑州)
    with pytest.raises(OutsideJurisdiction):
        await registry.import_legacy(inst["code"], data, "a.csv", actor="t", max_bytes=MB,
                                     by=await reviewer(registry, "t-rev-legacy-kf", "4102"))  # fmt: skip
    local = await reviewer(registry, "t-rev-legacy-zz", "4101")
    mine = await registry.import_legacy(
        inst["code"], data, "a.csv", actor=local.actor, max_bytes=MB, by=local
    )
    assert mine.created
    # Four eyes: the importing reviewer cannot approve its own import; another reviewer can.
    with pytest.raises(OwnUpload):
        await registry.approve_batch(local, mine.batch_id)
    assert (await registry.approve_batch(await reviewer(registry), mine.batch_id))["state"] == "approved"


async def test_rule_44_a_malformed_current_number_keeps_its_own_answer(registry: Registry) -> None:
    with pytest.raises(InvalidCode) as skill:
        await registry.lookup_by_number("Y000041290012224000007", "张三")
    assert [p.code for p in skill.value.problems] == ["henan_city_unknown"]
    with pytest.raises(InvalidCode) as special:
        await registry.lookup_by_number("211601400100001", "张三")
    assert [p.code for p in special.value.problems] == ["assessor_fixed_5"]
    assert not (await registry.lookup_by_number(legacy_number(), "张三")).found


def test_rule_44_legacy_numbers_levels_and_old_ids() -> None:
    assert codes.check_qualification_number("1041 0300 0040 0235").canonical == "1041030000400235"
    assert codes.check_qualification_number("1041030000400235").kind is codes.CodeKind.QUALIFICATION
    for bad in ("123456789", "211601500100001", "1" * 21, "10410300004002O5"):
        assert not codes.check_qualification_number(bad).valid, bad
    # Rule 18 still reads shapes only: a digit string is never classified as a legacy number.
    assert codes.check_code("1041030000400235", today=TODAY).kind is codes.CodeKind.SPECIAL_ABILITY
    assert codes.check_code("104103000040023512", today=TODAY).kind is None
    assert [parse_legacy_level(t) for t in ("初级", "中级", "高级", "技师", "高级技师")] == [5, 4, 3, 2, 1]
    assert [parse_legacy_level(t) for t in ("国家职业资格三级", "四级/中级工", "五级（初级）", "2")] == [
        3,
        4,
        5,
        2,
    ]
    assert parse_legacy_level("") is None
    with pytest.raises(ValueError):
        parse_legacy_level("特级")
    old, full = old_resident_id()
    assert upgraded_resident_id(old) == full and upgraded_resident_id(full) is None

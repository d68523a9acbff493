"""Candidate bans (rule 46) against the real database: terms, the kept records, and the warning a
later batch gets for a holder barred on its assessment date."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import ENC_KEY, INDEX_KEY, InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id
from verify import cli
from verify.crypto.idprotect import IdProtector
from verify.domain.batch.plan import BatchPlan
from verify.domain.errors import Conflict, InvalidId, InvalidInput, NotFound
from verify.domain.holder_ids import IdType
from verify.services.bans import ban_ends
from verify.services.registry import Registry

MB = 1 << 20
ZHENGZHOU_CENTRE = "郑州市职业技能鉴定中心"


def test_rule_46_terms_end_as_the_articles_say() -> None:
    assert ban_ends("rest_of_year", date(2025, 3, 14)) == date(2025, 12, 31)  # 第六条 当年
    assert ban_ends("two_years", date(2025, 3, 14)) == date(2027, 3, 13)  # 第七条 2 年内
    assert ban_ends("five_years", date(2025, 3, 14)) == date(2030, 3, 13)  # 第七条 5 年内
    assert ban_ends("two_years", date(2024, 2, 29)) == date(2026, 2, 28)
    with pytest.raises(InvalidInput):
        ban_ends("forever", date(2025, 1, 1))


async def _import(
    registry: Registry, code: str, rows: list[Row], plan: BatchPlan | None = None
) -> list[dict[str, object]]:
    result = await registry.import_batch(
        code, csv_bytes(rows), f"b{secrets.token_hex(4)}.csv", actor="institution:t", max_bytes=MB, plan=plan
    )
    return [w.to_json() for w in result.warnings if w.code == "candidate_banned"]


async def test_rule_46_a_banned_holder_is_flagged_in_a_later_batch(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    cheat, honest = holder_id(), holder_id()
    ban = await registry.add_ban(
        "居民身份证", cheat, term="two_years", decided_by=ZHENGZHOU_CENTRE, decided_on=date(2025, 1, 10),
        article="第七条（四）冒名顶替", document_ref="郑鉴处〔2025〕3号", actor="cli:t",
    )  # fmt: skip
    assert (ban["starts_on"], ban["ends_on"], ban["in_force_today"]) == ("2025-01-10", "2027-01-09", True)
    rows = [Row(inst["code"], serial=1, id_number=honest), Row(inst["code"], serial=2, id_number=cheat)]
    flagged = await _import(registry, inst["code"], rows)  # issue date 2025-06-18: inside the ban
    assert len(flagged) == 1
    warning = flagged[0]
    assert (warning["line"], warning["column"], warning["rule"], warning["severity"]) == (
        3,
        "证件号码",
        46,
        "warning",
    )
    assert f"#{ban['id']}" in str(warning["message_zh"]) and "郑鉴处〔2025〕3号" in str(warning["message_zh"])
    assert cheat not in str(warning) and "found" not in warning  # the ID is never quoted
    # The assessment date counts when the plan gives one: an assessment before the ban is not flagged.
    before = BatchPlan(None, None, date(2024, 12, 20), None, None)
    assert await _import(registry, inst["code"], [Row(inst["code"], serial=3, id_number=cheat)], before) == []


async def test_rule_46_a_review_lifts_a_ban_with_a_new_record(
    registry: Registry, pool: asyncpg.Pool, protector: IdProtector, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    person = holder_id()
    ban = await registry.add_ban("resident_id", person, term="rest_of_year", decided_by=ZHENGZHOU_CENTRE,
                                 decided_on=date(2025, 5, 6), actor="cli:t")  # fmt: skip
    assert ban["article"].endswith("第六条") and ban["ends_on"] == "2025-12-31"
    reversal = await registry.reverse_ban(
        ban["id"], decided_by=ZHENGZHOU_CENTRE, reason="复核：证据不足", actor="cli:t"
    )
    assert reversal["action"] == "reversal" and reversal["reverses"] == ban["id"]
    with pytest.raises(Conflict):
        await registry.reverse_ban(ban["id"], decided_by=ZHENGZHOU_CENTRE, actor="cli:t")
    with pytest.raises(NotFound):
        await registry.reverse_ban(reversal["id"], decided_by=ZHENGZHOU_CENTRE, actor="cli:t")
    kept = await registry.bans_of("resident_id", person, actor="cli:t")
    assert [(r["action"], r["reversed_by"], r["in_force_today"]) for r in kept] == [
        ("ban", reversal["id"], False),
        ("reversal", None, False),
    ]
    assert await _import(registry, inst["code"], [Row(inst["code"], serial=1, id_number=person)]) == []
    # Keyed by the blind index only, and never changed or deleted, even by the table's owner.
    index = protector.blind_index(IdType.RESIDENT, person)
    assert await pool.fetchval("SELECT count(*) FROM candidate_bans WHERE id_index = $1", index) == 2
    stored = await pool.fetchrow("SELECT * FROM candidate_bans WHERE id = $1", ban["id"])
    assert stored is not None
    assert all(person not in str(v) for v in dict(stored).values())
    for statement in (
        "UPDATE candidate_bans SET ends_on = starts_on WHERE id = $1",
        "DELETE FROM candidate_bans WHERE id = $1",
    ):
        with pytest.raises(asyncpg.RestrictViolationError):
            await pool.execute(statement, ban["id"])


async def test_rule_46_bad_ban_input_is_refused(registry: Registry) -> None:
    with pytest.raises(InvalidId):
        await registry.add_ban(
            "resident_id", "11010519491231002Y", term="two_years", decided_by="x", actor="t"
        )
    with pytest.raises(InvalidInput):
        await registry.add_ban("resident_id", holder_id(), term="ten_years", decided_by="x", actor="t")
    with pytest.raises(InvalidInput):
        await registry.add_ban("resident_id", holder_id(), term="two_years", decided_by=" ", actor="t")
    with pytest.raises(InvalidInput):
        await registry.add_ban("resident_id", holder_id(), term="two_years", decided_by="x",
                               starts_on=date(9998, 1, 1), actor="t")  # fmt: skip


async def test_rule_46_and_44_through_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
    test_dsn: str,
    tmp_path: Path,
    make_institution: InstitutionFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {"VERIFY_DATABASE_URL": test_dsn, "VERIFY_HOME": str(tmp_path),
                        "VERIFY_ID_INDEX_KEY": INDEX_KEY.hex(), "VERIFY_ID_ENC_KEY": ENC_KEY.hex()}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    person = holder_id()
    monkeypatch.setattr("sys.stdin", io.StringIO(person + "\n"))
    argv = [
        "bans",
        "add",
        "--term",
        "five_years",
        "--decided-by",
        ZHENGZHOU_CENTRE,
        "--decided-on",
        "2017-09-02",
    ]
    assert await asyncio.to_thread(cli.main, argv) == 0
    added = json.loads(capsys.readouterr().out)
    assert (added["term"], added["ends_on"]) == ("five_years", "2022-09-01")
    monkeypatch.setattr("sys.stdin", io.StringIO(person + "\n"))
    assert await asyncio.to_thread(cli.main, ["bans", "show", "--reason", "审核批次"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [added["id"]]

    inst = await make_institution(kind="appraisal", scopes=[])
    path = tmp_path / "legacy.csv"
    path.write_text(
        "证书编号,姓名,证件类型,证件号码,职业名称,职业资格等级,发证日期\n"
        f"{secrets.randbelow(10**16):016d},张三,居民身份证,{person},焊工,高级,2018-07-01\n",
        encoding="utf-8",
    )
    assert await asyncio.to_thread(cli.main, ["legacy", "import", str(path), "--issuer", inst["code"]]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "submitted"
    # Issued inside the five-year ban: the reviewer is told.
    assert [w["code"] for w in result["warnings"]] == ["legacy_batch", "candidate_banned"]

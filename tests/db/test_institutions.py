"""Institution registry rules (docs/RULES.md §7.4, rules 40-42, 49-52)."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from tests.conftest import InstitutionFactory, unique_henan_code
from tests.workflow import publish_batch
from verify.crypto.signing import Signer
from verify.db import institutions
from verify.db import pool as db_pool
from verify.domain.errors import Conflict, InvalidCode, NotFound
from verify.services.registry import Registry


async def test_rule_40_retired_code_resolvable_and_never_reassigned(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    absorbing = await make_institution()
    absorbed = await make_institution()
    async with db_pool.transaction(pool) as conn:
        await institutions.set_institution_status(
            conn,
            absorbed["id"],
            "merged",
            date(2025, 1, 1),
            reason="并入",
            document_ref=None,
            decided_by="t",
            merged_into=absorbing["code"],
            today=date(2025, 1, 1),
        )
        await institutions.retire_code(conn, absorbed["id"], absorbed["code"], date(2025, 1, 1), "并入")
        # The merged institution's row takes a new internal code so the old one could be "free" in the
        # unique index; the 废置库 must still refuse to hand it to anyone else.
        await conn.execute("UPDATE institutions SET code = code || '-retired' WHERE id = $1", absorbed["id"])
    view = await registry.institution_view(absorbed["code"])
    assert view["requested_code_retired"] is True and view["status"]["code"] == "merged"
    with pytest.raises(Conflict) as info:
        await institutions.insert_institution(
            pool, {"code": absorbed["code"], "kind": "social", "name": "新机构", "filing_authority": "city"}
        )
    assert info.value.details["rule"] == 40


async def test_rule_41_absorbing_institution_keeps_its_code(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    absorbing, absorbed = await make_institution(), await make_institution()
    view = await registry.merge_institutions(
        absorbing["code"], [absorbed["code"]], effective=date(2026, 11, 1), reason="并入（吸收合并）",
        document_ref="豫人社函〔2026〕3号", actor="t",
    )  # fmt: skip
    # 并入: the absorbing institution keeps its code and status; only the absorbed code is retired
    assert view["code"] == absorbing["code"] and view["status"]["code"] == "active"
    assert view["retired_codes"] == [] and view["status"]["history"] == []
    assert [(m["form"], [p["code"] for p in m["institutions"]]) for m in view["mergers"]] == [
        ("absorption", [absorbed["code"]])
    ]
    gone = await registry.institution_view(absorbed["code"])
    assert gone["status"]["code"] == "merged" and gone["status"]["merged_into"] == absorbing["code"]
    assert [r["code"] for r in gone["retired_codes"]] == [absorbed["code"]]
    assert (await pool.fetchval("SELECT count(*) FROM retired_codes WHERE code = $1", absorbing["code"])) == 0


async def test_rule_50_public_institution_fields(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution(
        address="河南省郑州市示例路 1 号",
        phone="0371-1",
        email="a@example.org",
        website="https://example.org",
        filing_number="豫备 001",
        filing_expires=date(2027, 1, 1),
        complaint_channel="0371-12333",
    )
    v = await registry.institution_view(inst["code"])
    assert v["contact"] == {
        "address": "河南省郑州市示例路 1 号",
        "phone": "0371-1",
        "email": "a@example.org",
        "website": "https://example.org",
    }
    assert v["filing"]["number"] == "豫备 001" and v["filing"]["expires"] == "2027-01-01"
    assert v["complaint_channel"]["institution"] == "0371-12333"
    levels = {(s["occupation_name"], s["job"], s["level"]["code"]) for s in v["scope"]}
    assert ("车工", "--", 5) in levels and ("车工", "普通车床", 4) in levels


async def test_rule_52_alias_resolves(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    alias = "豫鉴" + inst["code"][-4:]
    await institutions.add_alias(pool, inst["id"], alias, "原鉴定所代码")
    v = await registry.institution_view(alias)
    assert v["code"] == inst["code"] and {"code": alias, "note": "原鉴定所代码"} in v["aliases"]


async def test_unknown_institution(registry: Registry) -> None:
    with pytest.raises(NotFound):
        await registry.institution_view(unique_henan_code(first="9"))


async def test_register_scope_and_status_through_the_service(registry: Registry, pool: asyncpg.Pool) -> None:
    code = unique_henan_code("Y", city="03", first="6")
    view = await registry.register_institution(
        {"code": code.lower(), "kind": "employer", "name": "洛阳测试装备有限公司", "phone": "0379-1"},
        actor="t",
    )
    assert view["code"] == code and view["city"]["name"] == "洛阳市" and view["scope"] == []
    view = await registry.add_scope(
        code, occupation_code="6-20-01-01", occupation_name="钳工", job="", levels=[4, 3],
        effective_from=date(2025, 1, 1), actor="t",
    )  # fmt: skip
    assert {(s["job"], s["level"]["code"], s["effective_from"]) for s in view["scope"]} == {
        ("--", 4, "2025-01-01"), ("--", 3, "2025-01-01")
    }  # fmt: skip
    view = await registry.set_status(
        code, "suspended", effective=date(2026, 3, 1), reason="第十三条 限期整改", document_ref="豫示〔2026〕2号",
        actor="t",
    )  # fmt: skip
    assert (
        view["status"]["code"] == "suspended"
        and view["status"]["history"][-1]["document_ref"] == "豫示〔2026〕2号"
    )
    actions = await pool.fetch("SELECT action FROM audit_log WHERE target = $1 ORDER BY id", code)
    assert [a["action"] for a in actions] == [
        "institution.register",
        "institution.scope_add",
        "institution.status",
    ]


async def test_register_refuses_wrong_letter_and_bad_codes(registry: Registry) -> None:
    with pytest.raises(InvalidCode):
        await registry.register_institution(
            {"code": unique_henan_code("Y", first="6"), "kind": "social", "name": "x"}, actor="t"
        )
    with pytest.raises(InvalidCode):
        await registry.register_institution(
            {"code": "S000041290001", "kind": "social", "name": "x"}, actor="t"
        )


async def test_rule_41_merger_retires_the_absorbed_code(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    absorbing = await make_institution()
    absorbed = await make_institution()
    view = await registry.set_status(
        absorbed["code"], "merged", effective=date(2026, 1, 1), reason="并入", document_ref=None, actor="t",
        merged_into=absorbing["code"],
    )  # fmt: skip
    assert view["status"]["merged_into"] == absorbing["code"] and view["requested_code_retired"]
    assert [r["code"] for r in view["retired_codes"]] == [absorbed["code"]]
    kept = await registry.institution_view(absorbing["code"])
    assert kept["code"] == absorbing["code"] and kept["status"]["code"] == "active"


async def test_rule_38_suspension_leaves_issued_certificates_valid(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    from tests.factories import Row, csv_bytes, number_of

    inst = await make_institution()
    row = Row(inst["code"], serial=1)
    result = await registry.import_batch(
        inst["code"], csv_bytes([row]), "s.csv", actor="t", max_bytes=1 << 20
    )
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    await registry.set_status(
        inst["code"], "suspended", effective=date(2026, 6, 1), reason="第十三条", document_ref=None, actor="t"
    )
    answer = await registry.lookup_by_number(number_of(row), row.name)
    cert = answer.to_json()["certificates"][0]
    assert cert["status"] == "valid" and cert["institution"]["status"] == "suspended"
    assert cert["issuer_notice"] and "仍然有效" in cert["issuer_notice"]["zh"]

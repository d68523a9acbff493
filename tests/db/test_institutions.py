"""Institution registry rules (RULES §7.4, rules 40-42, 49-52)."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from tests.conftest import InstitutionFactory, unique_henan_code
from verify import store
from verify.errors import Conflict, NotFound
from verify.service import Registry


async def test_rule_40_retired_code_resolvable_and_never_reassigned(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    absorbing = await make_institution()
    absorbed = await make_institution()
    async with store.transaction(pool) as conn:
        await store.set_institution_status(
            conn,
            absorbed["id"],
            "merged",
            date(2025, 1, 1),
            reason="并入",
            document_ref=None,
            decided_by="t",
            merged_into=absorbing["code"],
        )
        await store.retire_code(conn, absorbed["id"], absorbed["code"], date(2025, 1, 1), "并入")
        # The merged institution's row takes a new internal code so the old one could be "free" in the
        # unique index; the 废置库 must still refuse to hand it to anyone else.
        await conn.execute("UPDATE institutions SET code = code || '-retired' WHERE id = $1", absorbed["id"])
    view = await registry.institution_view(absorbed["code"])
    assert view["requested_code_retired"] is True and view["status"]["code"] == "merged"
    with pytest.raises(Conflict) as info:
        await store.insert_institution(
            pool, {"code": absorbed["code"], "kind": "social", "name": "新机构", "filing_authority": "city"}
        )
    assert info.value.details["rule"] == 40


async def test_rule_41_absorbing_institution_keeps_its_code(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory
) -> None:
    absorbing = await make_institution()
    view = await registry.institution_view(absorbing["code"])
    assert view["code"] == absorbing["code"] and view["status"]["code"] == "active"


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
    await store.add_alias(pool, inst["id"], alias, "原鉴定所代码")
    v = await registry.institution_view(alias)
    assert v["code"] == inst["code"] and {"code": alias, "note": "原鉴定所代码"} in v["aliases"]


async def test_unknown_institution(registry: Registry) -> None:
    with pytest.raises(NotFound):
        await registry.institution_view(unique_henan_code(first="9"))


async def test_audit_log_is_append_only(pool: asyncpg.Pool) -> None:
    await store.audit(pool, "t", "test", None, {"x": 1})
    with pytest.raises(asyncpg.RaiseError):
        await pool.execute("DELETE FROM audit_log")
    with pytest.raises(asyncpg.RaiseError):
        await pool.execute("UPDATE audit_log SET actor = 'x'")

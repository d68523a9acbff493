"""Decisions over many certificates (rule 35) and their 复核 reversal (rule 36): each scope, each
one transaction that covers all of its scope or, when the scope is wrong, writes nothing."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import publish_batch, reviewer
from verify.crypto.signing import Signer
from verify.domain import errors
from verify.domain.events import (
    SCOPE_BATCH,
    SCOPE_CERTIFICATES,
    SCOPE_DECISION,
    SCOPE_ISSUED_BETWEEN,
    Decision,
    Scope,
)
from verify.services.registry import Registry

MB = 1 << 20


async def _batch(
    registry: Registry, signer: Signer, code: str, serials: range, issue_date: date = date(2025, 6, 18)
) -> tuple[str, list[str]]:
    rows = [Row(code, serial=s, issue_date=issue_date) for s in serials]
    result = await registry.import_batch(
        code, csv_bytes(rows), f"b{serials.start}.csv", actor="t", max_bytes=MB
    )
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    return result.batch_id, [number_of(r) for r in rows]


def _revocation(scope: Scope, category: str = "invalid_result") -> Decision:
    return Decision(scope, date(2026, 11, 20), category, "第十二条：当次考核组织严重违规", "河南省职业技能鉴定指导中心",
                    "豫职鉴〔2026〕12号", "官网公告")  # fmt: skip


async def _statuses(pool: asyncpg.Pool, numbers: list[str]) -> list[str]:
    rows = await pool.fetch(
        "SELECT status FROM certificates WHERE number = ANY($1::text[]) ORDER BY number", numbers
    )
    return [r["status"] for r in rows]


async def _events(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM certificate_events"))


async def test_rule_35_revokes_listed_certificates_and_part_of_a_batch(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    batch, numbers = await _batch(registry, signer, inst["code"], range(1, 6))
    done = await registry.decide(_revocation(Scope(SCOPE_CERTIFICATES, tuple(numbers[:2]))), actor="t")
    assert done["certificates"] == 2 and done["event"] == "revoked"
    assert await _statuses(pool, numbers) == ["revoked", "revoked", "active", "active", "active"]
    part = await registry.decide(
        _revocation(Scope(SCOPE_CERTIFICATES, (numbers[2],), batch=batch)), actor="t"
    )
    assert part["certificates"] == 1
    # rule 36: what was decided, by whom, under which document, served how: once, on the decision
    recorded = await registry.decision_view(done["decision_id"])
    assert (
        recorded["decided_by"] == "河南省职业技能鉴定指导中心"
        and recorded["document_ref"] == "豫职鉴〔2026〕12号"
    )
    assert recorded["served"] == "官网公告" and recorded["certificates"] == 2
    linked = await pool.fetchval(
        "SELECT count(*) FROM certificate_events e JOIN certificate_decisions d ON d.id = e.decision_id"
        " WHERE d.public_id = $1",
        done["decision_id"],
    )
    assert linked == 2


async def test_rule_35_a_wrong_list_writes_nothing(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    batch, numbers = await _batch(registry, signer, inst["code"], range(1, 4))
    other_batch, others = await _batch(registry, signer, inst["code"], range(10, 12))
    before = await _events(pool)
    unknown = numbers[0][:-6] + "999999"
    with pytest.raises(errors.InvalidInput) as refused:
        await registry.decide(_revocation(Scope(SCOPE_CERTIFICATES, (numbers[0], unknown))), actor="t")
    assert refused.value.details["missing"] == [unknown]
    with pytest.raises(errors.InvalidInput):  # part of a batch that names another batch's certificate
        await registry.decide(
            _revocation(Scope(SCOPE_CERTIFICATES, (numbers[0], others[0]), batch=batch)), actor="t"
        )
    await registry.decide(_revocation(Scope(SCOPE_CERTIFICATES, (numbers[1],))), actor="t")
    with pytest.raises(errors.InvalidInput) as again:  # already revoked: named, nothing written
        await registry.decide(_revocation(Scope(SCOPE_CERTIFICATES, (numbers[0], numbers[1]))), actor="t")
    assert again.value.details["not_active"] == {numbers[1]: "revoked"}
    assert await _statuses(pool, numbers) == ["active", "revoked", "active"]
    assert await _events(pool) == before + 1
    assert other_batch


async def test_rule_35_revokes_a_whole_batch_in_one_decision(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    batch, numbers = await _batch(registry, signer, inst["code"], range(1, 21))
    _, untouched = await _batch(registry, signer, inst["code"], range(30, 32))
    await registry.decide(_revocation(Scope(SCOPE_CERTIFICATES, (numbers[0],)), "fraud"), actor="t")
    done = await registry.decide(_revocation(Scope(SCOPE_BATCH, batch=batch)), actor="t")
    assert done["certificates"] == 19 and done["unchanged"] == 1
    assert set(await _statuses(pool, numbers)) == {"revoked"}
    assert await _statuses(pool, untouched) == ["active", "active"]
    # the certificate revoked earlier keeps its own decision as its latest event
    latest = await pool.fetchval(
        "SELECT reason_category FROM certificate_events WHERE number = $1 ORDER BY id DESC LIMIT 1",
        numbers[0],
    )
    assert latest == "fraud"
    with pytest.raises(errors.NotFound):
        await registry.decide(_revocation(Scope(SCOPE_BATCH, batch="BNOSUCHBATCH")), actor="t")


async def test_rule_35_revokes_what_an_institution_issued_in_a_date_range_after_termination(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    _, early = await _batch(registry, signer, inst["code"], range(1, 3), date(2024, 3, 1))
    _, inside = await _batch(registry, signer, inst["code"], range(3, 6), date(2025, 5, 1))
    await registry.set_status(inst["code"], "terminated", effective=date(2026, 1, 1), reason="第十四条",
                              document_ref="豫〔2026〕3号", actor="t")  # fmt: skip
    # rule 38: the termination itself voided nothing
    assert set(await _statuses(pool, early + inside)) == {"active"}
    scope = Scope(SCOPE_ISSUED_BETWEEN, institution=inst["code"], issued_from=date(2025, 1, 1),
                  issued_to=date(2025, 12, 31))  # fmt: skip
    done = await registry.decide(_revocation(scope, "institution_violation"), actor="t")
    assert done["certificates"] == 3
    assert await _statuses(pool, early) == ["active", "active"]
    assert set(await _statuses(pool, inside)) == {"revoked"}


async def test_rule_36_a_review_reverses_a_decision_and_keeps_the_history(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    batch, numbers = await _batch(registry, signer, inst["code"], range(1, 5))
    first = await registry.decide(_revocation(Scope(SCOPE_BATCH, batch=batch)), actor="t")
    one = numbers[0]
    back = Decision(Scope(SCOPE_DECISION, decision=first["decision_id"]), date(2026, 11, 25), "other",
                    "复核：原决定认定事实不清，予以撤销", "河南省人力资源和社会保障厅", "豫人社复〔2026〕1号")  # fmt: skip
    reversed_ = await registry.decide(back, actor="t")
    assert reversed_["event"] == "reinstated" and reversed_["certificates"] == 4
    assert set(await _statuses(pool, numbers)) == {"active"}
    history = await pool.fetch("SELECT event FROM certificate_events WHERE number = $1 ORDER BY id", one)
    assert [h["event"] for h in history] == ["revoked", "reinstated"]  # nothing deleted (rule 37)
    assert (await registry.decision_view(reversed_["decision_id"]))["event"] == "reinstated"
    with pytest.raises(errors.Conflict):  # a reversal is not itself reversed this way
        await registry.decide(
            Decision(Scope(SCOPE_DECISION, decision=reversed_["decision_id"]), date(2026, 11, 26), "other", "x", "y"),
            actor="t",
        )  # fmt: skip


async def test_rule_35_a_reviewer_decides_only_inside_its_jurisdiction(
    registry: Registry, pool: asyncpg.Pool, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()  # in city 4101
    batch, numbers = await _batch(registry, signer, inst["code"], range(1, 3))
    elsewhere = await reviewer(registry, "t-rev-4102", jurisdiction="4102")
    before = await _events(pool)
    with pytest.raises((errors.OutsideJurisdiction, errors.NotFound)):
        await registry.decide(
            _revocation(Scope(SCOPE_BATCH, batch=batch)), actor=elsewhere.actor, by=elsewhere
        )
    assert await _events(pool) == before and set(await _statuses(pool, numbers)) == {"active"}
    here = await reviewer(registry, "t-rev-4101", jurisdiction="4101")
    done = await registry.decide(_revocation(Scope(SCOPE_BATCH, batch=batch)), actor=here.actor, by=here)
    assert done["certificates"] == 2


def test_rule_35_scopes_are_checked_before_anything_is_read() -> None:
    with pytest.raises(errors.InvalidInput):
        Scope("everything").checked()
    with pytest.raises(errors.InvalidInput):
        Scope(SCOPE_ISSUED_BETWEEN, institution="S00004101", issued_from=date(2025, 2, 1),
              issued_to=date(2025, 1, 1)).checked()  # fmt: skip
    with pytest.raises(errors.InvalidInput):
        Scope(SCOPE_CERTIFICATES, tuple(f"Y{n:021d}" for n in range(10_001))).checked()
    assert Scope(
        SCOPE_CERTIFICATES, ("y 0000 41 01 0012 22 4 000007", "Y000041010012224000007")
    ).checked().numbers == ("Y000041010012224000007",)

"""The review workflow against the real database: states and illegal moves (rules 31, 32), the
reviewer's warnings (rules 33, 34), status decisions by effective date (rule 39), concurrent
reviewers and concurrent signers."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg
import pytest

from tests.conftest import ENC_KEY, INDEX_KEY, InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import reviewer
from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer
from verify.domain import errors
from verify.domain.batch.plan import BatchPlan
from verify.services import signer as signer_loop
from verify.services.registry import Registry

MB = 1 << 20


async def _submit(registry: Registry, code: str, rows: list[Row], **kwargs: object) -> str:
    result = await registry.import_batch(
        code, csv_bytes(rows), f"r{rows[0].serial}-{len(rows)}.csv", actor="institution:t", max_bytes=MB,
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    return result.batch_id


async def test_rule_32_publishing_needs_an_approval(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    batch = await _submit(registry, inst["code"], [Row(inst["code"], serial=1)])
    with pytest.raises(errors.InvalidTransition) as refused:
        await registry.publish(batch, actor="t", signer=signer)
    assert refused.value.details == {"state": "submitted", "action": "publish"}
    approved = await registry.approve_batch(await reviewer(registry), batch, note="材料齐全")
    assert approved["state"] == "approved" and approved["reviewed_by"] == "reviewer:t-reviewer"
    assert (await registry.publish(batch, actor="t", signer=signer))["state"] == "published"


async def test_rule_31_a_batch_records_its_plan_review_and_decision(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    plan = BatchPlan("豫鉴计划〔2025〕12号", date(2025, 5, 20), date(2025, 6, 10), None, None)
    batch = await _submit(
        registry, inst["code"], [Row(inst["code"], serial=1), Row(inst["code"], serial=2)], plan=plan
    )
    rejected = await registry.reject_batch(
        await reviewer(registry), batch, reason="成绩单与名册不符", rows=[{"line": 3, "reason": "考生未到考"}]
    )
    assert (
        rejected["plan"]["plan_ref"] == "豫鉴计划〔2025〕12号"
        and rejected["plan"]["assessed_on"] == "2025-06-10"
    )
    assert rejected["rows"] == 2 and rejected["state"] == "rejected" and rejected["reviewed_at"]
    assert rejected["decision"] == {
        "reason": "成绩单与名册不符",
        "rows": [{"line": 3, "reason": "考生未到考"}],
    }


async def test_illegal_moves_have_stable_reasons(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    batch = await _submit(registry, inst["code"], [Row(inst["code"], serial=1)])
    me = await reviewer(registry)
    await registry.approve_batch(me, batch)
    for move in (registry.approve_batch(me, batch), registry.reject_batch(me, batch, reason="x")):
        with pytest.raises(errors.InvalidTransition) as again:
            await move
        assert again.value.reason == "invalid_transition" and again.value.details["state"] == "approved"
    with pytest.raises(errors.InvalidInput):
        await registry.reject_batch(
            me, await _submit(registry, inst["code"], [Row(inst["code"], serial=9)]), reason=" "
        )


async def test_a_reviewer_cannot_approve_its_own_upload_or_outside_its_jurisdiction(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    zhengzhou = await make_institution()  # codes of the factory are Henan city 01 (4101)
    me = await reviewer(registry, "t-rev-kaifeng", "4102")
    batch = await _submit(registry, zhengzhou["code"], [Row(zhengzhou["code"], serial=1)])
    with pytest.raises(errors.OutsideJurisdiction):
        await registry.approve_batch(me, batch)
    local = await reviewer(registry, "t-rev-zhengzhou", "4101")
    own = (
        await registry.import_batch(
            zhengzhou["code"],
            csv_bytes([Row(zhengzhou["code"], serial=2)]),
            "own.csv",
            actor=local.actor,
            max_bytes=MB,
        )
    ).batch_id
    with pytest.raises(errors.OwnUpload):
        await registry.approve_batch(local, own)
    assert (await registry.approve_batch(local, batch))["state"] == "approved"


async def test_two_reviewers_approving_at_once_one_wins_one_conflicts(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    batch = await _submit(registry, inst["code"], [Row(inst["code"], serial=1)])
    a, b = await reviewer(registry, "t-rev-a"), await reviewer(registry, "t-rev-b")
    outcomes = await asyncio.gather(
        registry.approve_batch(a, batch), registry.approve_batch(b, batch), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidTransition", "dict"]


async def test_institution_withdraws_only_what_is_not_yet_reviewed(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    code = inst["code"]
    await registry.add_account(f"t-inst-{code.lower()}", "institution", display_name="机构", institution_code=code,
                               by=None, actor="t")  # fmt: skip
    from verify.db import accounts

    me = (await accounts.get_account(registry.pool, f"t-inst-{code.lower()}")).principal("token")
    first = await _submit(registry, code, [Row(code, serial=1)])
    assert (await registry.withdraw_batch(me, first, reason="文件传错"))["state"] == "withdrawn"
    second = await _submit(registry, code, [Row(code, serial=2)])
    await registry.approve_batch(await reviewer(registry), second)
    with pytest.raises(errors.InvalidTransition):
        await registry.withdraw_batch(me, second, reason="晚了")
    with pytest.raises(errors.RoleNotAllowed):
        await registry.approve_batch(me, second)


async def test_rule_33_late_results_are_a_warning_the_reviewer_sees(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    # assessed 2025-06-10; the test registry's today (2026-11-25) is far more than 10 working days later
    plan = BatchPlan(None, date(2025, 6, 3), date(2025, 6, 10), None, None)
    batch = await _submit(registry, inst["code"], [Row(inst["code"], serial=1)], plan=plan)
    detail = await registry.batch_detail(await reviewer(registry), batch)
    codes = {w["code"]: w for w in detail["warnings"]}
    assert codes["plan_filed_late"]["rule"] == 33 and codes["results_late"]["rule"] == 33


async def test_rule_34_holders_not_on_the_filed_roster_are_flagged(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=i) for i in (1, 2, 3)]
    roster = ("证件类型,证件号码\n" + "".join(f"居民身份证,{r.id_number}\n" for r in rows[:2])).encode()
    batch = await _submit(registry, inst["code"], rows, roster=(roster, "名册.csv"))
    detail = await registry.batch_detail(await reviewer(registry), batch)
    off = [w for w in detail["warnings"] if w["code"] == "not_on_roster"]
    assert [(w["line"], w["rule"]) for w in off] == [(4, 34)]
    assert detail["plan"]["roster_size"] == 2  # rule 31: the roster's size is part of the batch record
    assert rows[2].id_number not in str(detail)
    bad_roster = b"\xe8\xaf\x81\xe4\xbb\xb6\xe5\x8f\xb7\xe7\xa0\x81\n123\n"  # 证件号码 / 123
    with pytest.raises(errors.BatchRejected) as refused:
        await _submit(registry, inst["code"], [Row(inst["code"], serial=7)], roster=(bad_roster, "r.csv"))
    assert refused.value.problems[0].line == 2


def _registry_on(pool: asyncpg.Pool, test_dsn: str, day: date) -> Registry:
    return Registry(pool, IdProtector(INDEX_KEY, ENC_KEY), id_keys=IdKeys(INDEX_KEY, ENC_KEY), today=lambda: day,
                    dsn=test_dsn)  # fmt: skip


async def test_rule_39_a_suspension_dated_ahead_applies_from_its_day(
    registry: Registry, pool: asyncpg.Pool, test_dsn: str, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    code = inst["code"]
    await registry.set_status(code, "suspended", effective=date(2026, 12, 15), reason="第十三条：限期整改",
                              document_ref=None, actor="t")  # fmt: skip
    view = await registry.institution_view(code)
    assert view["status"]["code"] == "active"  # recorded today (2026-11-25), in force from 12-15
    await _submit(registry, code, [Row(code, serial=1)])
    later = _registry_on(pool, test_dsn, date(2026, 12, 16))
    with pytest.raises(errors.Forbidden) as refused:
        await _submit(later, code, [Row(code, serial=2)])
    assert refused.value.details["rule"] == 39
    assert (await later.institution_view(code))["status"]["code"] == "suspended"
    # put the shared database back the way other tests expect "today" to see it
    await pool.execute("UPDATE institutions SET status = 'active' WHERE code = $1", code)


async def test_rule_39_rows_dated_inside_a_past_suspension_are_refused(
    registry: Registry, make_institution: InstitutionFactory
) -> None:
    inst = await make_institution()
    code = inst["code"]
    await registry.set_status(
        code, "suspended", effective=date(2025, 3, 1), reason="暂停", document_ref=None, actor="t"
    )
    await registry.set_status(
        code, "active", effective=date(2025, 5, 1), reason="整改完成", document_ref=None, actor="t"
    )
    inside = Row(code, serial=1, issue_date=date(2025, 4, 2))
    with pytest.raises(errors.BatchRejected) as refused:
        await _submit(registry, code, [inside, Row(code, serial=2, issue_date=date(2025, 2, 27))])
    assert [(p.line, p.code, p.rule) for p in refused.value.problems] == [
        (2, "issuer_not_active_on_date", 39)
    ]
    await _submit(registry, code, [Row(code, serial=3, issue_date=date(2025, 2, 27)), Row(code, serial=4)])
    # a backdated decision does not undo a later one
    await registry.set_status(
        code, "suspended", effective=date(2025, 4, 1), reason="补记", document_ref=None, actor="t"
    )
    assert (await registry.institution_view(code))["status"]["code"] == "active"


async def test_two_signers_never_publish_one_batch_twice(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer, pool: asyncpg.Pool
) -> None:
    # Earlier tests may have left approved batches: drain them first, so the queue holds only ours.
    await signer_loop.drain(registry, actor="signer:t", signer=signer)
    inst = await make_institution()
    ids = [await _submit(registry, inst["code"], [Row(inst["code"], serial=i)]) for i in (1, 2, 3)]
    me = await reviewer(registry)
    for batch in ids:
        await registry.approve_batch(me, batch)
    first, second = await asyncio.gather(
        signer_loop.drain(registry, actor="signer:a", signer=signer),
        signer_loop.drain(registry, actor="signer:b", signer=signer),
    )
    published = [r["batch_id"] for r in first + second]
    assert sorted(published) == sorted(ids)
    count = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'batch.publish' AND target = ANY($1)", ids
    )
    assert count == 3
    rows = await pool.fetchval("SELECT count(*) FROM certificate_signatures WHERE number = $1",
                               number_of(Row(inst["code"], serial=1)))  # fmt: skip
    assert rows == 1


async def test_the_running_signer_is_woken_by_an_approval(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    batch = await _submit(registry, inst["code"], [Row(inst["code"], serial=1)])
    published: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        signer_loop.run(
            registry,
            actor="signer:t",
            signer=signer,
            poll_seconds=60,
            on_publish=lambda r: published.put_nowait(r["batch_id"]),
        )  # fmt: skip
    )
    try:
        await asyncio.sleep(0.3)
        await registry.approve_batch(await reviewer(registry), batch)
        seen = []
        while batch not in seen:  # other tests' approved batches may come first
            seen.append(await asyncio.wait_for(published.get(), 10))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

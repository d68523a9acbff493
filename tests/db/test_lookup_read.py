"""A throttled public lookup reads the certificates inside the throttle's admission statement (one
round trip to the primary instead of two, docs/DECISIONS.md D31) and answers exactly as the plain
read does."""

from __future__ import annotations

import secrets
from datetime import date

import asyncpg
import pytest

from tests.conftest import InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.windows import in_a_fresh_window
from tests.workflow import publish_batch
from verify.crypto.signing import Signer
from verify.db import certificates, throttle
from verify.domain.errors import RateLimited
from verify.services.registry import Registry

MB = 1 << 20


def _address() -> str:
    return f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


async def test_throttled_lookups_answer_as_the_plain_read(
    registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    inst = await make_institution()
    holder = holder_id()
    rows = [
        Row(inst["code"], serial=1, id_number=holder, level=4, issue_date=date(2024, 6, 18)),
        Row(inst["code"], serial=2, id_number=holder, level=3, issue_date=date(2025, 6, 18)),
    ]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "two.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")

    plain = await registry.lookup_by_id(holder, "张三")
    throttled = await registry.lookup_by_id(holder, "张三", client=_address())
    assert throttled == plain
    assert [p.certificate.number for p in throttled.certificates] == [number_of(rows[1]), number_of(rows[0])]

    by_number = await registry.lookup_by_number(number_of(rows[0]), "张三", client=_address())
    assert by_number == await registry.lookup_by_number(number_of(rows[0]), "张三")
    assert by_number.found and by_number.certificates[0].certificate.number == number_of(rows[0])
    wrong_name = await registry.lookup_by_number(number_of(rows[0]), "李四", client=_address())
    assert not wrong_name.found


async def test_the_admission_counts_even_when_the_read_finds_nothing(pool: asyncpg.Pool) -> None:
    address, target = secrets.token_bytes(16), secrets.token_bytes(16)
    for hits in (1, 2, 3):
        admission, found = await throttle.admit_and_read(
            pool, address, 60, target, certificates.BY_NUMBER, "Y000041010012224999998"
        )
        assert found == [] and admission.hits == hits and not admission.target_known


async def test_the_budget_holds_on_the_one_round_trip_path(registry: Registry) -> None:
    address = _address()
    per_address = registry.throttle.policy.per_address
    await in_a_fresh_window(registry.throttle.policy)
    for _ in range(per_address):
        await registry.lookup_by_id(holder_id(), "张三", client=address)
    with pytest.raises(RateLimited):
        await registry.lookup_by_id(holder_id(), "张三", client=address)

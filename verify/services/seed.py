"""Synthetic, realistic registry data for demos, tests and benchmarks (``verify seed``).

Everything generated passes the same checks as an upload: valid number formats and Henan city
codes, check-digit-valid IDs, scopes that cover every certificate on its issue date, serials in
order per (站点, year, level). Rows go in with COPY in chunks, so a million certificates load in
about a minute rather than hours.

Published seed batches are signed like a publication (``verify.crypto.issuance``): each chunk's
records are signed in worker processes while the next chunk is generated, so signing adds little
to the wall time, and every seeded certificate has its QR payload.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import operator
import os
import random
import secrets
import sys
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from verify.crypto import issuance
from verify.crypto.idprotect import IdProtector
from verify.db import audit, batches, signatures
from verify.db import institutions as institution_rows
from verify.db.certificates import Placed, copy_certificates
from verify.db.pool import Conn, Pool, transaction
from verify.domain import codes, names, occupations
from verify.domain import payload as qr_payload
from verify.domain.certificate import ELECTRONIC, PAPER, RECORD_FIELDS, Certificate
from verify.domain.holder_ids import IdType, id_tail, make_resident_id
from verify.domain.institution import DEFAULT_STANDARD, SPECIAL_ASSESSOR, SPECIAL_STANDARD, Scope

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰志强永辉丹丹晓东海燕春梅文博子涵欣怡浩然雨轩梓萱宇航佳琪思远嘉怡俊杰"
HENAN_REGIONS = (
    "410102", "410103", "410105", "410122", "410202", "410302", "410305", "410402", "410502", "410602",
    "410702", "410802", "410902", "411002", "411102", "411202", "411302", "411402", "411502", "411602",
    "411702", "419001",
)  # fmt: skip
ORG_WORDS = ("职业技能培训学校", "职业技能评价中心", "技能人才评价有限公司", "机械制造有限公司", "汽车服务有限公司",
             "家政服务有限公司", "建设集团有限公司", "餐饮管理有限公司")  # fmt: skip


@dataclass(slots=True)
class InstitutionPlan:
    fields: dict[str, Any]
    scopes: list[Scope]
    special: bool = False
    id: int = 0


@dataclass(slots=True)
class SeedReport:
    institutions: int = 0
    certificates: int = 0
    batches: int = 0
    signed: int = 0
    kid: str | None = None
    # With ``sample=N``: N seeded certificates as load generators use them (see ``sample_line``).
    sample: list[dict[str, str]] = field(default_factory=list)


def random_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def random_id(rng: random.Random) -> str:
    birth = date(1962, 1, 1) + timedelta(days=rng.randrange(365 * 42))
    return make_resident_id(rng.choice(HENAN_REGIONS), birth, rng.randrange(1, 1000))


def special_scopes(projects: Iterable[str], since: date) -> list[Scope]:
    """Filed scope rows for 专项 projects (no code, no 工种, no level)."""
    return [Scope("", p, "--", None, since, None, SPECIAL_STANDARD) for p in projects]


def occupation_scopes(occupation_codes: Iterable[str], since: date) -> list[Scope]:
    """Filed scope rows for every 工种 and level of these occupations in the reference table."""
    chosen = set(occupation_codes)
    return [
        Scope(s.code, s.name, s.job, level, since, None, DEFAULT_STANDARD)
        for s in occupations.SCOPES
        if s.code in chosen
        for level in s.levels
    ]


def _scopes_for(rng: random.Random, since: date, special: bool) -> list[Scope]:
    if special:
        return special_scopes(
            rng.sample(occupations.SPECIAL_PROJECTS, k=min(3, len(occupations.SPECIAL_PROJECTS))), since
        )
    return occupation_scopes(rng.sample(occupations.OCCUPATION_CODES, k=rng.randint(2, 4)), since)


def plan_institutions(
    rng: random.Random, count: int, today: date, taken: frozenset[str] = frozenset()
) -> list[InstitutionPlan]:
    """``count`` institutions: mostly Henan 评价机构/站点, some national, some 专项 考核机构."""
    plans: list[InstitutionPlan] = []
    used: set[str] = set(taken)  # codes already in the registry, retired ones included (rule 40)
    henan_cities = sorted(codes.HENAN_CITIES)
    provinces = sorted(p for p in codes.NUMBER_PROVINCES if p != "41")
    while len(plans) < count:
        roll = rng.random()
        filed = date(2019, 6, 1) + timedelta(days=rng.randrange(700))
        special = roll > 0.93
        if special:
            code = f"16{rng.randint(1, 17):02d}5{rng.randint(1, 999):03d}"
            kind, authority, province, city = SPECIAL_ASSESSOR, "city", "41", None
            name = (
                f"{rng.choice(('郑州', '开封', '洛阳', '新乡', '南阳'))}市{rng.choice(ORG_WORDS)}专项考核站"
            )
        elif roll > 0.83:
            province = rng.choice(provinces)
            letter = rng.choice("YS")
            code = f"{letter}{rng.choice(('0000', f'{rng.randint(1, 9999):04d}'))}{province}{rng.randint(1, 999999):06d}"
            kind = "employer" if letter == "Y" else "social"
            authority, city = ("national" if code[1:5] != "0000" else "province"), None
            name = f"{codes.NUMBER_PROVINCES[province]}{rng.choice(ORG_WORDS)}"
        else:
            province, city = "41", rng.choice(henan_cities)
            letter = rng.choice("YYS")
            school = letter == "Y" and rng.random() < 0.15
            first = "9" if school else str(rng.randint(0, 8))
            code = f"{letter}0000{province}{city}{first}{rng.randint(1, 999):03d}"
            kind = "technical_school" if school else ("employer" if letter == "Y" else "social")
            authority = "province" if city == "00" else "city"
            name = (
                f"{codes.HENAN_CITIES[city].rstrip('市县')}技师学院职业技能等级认定中心"
                if school
                else f"{codes.HENAN_CITIES[city].rstrip('市县')}{rng.choice(ORG_WORDS)}"
            )
        if code in used:
            continue
        used.add(code)
        fields: dict[str, Any] = {
            "code": code,
            "kind": kind,
            "name": f"{name}（{len(plans) + 1:04d}）",
            "filing_number": code,
            "filing_authority": authority,
            "filing_date": filed,
            "filing_expires": filed + timedelta(days=3 * 365),
            "province_code": province,
            "city_code": city,
            "address": f"{codes.NUMBER_PROVINCES.get(province, '')}某区示例路 {rng.randint(1, 300)} 号",
            "phone": f"0371-{rng.randint(60000000, 69999999)}",
            "complaint_channel": "0371-12333",
            "status": "active",
            "status_since": filed,
        }
        plans.append(InstitutionPlan(fields, _scopes_for(rng, filed, special), special))
    return plans


def generate_certificates(
    rng: random.Random,
    plans: list[InstitutionPlan],
    count: int,
    batch_ids: dict[tuple[int, int], int],
    protector: IdProtector,
    today: date,
) -> Iterator[Placed]:
    """``count`` certificates spread over the planned institutions, each in its (institution, year)
    batch; serials in order per (站点, year, level), every one inside its issuer's scope."""
    serials: dict[tuple[str, int, int | None], int] = defaultdict(int)
    resident = IdType.RESIDENT
    for i in range(count):
        plan = plans[i % len(plans)]
        scope = plan.scopes[rng.randrange(len(plan.scopes))]
        start = max(scope.effective_from, date(2019, 1, 1))
        issue = start + timedelta(days=rng.randrange(max(1, (today - start).days)))
        key = plan.fields["code"]
        serials[(key, issue.year, scope.level)] += 1
        serial = serials[(key, issue.year, scope.level)]
        if plan.special:
            number = f"{issue.year % 100:02d}{key}{serial:05d}"
            kind = codes.CodeKind.SPECIAL_ABILITY
        else:
            number = f"{key}{issue.year % 100:02d}{scope.level}{serial:06d}"
            kind = codes.CodeKind.SKILL_LEVEL_HENAN if key[5:7] == "41" else codes.CodeKind.SKILL_LEVEL
        holder = random_name(rng)
        id_number = random_id(rng)
        certificate = Certificate(
            number=number,
            kind=kind,
            holder_name=holder,
            name_key=names.name_key(holder),
            id_type=resident,
            id_index=protector.blind_index(resident, id_number),
            id_cipher=protector.encrypt(resident, id_number, aad=number.encode()),
            id_tail=id_tail(id_number),
            occupation_code=scope.occupation_code,
            occupation_name=scope.occupation_name,
            job=scope.job,
            level=scope.level,
            issue_date=issue,
            issue_form=PAPER if rng.random() < 0.8 else ELECTRONIC,
            assessment_method="考试考核",
        )
        yield certificate, plan.id, batch_ids[(plan.id, issue.year)]


async def year_batches(
    conn: Conn,
    plans: list[InstitutionPlan],
    today: date,
    *,
    tag: str,
    published: bool,
    first_year: Callable[[InstitutionPlan], int],
    ids: Callable[[InstitutionPlan, int], tuple[str, str]],
) -> dict[tuple[int, int], int]:
    """One batch per (planned institution, year) up to this year, tagged ``submitted_by=tag``;
    ``ids`` gives each its public id and file digest. Returns (institution id, year) -> batch id."""
    batch_ids: dict[tuple[int, int], int] = {}
    for plan in plans:
        for year in range(first_year(plan), today.year + 1):
            public_id, digest = ids(plan, year)
            batch_ids[(plan.id, year)] = await batches.insert_batch(
                conn,
                public_id=public_id,
                institution_id=plan.id,
                file_sha256=digest,
                filename=f"{tag}-{plan.fields['code']}-{year}.csv",
                file_format="csv",
                row_count=0,
                submitted_by=tag,
                state="published" if published else "submitted",
            )
    return batch_ids


async def file_plans(conn: Conn, plans: list[InstitutionPlan]) -> None:
    """Insert the planned institutions with their scopes; sets each plan's id."""
    for plan in plans:
        plan.id = await institution_rows.insert_institution(conn, plan.fields)
        await institution_rows.add_scopes(conn, plan.id, plan.scopes)


# --------------------------------------------------------------------------------------------------
# Signing in worker processes (the records travel as plain tuples of RECORD_FIELDS values, which
# pickle several times faster than Certificate objects; the signer goes over once per worker).

_record_values = operator.attrgetter(*RECORD_FIELDS)
_WORKER_SIGNER: issuance.SignerLike | None = None


def _start_signer(signer: issuance.SignerLike) -> None:
    global _WORKER_SIGNER
    _WORKER_SIGNER = signer


def _sign_part(values: list[tuple[Any, ...]]) -> list[tuple[str, str, bytes]]:
    """``issuance.sign_certificates`` for one part, in a worker process."""
    assert _WORKER_SIGNER is not None, "worker started without a signer"
    return issuance.sign_certificates(
        [dict(zip(RECORD_FIELDS, v, strict=True)) for v in values], _WORKER_SIGNER
    )


class _Signing:
    """Signs chunks in a process pool while the caller generates the next ones, and COPYs each
    part's payloads once it is signed (in order, a bounded number of parts in flight). With
    ``workers=0`` it signs in a thread instead (the signer must pickle for the process pool)."""

    def __init__(self, conn: Conn, signer: issuance.SignerLike, workers: int) -> None:
        self.conn, self.signer = conn, signer
        self.pending: deque[asyncio.Future[list[tuple[str, str, bytes]]]] = deque()
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.workers = workers
        self.signed = 0
        self.on_signed: Callable[[list[tuple[str, str, bytes]]], None] | None = None
        if workers > 0:
            context = multiprocessing.get_context("forkserver" if sys.platform != "win32" else "spawn")
            self.pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_start_signer, initargs=(signer,)
            )

    async def submit(self, certs: list[Certificate]) -> None:
        if self.pool is None:
            future = asyncio.ensure_future(asyncio.to_thread(issuance.sign_certificates, certs, self.signer))
            self.pending.append(future)
        else:
            values = [_record_values(c) for c in certs]
            loop = asyncio.get_running_loop()
            # Parts of about 5,000 keep both workers busy without a long tail at the end.
            step = max(1, min(5_000, -(-len(values) // self.workers)))
            for start in range(0, len(values), step):
                self.pending.append(loop.run_in_executor(self.pool, _sign_part, values[start : start + step]))
        while len(self.pending) > 2 * self.workers + 2:
            await self._store(self.pending.popleft())

    async def drain(self) -> None:
        while self.pending:
            await self._store(self.pending.popleft())

    async def _store(self, future: asyncio.Future[list[tuple[str, str, bytes]]]) -> None:
        rows = await future
        await signatures.copy_signatures(self.conn, rows)
        self.signed += len(rows)
        if self.on_signed is not None:
            self.on_signed(rows)

    def close(self) -> None:
        for future in self.pending:
            future.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def sample_line(
    cert: Certificate, institution: str, signed: bytes, protector: IdProtector, public_url: str
) -> dict[str, str]:
    """One seeded certificate as load generators use it: number, name, the decrypted ID, the path
    of its QR URL and its issuer's code."""
    id_type, id_number = protector.decrypt(cert.id_cipher, aad=cert.number.encode())
    url = qr_payload.qr_url(public_url, signed)
    return {
        "number": cert.number,
        "name": cert.holder_name,
        "id_type": id_type.value,
        "id_number": id_number,
        "qr_path": urlsplit(url).path,
        "institution": institution,
    }


async def seed(
    pool: Pool,
    protector: IdProtector,
    *,
    institutions: int,
    certificates: int,
    today: date,
    rng_seed: int | None = None,
    published: bool = True,
    tag: str = "seed",
    chunk: int = 20_000,
    signer: issuance.SignerLike | None = None,
    sign_workers: int | None = None,
    sample: int = 0,
    public_url: str = "http://127.0.0.1:8000",
) -> SeedReport:
    """Generate and store institutions, scopes, batches and certificates, in one transaction.

    With ``published`` and a ``signer`` every certificate is signed as publication signs it
    (``sign_workers`` processes, default one per core; 0 signs in a thread) and its payload stored,
    so it verifies from its QR at once. Without a signer published batches are left unsigned
    (lookups work, QR codes do not; only benchmarks of lookups want that). ``sample=N`` returns N
    certificates chosen at random, with decrypted IDs (an audited read, like the demo listing).
    Raises Conflict on code clashes, ValueError for a sample without signing."""
    if sample and not (published and signer is not None):
        raise ValueError("a sample needs signed, published certificates")
    rng = random.Random(rng_seed if rng_seed is not None else secrets.randbits(64))
    # Drawn apart from ``rng``, so the generated data is the same with or without a sample.
    pick_rng = random.Random(secrets.randbits(64) if rng_seed is None else rng_seed + 1)
    picks = set(pick_rng.sample(range(certificates), min(sample, certificates)))
    plans = plan_institutions(
        rng, institutions, today, frozenset(await institution_rows.all_institution_codes(pool))
    )
    report = SeedReport(institutions=len(plans))
    codes_by_id: dict[int, str] = {}
    sampled: dict[str, tuple[Certificate, str]] = {}
    payloads: dict[str, bytes] = {}
    async with transaction(pool) as conn:
        await file_plans(conn, plans)
        codes_by_id = {plan.id: plan.fields["code"] for plan in plans}
        batch_ids = await year_batches(
            conn, plans, today, tag=tag, published=published,
            first_year=lambda plan: max(2019, plan.fields["filing_date"].year),
            ids=lambda plan, year: ("B" + secrets.token_hex(8).upper(), f"{tag}:{secrets.token_hex(16)}"),
        )  # fmt: skip
        signing: _Signing | None = None
        if published and signer is not None:
            workers = (os.cpu_count() or 1) if sign_workers is None else sign_workers
            signing = _Signing(conn, signer, workers)
            if picks:
                signing.on_signed = lambda rows: payloads.update(
                    (number, data) for number, _kid, data in rows if number in sampled
                )
        try:
            rows = generate_certificates(rng, plans, certificates, batch_ids, protector, today)
            buffer: list[Placed] = []
            for i, row in enumerate(rows):
                buffer.append(row)
                if i in picks:
                    sampled[row[0].number] = (row[0], codes_by_id[row[1]])
                if len(buffer) >= chunk:
                    await _store_chunk(conn, buffer, signing)
                    report.certificates += len(buffer)
                    buffer = []
            if buffer:
                await _store_chunk(conn, buffer, signing)
                report.certificates += len(buffer)
            if signing is not None:
                await signing.drain()
                report.signed, report.kid = signing.signed, signing.signer.kid
        finally:
            if signing is not None:
                signing.close()
        await batches.count_rows(conn, tag)
        report.batches = len(batch_ids)
        await audit.audit(
            conn, f"cli:{tag}", "seed", None,
            {"institutions": len(plans), "certificates": certificates, "signed": report.signed,
             "kid": report.kid},
        )  # fmt: skip
        if sampled:
            report.sample = [
                sample_line(cert, code, payloads[number], protector, public_url)
                for number, (cert, code) in sampled.items()
            ]
            # Decrypted ID numbers leave the database: an authorised, audited read (as demo.certificates).
            await audit.audit(conn, f"cli:{tag}", "seed.sample", None, {"certificates": len(report.sample)})
    return report


async def _store_chunk(conn: Conn, buffer: list[Placed], signing: _Signing | None) -> None:
    await copy_certificates(conn, buffer)
    if signing is not None:
        await signing.submit([c for c, _, _ in buffer])

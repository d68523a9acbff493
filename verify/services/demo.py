"""The demo dataset that ``make run`` loads: a handful of institutions that show every status a
user can meet (active, suspended, merged with a retired code, a 技工院校 centre, a national
institution, a 专项 考核机构) and a few hundred published certificates.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from verify.crypto import issuance
from verify.crypto.idprotect import IdProtector
from verify.db import audit, batches, institutions, signatures
from verify.db import certificates as certificate_rows
from verify.db.pool import Executor, Pool, transaction
from verify.domain import occupations
from verify.domain.clock import today_cst
from verify.domain.events import CertificateEvent
from verify.domain.institution import SPECIAL_ASSESSOR
from verify.services import seed

TAG = "demo"
RNG_SEED = 20261125
CERTIFICATES = 300

_SCOPE_CODES = {
    "S000041010012": ("4-10-01-06", "4-12-01-01"),
    "Y000041009003": ("6-18-01-01", "6-20-01-01"),
    "Y000141000001": ("6-20-01-01", "4-12-01-01"),
    "S000011000001": ("4-10-01-06",),
    "S000041030007": ("4-12-01-01",),
}

INSTITUTIONS: list[dict[str, Any]] = [
    {"code": "S000041010012", "kind": "social", "name": "郑州市中原职业技能评价中心（演示）", "short_name": "中原评价中心",
     "filing_authority": "city", "province_code": "41", "city_code": "01", "address": "河南省郑州市金水区示例路 1 号",
     "phone": "0371-60000001", "website": "https://example.org/zhongyuan", "complaint_channel": "0371-12333"},
    {"code": "Y000041009003", "kind": "technical_school", "name": "河南省示范技师学院职业技能等级认定中心（演示）",
     "filing_authority": "province", "province_code": "41", "city_code": "00", "address": "河南省郑州市示例路 9 号",
     "phone": "0371-60000009", "complaint_channel": "0371-12333"},
    {"code": "Y000141000001", "kind": "employer", "name": "中国示例装备集团有限公司河南分公司（演示）",
     "filing_authority": "national", "province_code": "41", "city_code": "00", "parent_code": "Y0001",
     "address": "河南省洛阳市示例路 100 号", "phone": "0379-60000100", "complaint_channel": "0379-12333"},
    {"code": "S000011000001", "kind": "social", "name": "北京示例职业技能评价有限公司（演示）",
     "filing_authority": "province", "province_code": "11", "address": "北京市朝阳区示例路 8 号",
     "phone": "010-60000008", "complaint_channel": "010-12333"},
    {"code": "S000041030007", "kind": "social", "name": "洛阳示例汽车技能评价中心（演示）",
     "filing_authority": "city", "province_code": "41", "city_code": "03", "address": "河南省洛阳市示例路 7 号",
     "phone": "0379-60000007", "complaint_channel": "0379-12333"},
    {"code": "16015001", "kind": "special_assessor", "name": "郑州市示例专项职业能力考核站（演示）",
     "filing_authority": "city", "province_code": "41", "city_code": "01", "address": "河南省郑州市示例路 5 号",
     "phone": "0371-60000005", "complaint_channel": "0371-12333"},
]  # fmt: skip

MERGED = {
    "code": "S000041020001", "kind": "social", "name": "开封示例职业技能评价中心（演示，已并入中原评价中心）",
    "filing_authority": "city", "province_code": "41", "city_code": "02", "address": "河南省开封市示例路 2 号",
    "status": "merged", "status_since": date(2023, 3, 1), "merged_into": "S000041010012",
    "filing_date": date(2019, 9, 1), "filing_expires": date(2022, 9, 1),
}  # fmt: skip

FILED = date(2019, 7, 1)


def _plans() -> list[seed.InstitutionPlan]:
    plans = []
    for fields in INSTITUTIONS:
        f = {"filing_number": fields["code"], "filing_date": FILED, "filing_expires": date(2027, 6, 30),
             "status": "active", "status_since": FILED, **fields}  # fmt: skip
        special = f["kind"] == SPECIAL_ASSESSOR
        if special:
            scopes = seed.special_scopes(occupations.SPECIAL_PROJECTS[:3], FILED)
        else:
            scopes = seed.occupation_scopes(_SCOPE_CODES[f["code"]], FILED)
        plans.append(seed.InstitutionPlan(f, scopes, special))
    return plans


async def is_loaded(pool: Executor) -> bool:
    return await batches.any_submitted_by(pool, TAG)


async def load(pool: Pool, protector: IdProtector, *, today: date, signer: issuance.SignerLike) -> bool:
    """Load the demo dataset once, signed with ``signer``; returns False when it was already there."""
    if await is_loaded(pool):
        return False
    rng = random.Random(RNG_SEED)
    plans = _plans()
    async with transaction(pool) as conn:
        await seed.file_plans(conn, plans)
        batch_ids = await seed.year_batches(
            conn, plans, today, tag=TAG, published=True, first_year=lambda plan: 2019,
            ids=lambda plan, year: (f"BDEMO{plan.id:03d}{year}", f"{TAG}:{plan.fields['code']}:{year}"),
        )  # fmt: skip
        placed = list(seed.generate_certificates(rng, plans, CERTIFICATES, batch_ids, protector, today))
        await certificate_rows.copy_certificates(conn, placed)
        await batches.count_rows(conn, TAG)
        for batch_id in batch_ids.values():
            await signatures.copy_signatures(
                conn,
                issuance.sign_certificates(await signatures.batch_records_to_sign(conn, batch_id), signer),
            )
        # One revoked and one superseded certificate, so every verdict can be tried (rules 35-36).
        first = [c.number for c, institution_id, _ in placed if institution_id == plans[0].id][:3]
        for event in (
            CertificateEvent(first[1], "revoked", date(2025, 3, 1), "fraud", "第八条：冒名顶替（演示）",
                             "河南省职业技能鉴定指导中心", "豫示〔2025〕3号", "官网公告"),
            CertificateEvent(first[2], "superseded", date(2025, 5, 1), "data_error", "数据更正：姓名录入错误（演示）",
                             "郑州市中原职业技能评价中心（演示）", None, "书面送达", superseded_by=first[0]),
        ):  # fmt: skip
            await certificate_rows.record_certificate_event(conn, event, recorded_by="cli:demo")
        # A suspended institution: its earlier certificates stay valid (rule 38), new uploads are refused (rule 39).
        suspended = next(p for p in plans if p.fields["code"] == "S000041030007")
        await institutions.set_institution_status(
            conn, suspended.id, "suspended", date(2026, 6, 1), reason="第十三条：限期整改期间暂停评价活动",
            document_ref="豫人社示例〔2026〕1号", decided_by="河南省职业技能鉴定指导中心", today=today_cst(),
        )  # fmt: skip
        # A merged (并入) institution: its code goes to the 废置库 and stays resolvable (rules 40-41).
        merged_id = await institutions.insert_institution(conn, MERGED)
        await institutions.retire_code(
            conn, merged_id, str(MERGED["code"]), date(2023, 3, 1), "并入 S000041010012"
        )
        await institutions.add_alias(conn, plans[1].id, "豫鉴0123", "原鉴定所（站）代码（规则 52）")
        await audit.audit(conn, "cli:demo", "demo.load", None, {"certificates": CERTIFICATES})
    return True


async def certificates(pool: Executor, protector: IdProtector) -> list[dict[str, str]]:
    """Demo certificates with their synthetic ID numbers (decrypted: an authorised, audited view)."""
    rows = await certificate_rows.certificates_submitted_by(pool, TAG)
    await audit.audit(pool, "cli:demo", "demo.list", None, {"certificates": len(rows)})
    out = []
    for r in rows:
        id_type, id_number = protector.decrypt(r["id_cipher"], aad=r["number"].encode())
        out.append(
            {
                "number": r["number"],
                "name": r["holder_name"],
                "id_type": id_type.value,
                "id_number": id_number,
                "kind": r["kind"],
                "status": r["status"],
                "institution": r["issuer_code"],
                "institution_name": r["issuer_name"],
            }
        )
    return out

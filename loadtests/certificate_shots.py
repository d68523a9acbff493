"""One image per certificate layout for the README (``make screenshots``): the 职业技能等级证书 (A4),
one issued by a 站点 (two seal areas) and the 河南省专项职业能力证书 on its A5 page, drawn by the real
renderer from synthetic records (no database, no personal data), at 1200 px wide."""

from __future__ import annotations

import io
import sys
from dataclasses import replace
from datetime import date

from PIL import Image

from loadtests.screenshots import OUT
from verify.domain import payload
from verify.domain.certificate import Certificate
from verify.domain.codes import CodeKind
from verify.domain.holder_ids import IdType
from verify.domain.printed import printed
from verify.render import certificate

SKILL = Certificate(
    number="S000041010012254000001", kind=CodeKind.SKILL_LEVEL, holder_name="欧阳𠮷", name_key="",
    id_type=IdType.RESIDENT, id_index=b"", id_cipher=b"", id_tail="002X", occupation_code="6-31-01-03",
    occupation_name="工业机器人系统运维员", job="", level=4, issue_date=date(2026, 11, 3), print_serial="00000001",
)  # fmt: skip
SPECIAL = replace(
    SKILL, number="261601500100001", kind=CodeKind.SPECIAL_ABILITY, occupation_code="", occupation_name="家居清洁",
    job="--", level=None, holder_name="迪丽热巴·艾力", extra={"gender": "女", "education": "高中", "score": "合格"},
)  # fmt: skip
LAYOUTS = {
    "certificate-skill.png": (SKILL, "郑州市中原职业技能评价中心（演示）", None),
    "certificate-branch.png": (
        SKILL,
        "郑州市中原职业技能评价中心金水站点（演示）",
        "郑州市中原职业技能评价中心（演示）",
    ),
    "certificate-special.png": (SPECIAL, "郑州市示例专项职业能力考核站（演示）", None),
}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    url = payload.qr_url("https://verify.example.cn", bytes(range(150)))
    for name, (cert, issuer, parent) in LAYOUTS.items():
        page = printed(cert, issuer=issuer, parent_issuer=parent, id_number=None, qr_url=url,
                       certificate_site="http://jndj.osta.org.cn", institution_site="http://pjjg.osta.org.cn",
                       province_site="http://ha.osta.org.cn")  # fmt: skip
        image = Image.open(io.BytesIO(certificate.render(page, "png", dpi=certificate.PHONE_DPI))).convert(
            "RGB"
        )
        image = image.resize((1200, round(1200 * image.height / image.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(OUT / name, optimize=True)
        print(f"  {OUT / name}: {(OUT / name).stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

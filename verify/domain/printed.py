"""What a printed or electronic certificate says: its texts, field by field, in both languages.

The words come from the reference styles (docs/RULES.md §3): 人社鉴发〔2021〕1号 样式（一）/（二）
for the 职业技能等级证书 and the 河南省专项职业能力证书 sample of 豫人社办函〔2020〕41号 附件2. The
geometry (where each text goes, in mm) is ``verify.render.sheet``; this module decides only what is
written, so a wording change is made here and nowhere else.

The ID number is printed in full only on the institution's print run, the paper that goes into the
holder's hands as the style asks; every copy a public path can fetch shows it masked by the one
masking rule of the public answers (docs/DECISIONS.md D60).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Final

from verify.domain.certificate import Certificate
from verify.domain.codes import CodeKind
from verify.domain.holder_ids import mask_id
from verify.domain.reference import LEVEL_NAMES, LEVEL_NAMES_EN

TITLE_SKILL: Final = ("职业技能等级证书", "Certificate of Occupational Skill Level")
TITLE_SPECIAL: Final = ("河南省专项职业能力证书", "Certificate of Special Vocational Ability, Henan")
# The 专项 sample's heading over its record text, and the label over the issuing body's seal.
RECORD_SPECIAL: Final = ("专项职业能力考核记录", "Record of Special Vocational Ability Assessment")
ISSUER_SPECIAL_LABEL: Final = ("发证机构（印）", "Issuing body (seal)")

# 人社鉴发〔2021〕1号 样式（一） body text; the institution's name goes where the style has ××××.
BODY_SKILL_ZH: Final = (
    "本证书由{issuer}颁发，表明持证人通过本机构组织的职业技能等级认定，具备该职业（工种）相应技能等级水平。"
)
BODY_SKILL_EN: Final = (
    "This is to certify that the bearer has demonstrated corresponding competency in this "
    "occupation (job) for successful completion of the occupational skill level assessment "
    "organized by {issuer}."
)
# 豫人社办函〔2020〕41号 附件2 sample.
BODY_SPECIAL_ZH: Final = "持证人参加{project}专项职业能力考核，成绩{score}，具备从事本专项工作的技能。"
BODY_SPECIAL_EN: Final = (
    "The bearer took the special vocational ability assessment in {project} with the result "
    "{score} and has the skills for this work."
)

CERTIFICATE_SITE_LABEL: Final = ("证书信息查询网址", "Certificate Information")
INSTITUTION_SITE_LABEL: Final = ("机构信息查询网址", "Assessment Information")
PROVINCE_SITE_LABEL: Final = ("证书查询", "Certificate query")
ISSUED_LABEL: Final = ("发证日期", "Issue date")
SEAL_LABEL: Final = ("（印章）", "(seal)")
PHOTO_LABEL: Final = ("照片", "Photo")
NO_JOB_PRINTED: Final = "--"  # rule 21: an empty 工种/职业方向 is written "--", never left blank
NO_SCORE: Final = "合格"

# 人社鉴发〔2021〕1号 三（四）: words no certificate may carry. The institution's own name is exempt
# (it must match its filing, rule 28, and some filed names contain 中国).
FORBIDDEN_WORDS: Final = (
    "中华人民共和国", "中国", "中华", "国家", "全国", "人力资源社会保障部门", "职业技能鉴定中心",
    "中国就业培训技术指导中心", "职业资格", "资格凭证", "就业凭证", "录用依据",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Field:
    """One line of the field block: label in both languages and the value as printed."""

    label_zh: str
    label_en: str
    value: str


@dataclass(frozen=True, slots=True)
class Printed:
    """Everything a certificate page writes, already worded; the layout only places it."""

    kind: str  # "skill" | "special": which reference style
    number: str
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    fields: tuple[Field, ...]
    issued_zh: str  # 2026年11月3日
    issued_en: str  # 3 November 2026
    issuer: str  # the issuing institution (the 站点 when a branch issued it)
    parent_issuer: str | None  # the institution a 站点 belongs to: its seal goes on the left
    sites: tuple[Field, ...]  # the query addresses, label and URL
    print_serial: str | None
    qr_url: str
    full_id: bool  # the ID printed in full (institution print run) or masked (public copies)
    photo: bytes | None = None  # the holder's re-encoded JPEG: print run and electronic copy only
    # SHA-256 (hex) of the signed QR payload the page shows: binds a stored electronic copy to one
    # version of the certificate, so a corrected certificate's QR never serves the old copy.
    payload_sha256: str = ""

    @property
    def photo_sha256(self) -> str | None:
        """SHA-256 (hex) of the photo on the page, None without one: named in the signed PDF's
        subject and stored beside the electronic copy."""
        return hashlib.sha256(self.photo).hexdigest() if self.photo else None


def level_text(level: int | None) -> str:
    """The level as the filling rule writes it, 中文数字 + 级 / 等级名称 (e.g. "四级/中级工")."""
    return "--" if level is None else LEVEL_NAMES[level]


def level_text_en(level: int | None) -> str:
    return "--" if level is None else LEVEL_NAMES_EN[level]


def date_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def date_en(day: date) -> str:
    return day.strftime("%d %B %Y").lstrip("0")


def is_special(kind: CodeKind) -> bool:
    return kind in (CodeKind.SPECIAL_ABILITY, CodeKind.SPECIAL_ASSESSOR)


def printed(
    cert: Certificate,
    *,
    issuer: str,
    parent_issuer: str | None,
    id_number: str | None,
    qr_url: str,
    certificate_site: str,
    institution_site: str,
    province_site: str,
    photo: bytes | None = None,
    payload_sha256: str = "",
) -> Printed:
    """The texts of ``cert``'s page. ``id_number`` is the canonical ID in full for the institution's
    print run; ``None`` prints it masked (every public copy). Raises nothing."""
    id_value = id_number if id_number is not None else mask_id(cert.id_type, cert.id_tail)
    job = cert.job.strip() or NO_JOB_PRINTED
    if is_special(cert.kind):
        extra = cert.extra or {}
        score = extra.get("score") or NO_SCORE
        fields: tuple[Field, ...] = (
            Field("姓名", "Name", cert.holder_name),
            Field("性别", "Gender", extra.get("gender") or "--"),
            Field("文化程度", "Education", extra.get("education") or "--"),
            Field("身份证号", "ID No.", id_value),
            Field("专项职业能力", "Special ability", cert.occupation_name),
            Field("证书编号", "Certificate No.", cert.number),
        )
        return Printed(
            kind="special", number=cert.number, title_zh=TITLE_SPECIAL[0], title_en=TITLE_SPECIAL[1],
            body_zh=BODY_SPECIAL_ZH.format(project=cert.occupation_name, score=score),
            body_en=BODY_SPECIAL_EN.format(project=cert.occupation_name, score="a pass" if score == NO_SCORE else score),
            fields=fields, issued_zh=date_zh(cert.issue_date), issued_en=date_en(cert.issue_date),
            issuer=issuer, parent_issuer=parent_issuer,
            sites=(Field(*PROVINCE_SITE_LABEL, province_site),),
            print_serial=cert.print_serial, qr_url=qr_url, full_id=id_number is not None, photo=photo,
            payload_sha256=payload_sha256,
        )  # fmt: skip
    fields = (
        Field("姓名", "Name", cert.holder_name),
        Field("证件类型", "ID Type", cert.id_type.label_zh),
        Field("证件号码", "ID No.", id_value),
        Field("职业名称", "Occupation", cert.occupation_name),
        Field("工种/职业方向", "Job", job),
        Field("职业技能等级", "Skill Level", level_text(cert.level)),
        Field("证书编号", "Certificate No.", cert.number),
    )
    return Printed(
        kind="skill", number=cert.number, title_zh=TITLE_SKILL[0], title_en=TITLE_SKILL[1],
        body_zh=BODY_SKILL_ZH.format(issuer=issuer), body_en=BODY_SKILL_EN.format(issuer=issuer),
        fields=fields, issued_zh=date_zh(cert.issue_date), issued_en=date_en(cert.issue_date),
        issuer=issuer, parent_issuer=parent_issuer,
        sites=(Field(*CERTIFICATE_SITE_LABEL, certificate_site),
               Field(*INSTITUTION_SITE_LABEL, institution_site)),
        print_serial=cert.print_serial, qr_url=qr_url, full_id=id_number is not None, photo=photo,
        payload_sha256=payload_sha256,
    )  # fmt: skip


def fixed_texts(page: Printed) -> list[str]:
    """The style's own words on ``page`` (titles, labels, the body text without the data put into
    it): the forbidden-words check (rule 28) runs on these, not on the institution's filed name."""
    body = BODY_SPECIAL_ZH if page.kind == "special" else BODY_SKILL_ZH
    texts = [page.title_zh, page.title_en, body.format(issuer="", project="", score="")]
    if page.kind == "special":
        texts += [*RECORD_SPECIAL, *ISSUER_SPECIAL_LABEL]
    texts += [f.label_zh for f in page.fields] + [f.label_en for f in page.fields]
    return texts + [s.label_zh for s in page.sites] + [ISSUED_LABEL[0], SEAL_LABEL[0], PHOTO_LABEL[0]]

"""The batch template: its columns, their accepted headers, and the raw row a file is read into.

Each column names the certificate field it fills (``key``); the checks that turn a raw row into a
``Certificate`` are in ``verify.domain.batch.checks``. docs/BATCH-TEMPLATE.md documents the same
table for institutions (a test keeps them in step).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from verify.domain.assessment import ALLOWED_TEXT
from verify.domain.holder_ids import IdType


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the batch template.

    ``required`` means the header must be present in every file. ``required_for_skill`` marks
    columns that only 职业技能等级证书 rows need (专项 files may leave them out entirely); the
    header is demanded only when some row carries a 22-character ``[YS]`` number.
    """

    key: str
    header_zh: str
    aliases: tuple[str, ...]
    required: bool
    help_zh: str
    help_en: str
    required_for_skill: bool = False

    @property
    def headers(self) -> tuple[str, ...]:
        """Every accepted header spelling, the template's Chinese header first."""
        return (self.header_zh, *self.aliases)


# The ID types a batch may name, by their official Chinese names (``IdType.label_zh``); clerks' short
# forms (身份证, 回乡证 …) are accepted too, see ``verify.domain.holder_ids.ID_TYPE_LABELS_ZH``.
ID_TYPES: tuple[str, ...] = tuple(t.label_zh for t in IdType)

COLUMNS: tuple[Column, ...] = (
    Column(
        "number",
        "证书编号",
        ("Certificate No.", "Certificate Number", "证书编码", "证书号码", "证书号"),
        True,
        "22 位职业技能等级证书编号（如 Y000041010012224000007）或 15 位专项职业能力证书编号",
        "22-character skill-level certificate number (e.g. Y000041010012224000007) or 15-digit 专项 number",
    ),
    Column(
        "name",
        "姓名",
        ("Name", "Full Name", "持证人姓名"),
        True,
        "持证人姓名，与证件一致",
        "Holder's name as on the ID document",
    ),
    Column(
        "id_type",
        "证件类型",
        ("ID Type", "证件种类"),
        True,
        "居民身份证、港澳台居民居住证、港澳居民来往内地通行证、台湾居民来往大陆通行证、外国人永久居留身份证、护照",
        "One of the six document types listed in the template documentation",
    ),
    Column(
        "id_number",
        "证件号码",
        ("ID No.", "ID Number", "证件号", "身份证号", "身份证号码", "身份证件号码"),
        True,
        "证件号码；在 Excel 中请设为文本格式，否则 18 位号码会丢失精度",
        "ID document number; format the Excel column as text or 18-digit numbers lose precision",
    ),
    Column(
        "occupation_code",
        "职业编码",
        ("Occupation Code", "职业代码"),
        False,
        "职业分类大典编码 D-DD-DD-DD（如 6-18-01-01）；职业技能等级证书必填，专项可空",
        "Occupation code D-DD-DD-DD (e.g. 6-18-01-01); required for skill-level certificates",
        required_for_skill=True,
    ),
    Column(
        "occupation_name",
        "职业名称",
        ("Occupation", "Occupation Name", "项目名称", "Project Name", "专项职业能力名称", "职业"),
        True,
        "职业名称；专项职业能力证书填项目名称（表头也可写“项目名称”）",
        "Occupation name; for 专项 certificates the project name (header 项目名称 also accepted)",
    ),
    Column(
        "job",
        "工种/职业方向",
        ("Job", "工种", "职业方向", "工种名称", "工种(职业方向)"),
        False,
        "工种或职业方向；没有时留空或填“--”（旧模板的“——”同样接受）",
        "Job / specialisation; leave empty or write -- when there is none (legacy —— accepted)",
    ),
    Column(
        "level",
        "职业技能等级",
        ("Skill Level", "Level", "技能等级", "等级", "职业资格等级"),
        False,
        "如 四级/中级工、四级、中级工 或 4；职业技能等级证书必填，专项留空",
        "e.g. 四级/中级工, 四级, 中级工 or 4; required for skill-level certificates, empty for 专项",
        required_for_skill=True,
    ),
    Column(
        "issue_date",
        "发证日期",
        ("Issue Date", "Issued Date", "Date of Issue", "发证时间", "颁证日期", "发证年月日"),
        True,
        "YYYY-MM-DD、YYYY/MM/DD、YYYY.MM.DD、YYYY年M月D日，或 Excel 日期单元格",
        "YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYY年M月D日, or an Excel date cell",
    ),
    Column(
        "issue_form",
        "证书形式",
        ("Issue Form", "Certificate Form", "证书载体"),
        False,
        "纸质 或 电子（paper / electronic），留空为纸质",
        "纸质 or 电子 (paper / electronic); empty means paper",
    ),
    Column(
        "print_serial",
        "印制流水码",
        ("Print Serial", "Printing Serial No.", "印制流水号", "证书印制流水码"),
        False,
        "证书印制流水码（如 No.88888888），可空",
        "Printing serial on the paper certificate (e.g. No.88888888); optional",
    ),
    Column(
        "assessment_method",
        "评价方式",
        ("Assessment Method", "认定方式"),
        False,
        f"{ALLOWED_TEXT} 之一；可空",
        f"one of {ALLOWED_TEXT}; optional",
    ),
    Column(
        "photo_ref",
        "照片",
        ("Photo", "照片文件名", "照片文件"),
        False,
        "照片文件名或引用，可空",
        "Photo file name or reference; optional",
    ),
    Column(
        "gender",
        "性别",
        ("Gender", "Sex"),
        False,
        "男 或 女；专项职业能力证书填写",
        "男 or 女; carried by 专项 certificates",
    ),
    Column(
        "education",
        "文化程度",
        ("Education", "学历"),
        False,
        "文化程度；专项职业能力证书填写",
        "Education level; carried by 专项 certificates",
    ),
    Column(
        "score",
        "成绩",
        ("Score", "考核成绩"),
        False,
        "考核成绩；专项职业能力证书填写",
        "Assessment score; carried by 专项 certificates",
    ),
    Column(
        "institution_name",
        "评价机构名称",
        ("Institution Name", "评价机构", "发证机构", "发证机构名称", "认定机构名称"),
        False,
        "证书上印制的评价机构名称，可空；填写时须与备案名称一致（站点证书为站点的备案名称）",
        "The institution name printed on the certificate; optional, and when given it must equal the filed "
        "name (a 站点's own filed name for its certificates)",
    ),
)

COLUMNS_BY_KEY: dict[str, Column] = {c.key: c for c in COLUMNS}
ALL_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS)


@dataclass(frozen=True, slots=True)
class RawRow:
    """One non-blank data row. ``line`` is the spreadsheet row number (header = 1 in the template).

    ``values`` has every key of ``COLUMNS``; columns absent from the file map to ``""``.
    """

    line: int
    values: dict[str, str]


# --------------------------------------------------------------------------------------------
# Header matching

_PAREN_SUFFIX = re.compile(r"\([^()]*\)$")

_HEADER_DROP = re.compile(r"[\s_.:\-*]+")


def _header_token(text: str) -> str:
    """Fold a header cell so that "ID No.", "id_number ", "＊证书编号（必填）" match their column."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    folded = _HEADER_DROP.sub("", folded)
    # A trailing note like "(必填)" or "(YYYY-MM-DD)" is decoration, but "工种(职业方向)" is a header
    # in its own right, so only strip the note when the remainder is still non-empty.
    stripped = _PAREN_SUFFIX.sub("", folded)
    return stripped or folded


def _build_header_map() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for col in COLUMNS:
        for spelling in (*col.headers, col.key):
            token = _header_token(spelling)
            owner = mapping.setdefault(token, col.key)
            if owner != col.key:  # pragma: no cover - guarded by a unit test
                raise RuntimeError(f"header {spelling!r} maps to both {owner} and {col.key}")
    return mapping


_HEADER_MAP = _build_header_map()


def header_token(text: str) -> str:
    """A header cell folded for matching (full-width forms, case, spaces, a trailing note), so that
    another template's reader matches its own headers the way this one does."""
    return _header_token(text)


def match_header(cell: str) -> str | None:
    """The column key a header cell names, or None (unknown headers are ignored)."""
    if not cell:
        return None
    return _HEADER_MAP.get(_header_token(cell))


# --------------------------------------------------------------------------------------------
# Template

_EXAMPLE: dict[str, str] = {
    "number": "Y000041010012224000007",
    "name": "张三",
    "id_type": "居民身份证",
    "id_number": "11010519491231002X",
    "occupation_code": "6-18-01-01",
    "occupation_name": "车工",
    "job": "--",
    "level": "四级/中级工",
    "issue_date": "2022-06-30",
    "issue_form": "纸质",
    "print_serial": "No.88888888",
    "assessment_method": "考试考核",
    "photo_ref": "",
    "gender": "",
    "education": "",
    "score": "",
    "institution_name": "",
}


def template_csv() -> str:
    """The batch template as CSV text: the Chinese header row and one synthetic example row.

    Write it with encoding ``utf-8-sig`` so that Excel opens it as UTF-8.
    """
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header_zh for c in COLUMNS])
    writer.writerow([_EXAMPLE[c.key] for c in COLUMNS])
    return buf.getvalue()

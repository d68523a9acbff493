"""Verifying many certificates at once (rules 54-57, 60): what one row of a verifier's file asks,
the verdict each row gets, and the comparison of what the row claims with what was issued.

A row asks in one of three ways: a scanned QR (its URL or payload), a certificate number and the
holder's name, or an ID type and number and the holder's name. It may add claims (the occupation
and level the candidate says the certificate shows), and any columns of the verifier's own, which
are returned untouched. A row never learns more than the same single lookup would: an unknown
number and a wrong name get one answer, ``not_found_or_mismatch``.

Pure: the service (``verify.services.batch_verification``) reads the status view and the database
and builds each row's answer with ``row_result``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from verify.domain.batch.cells import parse_level
from verify.domain.verdicts import OUTCOMES, Text

# The columns a verifier's file may carry, by key: (Chinese header, other accepted spellings).
# Everything else in the file is the verifier's own and comes back as it was.
INPUT_COLUMNS: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {
        "qr": ("二维码内容", ("QR", "QR Code", "二维码", "二维码链接", "扫码结果", "QR URL", "payload")),
        "number": ("证书编号", ("Certificate No.", "Certificate Number", "证书编码", "证书号码", "证书号")),
        "name": ("姓名", ("Name", "Full Name", "持证人姓名")),
        "id_type": ("证件类型", ("ID Type", "证件种类")),
        "id_number": (
            "证件号码",
            ("ID No.", "ID Number", "证件号", "身份证号", "身份证号码", "身份证件号码"),
        ),
        "claimed_occupation": (
            "声称职业",
            ("Claimed Occupation", "职业名称", "职业", "项目名称", "Occupation"),
        ),
        "claimed_level": ("声称等级", ("Claimed Level", "职业技能等级", "技能等级", "等级", "Level")),
    }
)

# Ways a row asks, in the order they are tried when a row fills more than one.
KIND_QR = "qr"
KIND_NUMBER = "number"
KIND_ID = "id"


@dataclass(frozen=True, slots=True)
class Verdict:
    slug: str
    label: Text  # a short label for the verdict column
    tone: str  # ok | warn | bad | info (the XLSX fill and the screen's colour)


def _from_outcome(slug: str) -> Verdict:
    o = OUTCOMES[slug]
    return Verdict(slug, o.headline, o.tone)


# Every verdict a row can get, in the order the summary lists them. The single-certificate outcomes
# keep their own wording (``verify.domain.verdicts``); the three below exist only for rows.
VERDICTS: Mapping[str, Verdict] = MappingProxyType(
    {
        v.slug: v
        for v in (
            _from_outcome("valid"),
            Verdict(
                "claim_mismatch", Text("证书有效 · 与所填信息不符", "Valid · claim does not match"), "warn"
            ),
            _from_outcome("revoked"),
            _from_outcome("superseded"),
            _from_outcome("issuer_suspended"),
            _from_outcome("issuer_terminated"),
            _from_outcome("issuer_merged"),
            _from_outcome("forged"),
            Verdict(
                "not_found_or_mismatch",
                Text("未找到一致的已发布证书", "No published certificate matches"),
                "bad",
            ),
            Verdict("malformed", Text("所填信息格式有误", "Malformed input"), "bad"),
            _from_outcome("status_unavailable"),
        )
    }
)


@dataclass(frozen=True, slots=True)
class Claims:
    occupation: str = ""
    level: str = ""

    def __bool__(self) -> bool:
        return bool(self.occupation or self.level)


@dataclass(frozen=True, slots=True)
class InputRow:
    """One data row of a verifier's file: where it is, how it asks, and the verifier's own cells."""

    line: int
    kind: str | None  # KIND_QR | KIND_NUMBER | KIND_ID, None when the row fills none of them
    qr: str = ""
    number: str = ""
    name: str = ""
    id_type: str = ""
    id_number: str = ""
    claims: Claims = field(default_factory=Claims)
    columns: Mapping[str, str] = field(default_factory=dict)  # header -> cell, as in the file


def input_row(line: int, values: Mapping[str, str], columns: Mapping[str, str]) -> InputRow:
    """The row for ``values`` (keys of ``INPUT_COLUMNS``, cells stripped). A QR wins over a number,
    a number over an ID. Raises nothing: a row that asks nothing has ``kind`` None."""
    qr, number, id_number = values.get("qr", ""), values.get("number", ""), values.get("id_number", "")
    kind = KIND_QR if qr else KIND_NUMBER if number else KIND_ID if id_number else None
    return InputRow(
        line, kind, qr=qr, number=number, name=values.get("name", ""), id_type=values.get("id_type", ""),
        id_number=id_number, claims=Claims(values.get("claimed_occupation", ""), values.get("claimed_level", "")),
        columns=columns,
    )  # fmt: skip


_QR_PATH = re.compile(r"/[cC]/([A-Za-z2-7=]+)/?(?:[?#].*)?$")
_BASE32 = re.compile(r"[A-Za-z2-7]+=*")


def qr_segment(text: str) -> str | None:
    """The Base32 payload of a scanned QR: the last path segment of a ``.../C/<payload>`` URL, or the
    payload itself. None when the text is neither."""
    text = text.strip()
    found = _QR_PATH.search(text)
    if found:
        return found.group(1)
    return text if _BASE32.fullmatch(text) else None


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def claim_differences(claims: Claims, certificate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the row claims that the certificate does not show: ``[{"field", "claimed", "actual"}]``.
    A claimed level is read like a batch cell ("四级/中级工", "四级", "4"); one that cannot be read is
    a difference too (the verifier must see it). Raises nothing."""
    out: list[dict[str, Any]] = []
    if claims.occupation:
        occupation = certificate.get("occupation") or {}
        actual = str(occupation.get("name") or "")
        if _fold(claims.occupation) not in {_fold(actual), _fold(str(occupation.get("code") or ""))}:
            out.append({"field": "occupation", "claimed": claims.occupation, "actual": actual})
    if claims.level:
        level = certificate.get("level")
        actual_code = level.get("code") if isinstance(level, Mapping) else None
        try:
            claimed = parse_level(claims.level)
        except ValueError:
            claimed = -1
        if claimed != actual_code:
            actual_name = level.get("name") if isinstance(level, Mapping) else None
            out.append({"field": "level", "claimed": claims.level, "actual": actual_name})
    return out


def row_result(
    row: InputRow,
    verdict: str,
    *,
    certificate: Mapping[str, Any] | None = None,
    facts: Mapping[str, Any] | None = None,
    problems: Sequence[Mapping[str, Any]] = (),
    differences: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """One row's answer: its line, how it asked, the verdict, the certificate's public fields (masked
    as in a single lookup), the public facts of its standing, the input's problems for a malformed
    row, the claim differences, and the verifier's own cells. This object is also the receipt's
    Merkle leaf (docs/RECEIPT-FORMAT.md), so its content is fixed by the inputs and the registry."""
    assert verdict in VERDICTS, verdict
    return {
        "row": row.line,
        "asked_by": row.kind,
        "verdict": verdict,
        "certificate": dict(certificate) if certificate is not None else None,
        "facts": dict(facts or {}),
        "problems": [dict(p) for p in problems],
        "claim_differences": [dict(d) for d in differences],
        "columns": dict(row.columns),
    }


def counts(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Rows per verdict, every verdict listed (0 included), in ``VERDICTS`` order."""
    out = dict.fromkeys(VERDICTS, 0)
    for r in results:
        out[r["verdict"]] += 1
    return out

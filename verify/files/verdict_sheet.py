"""A batch verification's answer as a spreadsheet: CSV (UTF-8 with BOM, so Excel opens it in
Chinese) or XLSX (the verdict column coloured by tone, a summary sheet and the receipt). Uploads are
read with openpyxl (``verify.files.xlsx``); answers are written with XlsxWriter, the faster writer.

One table of columns (``COLUMNS``) serves both formats; the row texts come from the result objects
of ``verify.domain.batch_verification.row_result`` and the verdict labels from its ``VERDICTS``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from verify.domain.batch_verification import VERDICTS

Result = Mapping[str, Any]


def _cert(key: str) -> Callable[[Result], str]:
    def get(r: Result) -> str:
        c = r.get("certificate") or {}
        return str(c.get(key) or "")

    return get


def _nested(key: str, inner: str) -> Callable[[Result], str]:
    def get(r: Result) -> str:
        value = (r.get("certificate") or {}).get(key) or {}
        return str(value.get(inner) or "") if isinstance(value, Mapping) else ""

    return get


def _verdict(r: Result) -> str:
    label = VERDICTS[r["verdict"]].label
    return f"{label.zh} / {label.en}"


def notes(r: Result) -> str:
    """The row's public facts in one cell: revocation, successor, issuer, problems, claims."""
    facts, parts = r.get("facts") or {}, []
    revocation = facts.get("revocation")
    if revocation:
        label = (revocation.get("category_label") or {}).get("zh") or revocation.get("category") or ""
        parts.append(f"撤销日期 revoked {revocation.get('effective') or '?'} {label}".strip())
    if facts.get("superseded_by"):
        parts.append(f"现行证书 current: {facts['superseded_by']}")
    merged = facts.get("merged_into")
    if merged:
        parts.append(f"并入 merged into {merged.get('name') or ''} {merged.get('code') or ''}".strip())
    if facts.get("reason"):
        parts.append(f"原因 reason: {facts['reason']}")
    for p in r.get("problems") or ():
        parts.append(str(p.get("message_zh") or p.get("code")))
    for d in r.get("claim_differences") or ():
        parts.append(f"{d['field']}: 所填 claimed {d['claimed']} ≠ 证书 actual {d.get('actual') or '—'}")
    if facts.get("other_certificates"):
        parts.append("其他证书 other certificates: " + ", ".join(facts["other_certificates"]))
    return "；".join(parts)


# (header, value of a result): the answer's columns, before the verifier's own.
COLUMNS: tuple[tuple[str, Callable[[Result], str]], ...] = (
    ("行号 / Row", lambda r: str(r["row"])),
    ("查验结果 / Verdict", _verdict),
    ("结果代码 / Verdict code", lambda r: str(r["verdict"])),
    ("证书编号 / Certificate No.", _cert("number")),
    ("姓名 / Name", _cert("holder_name")),
    ("证件号码（脱敏）/ ID (masked)", _cert("id_masked")),
    ("职业（工种）/ Occupation", _nested("occupation", "name")),
    ("等级 / Level", _nested("level", "name")),
    ("发证日期 / Issue date", _cert("issue_date")),
    ("发证机构 / Issuer", _nested("institution", "name")),
    ("说明 / Notes", notes),
)


def _own_headers(results: Sequence[Result]) -> list[str]:
    seen: dict[str, None] = {}
    for r in results:
        for h in r.get("columns") or {}:
            seen.setdefault(h, None)
    return list(seen)


def _table(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    own = _own_headers(results)
    header = [h for h, _ in COLUMNS] + own
    rows = [
        [get(r) for _, get in COLUMNS] + [str((r.get("columns") or {}).get(h, "")) for h in own]
        for r in results
    ]
    return header, rows


def _safe(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection): the verifier's own cells come
    back as they were sent, so one starting with = + - @ is quoted."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def to_csv(results: Sequence[Result]) -> bytes:
    header, rows = _table(results)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_safe(c) for c in row] for row in rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


_FILLS = {"ok": "#C6EFCE", "warn": "#FFEB9C", "bad": "#FFC7CE", "info": "#DDEBF7"}
# Every cell is written as text: nothing the verifier sent may become a formula, a link or a number.
_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def to_xlsx(results: Sequence[Result], counts: Mapping[str, int], receipt: Mapping[str, Any]) -> bytes:
    """The XLSX answer: sheet 查验结果 (verdict column filled by tone), sheet 汇总 (rows per verdict)
    and sheet 回执 (the signed receipt, field by field and as JSON). Written with XlsxWriter, twice
    as fast as openpyxl's write-only mode for a 10,000-row answer (docs/DECISIONS.md D59)."""
    import xlsxwriter  # deferred: only XLSX answers need it

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, _OPTIONS)
    bold = wb.add_format({"bold": True})
    fills = {tone: wb.add_format({"bg_color": color}) for tone, color in _FILLS.items()}
    sheet = wb.add_worksheet("查验结果 Results")
    header, rows = _table(results)
    sheet.write_row(0, 0, header, bold)
    write = sheet.write_string
    for n, (r, row) in enumerate(zip(results, rows, strict=True), start=1):
        # Cell by cell, empty ones left out: write_row's type dispatch was a fifth of the answer's time.
        for col, cell in enumerate(row):
            if col == 1:
                write(n, 1, cell, fills[VERDICTS[r["verdict"]].tone])
            elif cell:
                write(n, col, _safe(cell))
    summary = wb.add_worksheet("汇总 Summary")
    summary.write_row(0, 0, ("查验结果 / Verdict", "代码 / Code", "行数 / Rows"), bold)
    for n, (slug, count) in enumerate(counts.items(), start=1):
        label = VERDICTS[slug].label
        summary.write_string(n, 0, f"{label.zh} / {label.en}", fills[VERDICTS[slug].tone])
        summary.write_string(n, 1, slug)
        summary.write_number(n, 2, count)
    summary.write_row(len(counts) + 1, 0, ["合计 / Total", ""])
    summary.write_number(len(counts) + 1, 2, sum(counts.values()))
    signed = wb.add_worksheet("回执 Receipt")
    for n, key in enumerate(sorted(receipt)):
        value = receipt[key]
        signed.write_string(n, 0, key)
        signed.write_string(
            n, 1, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
        )
    signed.write_string(len(receipt), 0, "json")
    signed.write_string(
        len(receipt), 1, json.dumps(receipt, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    )
    wb.close()
    return out.getvalue()

"""Write the seed corpus: ``python -m tests.fuzz.seeds`` (files ``seed-*`` in tests/fuzz/corpus/<target>/).

Seeds come from the project's own test data: the golden QR vectors (tests/assets/payload_vectors.json),
the hand-picked records of tests/unit/test_payload.py, certificate numbers and IDs from the unit tests,
and batch files built with tests/factories.py and openpyxl. The output is deterministic (the XLSX is
re-zipped with fixed timestamps), so running it again changes nothing. Inputs the fuzzers find are kept
next to the seeds under their SHA-1 names (tests/fuzz/run.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl

from tests import factories
from tests.fuzz.targets import TARGETS
from verify.domain import payload
from verify.domain.holder_ids import IdType, make_resident_id

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
VECTORS = HERE.parent / "assets" / "payload_vectors.json"


def _payload_seeds() -> tuple[dict[str, bytes], dict[str, bytes]]:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    raw: dict[str, bytes] = {}
    texts: dict[str, bytes] = {}
    for i, v in enumerate(vectors["valid"]):
        # payload_text chains into the payload target, so the raw corpus needs only a few valid ones.
        if i < 5:
            raw[f"valid-{v['name']}"] = bytes.fromhex(v["body_hex"] + v["signature_hex"])
        texts[f"valid-{v['name']}"] = v["payload_base32"].encode()
    for v in vectors["invalid"]:
        if v["input"] == "payload":
            raw[f"invalid-{v['name']}"] = bytes.fromhex(v["hex"])
        else:
            texts[f"invalid-{v['name']}"] = v["text"].encode()
    first = vectors["valid"][0]["payload_base32"]
    texts["valid-lower-case"] = first.lower().encode()
    texts["empty"] = b""
    # A 15-digit 专项 record with no code and no job, built here rather than taken from the vectors.
    special = payload.CertificateRecord(
        number="246016500100001",
        holder_name="艾力·买买提",
        id_tail="0000",
        occupation_code="",
        occupation_name="中式面点制作",
        job=payload.NO_JOB,
        issue_date=date(2099, 12, 31),
        kid="ffff",
    )
    raw["valid-special-last-day"] = payload.assemble(payload.encode_body(special), bytes(64))
    return raw, texts


def _id_seed(kind: IdType, number: str) -> bytes:
    return bytes([list(IdType).index(kind)]) + number.encode()


def _id_seeds() -> dict[str, bytes]:
    r, hk, tw = IdType.RESIDENT, IdType.HK_MACAO_PASS, IdType.TAIWAN_PASS
    fp, pp, hkmotw = IdType.FOREIGN_PERMANENT, IdType.PASSPORT, IdType.HKMOTW_RESIDENCE
    cases = {
        "resident-x": (r, "11010519491231002X"),
        "resident-1880": (r, "440524188001010014"),
        "resident-fullwidth": (r, "１１０１０５１９４９１２３１００２ｘ"),
        "resident-spaces-zwsp": (r, " 110105\u200b19491231 002X\u3000"),
        "resident-bad-check": (r, "110105194912310021"),
        "resident-feb-30": (r, make_resident_id("110105", date(1999, 2, 28), 3)[:10] + "0230" + "0031"),
        "resident-future": (r, make_resident_id("110105", date(2030, 1, 1), 1)),
        "hkmotw": (hkmotw, "810000199001010035"),
        "hk-old-card": (hk, "H1234567801"),
        "hk-bad-letter": (hk, "X12345678"),
        "taiwan-office-code": (tw, "1234567801（B）"),
        "foreign-2004": (fp, "USA123456789012"),
        "foreign-2023": (fp, "911156199001010010"),
        "passport": (pp, "C01X00T47"),
        "too-long": (r, "1" * 70),
    }
    return {name: _id_seed(kind, number) for name, (kind, number) in cases.items()}


_CODE_SEEDS = {
    "henan": "Y000041010012224000007",
    "national": "Y000011000001213000015",
    "fullwidth-spaces": "\u3000ｙ００００　４１０１－００１２ 22\t4—000007\n",
    "placeholder-x": "Y000123XXXXXX195000001",
    "bad-province": "Y000019000001213000015",
    "serial-zero": "Y000011000001213000000",
    "henan-school": "Y000041009003215000101",
    "special": "211601500100001",
    "special-not-5": "211601400100000",
    "assessor": "16015001",
    "supervisor-external": "R01230001",
    "supervisor-internal": "H000001240001",
    "institution-key": "Y000041010012",
    "arabic-indic": "Y00001100000\u0661213000015",
    "greek-upper": "ΐy000011000001213000015",
}

_NAME_SEEDS = {
    "han": "张三",
    "middle-dot": "阿依古丽·买买提",
    "dot-variants": "艾力 • 买买提・ｱ",
    "supplementary": "𠮷田",
    "latin-fullwidth": "ＺＨＡＮＧ  San",
    "combining": "Jose\u0301 A\u00b7\u0301",
    "zero-width": "张\u200b三",
    "bidi": "\u202e张三",
    "only-dots": "··",
    "replacement": "张\ufffd",
    "variation-selector": "葛\U000e0100",
}

_TEXT_SEEDS = {
    "plain": "张三 Y000041010012224000007",
    "tab-newline": "a\tb\r\nc",
    "nul": "ab\x00c",
    "c1-control": "x\x85y",
    "noncharacter": "\ufdd0\U0010fffe",
    "json-object": '{"name": "张三", "ids": ["a", {"k": "v"}], "n": 1}',
    "json-escaped-nul": '{"a": "\\u0000"}',
    "json-lone-surrogate": '["\\ud800"]',
    "json-key": '{"\\ufffe": 1}',
    "json-nested": "[" * 20 + "]" * 20,
}


def _csv_seeds() -> dict[str, bytes]:
    rows = [factories.Row("Y00004101001", 7), factories.Row("Y00004101001", 8, name="艾力·买买提")]
    plain = factories.csv_bytes(rows)
    special = io.StringIO()
    w = csv.writer(special, lineterminator="\r\n")
    w.writerow(["证书编号", "姓名", "证件类型", "证件号码", "职业名称", "发证日期"])
    w.writerow(["211601500100001", "李四", "护照", "E12345678", "中式面点制作", "2021/03/01"])
    header = ",".join(factories.HEADER)
    return {
        "valid": plain,
        "bom-crlf": b"\xef\xbb\xbf" + plain.replace(b"\n", b"\r\n"),
        "tab": plain.replace(b",", b"\t"),
        "title-row-blank-rows": "2024 年第一批认定结果\n\n".encode() + plain + b"\n\n",
        "special-no-skill-columns": special.getvalue().encode(),
        "gbk": factories.csv_bytes(rows, encoding="gb18030"),
        "header-only": (header + "\n").encode(),
        "quoted-newline": (header + '\n"Y000041010012224000007","张\n三"\n').encode(),
    }


def _deterministic_zip(data: bytes) -> bytes:
    """The same archive with fixed member timestamps, so the seed file is reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            member = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time in here
                member = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z", member)
            dst.writestr(fixed, member)
    return out.getvalue()


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.properties.created = wb.properties.modified = datetime(2024, 1, 1)
    ws = wb.active
    assert ws is not None
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_zip(buf.getvalue())


def _xlsx_seeds() -> dict[str, bytes]:
    row: list[object] = [
        "Y000041010012224000007",
        "张三",
        "居民身份证",
        "11010519491231002X",
        "6-18-01-01",
        "车工",
        "--",
        "四级/中级工",
        datetime(2022, 6, 30),
    ]
    numbers = [*row[:3], 110105194912310020, *row[4:8], 44742]  # an ID typed as a number, a bare date serial
    return {
        "valid": _xlsx([list(factories.HEADER), row]),
        "title-row-numbers": _xlsx([["2024 年第一批"], [], list(factories.HEADER), numbers, [None] * 9]),
    }


def seeds() -> dict[str, dict[str, bytes]]:
    raw, texts = _payload_seeds()
    return {
        "payload": raw,
        "payload_text": texts,
        "codes": {k: v.encode() for k, v in _CODE_SEEDS.items()},
        "holder_ids": _id_seeds(),
        "names": {k: v.encode() for k, v in _NAME_SEEDS.items()},
        "text": {k: v.encode() for k, v in _TEXT_SEEDS.items()},
        "batch_csv": _csv_seeds(),
        "batch_xlsx": _xlsx_seeds(),
    }


def main() -> None:
    all_seeds = seeds()
    assert set(all_seeds) == set(TARGETS)
    for target, files in all_seeds.items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = folder / f"seed-{name}"
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
        print(f"{target:14} {len(files):3} seeds")


if __name__ == "__main__":
    main()

"""Generate the golden test vectors of the QR payload format (docs/QR-FORMAT.md).

TEST ONLY. The vectors are signed with a fixed, published Ed25519 seed, ``bytes(range(32))``. That key
is public knowledge; it must never sign anything outside tests and must never be in a production keyring.

    .venv/bin/python tests/assets/make_payload_vectors.py           # rewrite tests/assets/payload_vectors.json
    .venv/bin/python tests/assets/make_payload_vectors.py --sizes   # print the size table of QR-FORMAT.md

tests/unit/test_payload_vectors.py re-runs ``build_vectors`` in memory and requires the committed JSON to
be byte-for-byte what it returns, so a format change cannot slip in without the vectors changing too.
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import nacl.signing
import qrcode

from verify.domain.payload import (
    DOMAIN_TAG,
    SIGNATURE_LEN,
    CertificateRecord,
    assemble,
    encode_body,
    qr_url,
    signed_message,
    to_text,
)

VECTORS_PATH = Path(__file__).with_name("payload_vectors.json")

# TEST ONLY: a well-known seed, so anyone can reproduce the signatures. Never a real key.
TEST_SEED = bytes(range(32))
BASE_URL = "https://verify.example.cn"

_SIGNING_KEY = nacl.signing.SigningKey(TEST_SEED)
PUBLIC_KEY = bytes(_SIGNING_KEY.verify_key)
# The format treats kid as an opaque 16-bit value. The vectors derive it the way verify.crypto.signing.kid_of
# does (spelled out here so the vectors do not move when that module is refactored; a test checks the two
# still agree).
TEST_KID = hashlib.sha256(b"verify.kid.v1\x00" + PUBLIC_KEY).hexdigest()[:4]


def _record(
    number: str,
    holder_name: str,
    id_tail: str,
    occupation_code: str,
    occupation_name: str,
    job: str,
    issue_date: date,
) -> CertificateRecord:
    return CertificateRecord(
        number=number,
        holder_name=holder_name,
        id_tail=id_tail,
        occupation_code=occupation_code,
        occupation_name=occupation_name,
        job=job,
        issue_date=issue_date,
        kid=TEST_KID,
    )


# A 25-character transliterated name (U+00B7 separators), the longest the vectors cover.
LONG_NAME = "克里斯托弗·亚历山大·约翰逊·麦克唐纳德·斯图尔特"
assert len(LONG_NAME) == 25

# name -> record. The first is the size example of the brief: 张三丰 / 车工 / 普通车床.
RECORDS: dict[str, CertificateRecord] = {
    "henan-zhang-sanfeng": _record(
        "Y000041010001243000123", "张三丰", "123X", "6-18-01-01", "车工", "普通车床", date(2024, 6, 30)
    ),
    "national-no-job": _record(
        "Y100011000001245000001", "李四", "0012", "6-18-01-01", "车工", "--", date(2024, 3, 15)
    ),
    "national-s-org": _record(
        "S000032000107253000042", "王小五", "9876", "4-10-01-06", "家政服务员", "母婴护理员", date(2025, 1, 2)
    ),
    "henan-s-org": _record(
        "S123441019001252000042",
        "赵敏",
        "0007",
        "4-12-01-01",
        "汽车维修工",
        "汽车车身整形修复工",
        date(2025, 12, 31),
    ),
    "special-ability": _record("246016500100001", "钱六", "4321", "", "中式面点制作", "--", date(2024, 9, 1)),
    "middle-dot-name": _record(
        "Y000065000001244000310", "阿依古丽·买买提", "0420", "6-20-01-01", "钳工", "--", date(2024, 11, 20)
    ),
    "supplementary-plane-name": _record(
        "Y000041030001233000009", "𠮷田丽", "20X1", "6-18-01-01", "车工", "数控车床", date(2023, 5, 4)
    ),
    "long-name": _record(
        "Y000011000001241000777",
        LONG_NAME,
        "A1B2",
        "4-12-01-01",
        "汽车维修工",
        "汽车美容装潢工",
        date(2024, 7, 1),
    ),
    "latin-name-passport-tail": _record(
        "Y000044000001222000100",
        "Maria GARCIA LOPEZ",
        "Z9K0",
        "6-20-01-01",
        "钳工",
        "--",
        date(2022, 2, 28),
    ),
    "date-bounds-first": _record("Y000011000001005000001", "甲", "0000", "", "车工", "--", date(2000, 1, 1)),
    "date-bounds-last": _record(
        "246016500199999", "乙", "ZZZZ", "9-99-99-99", "专项", "--", date(2099, 12, 31)
    ),
}


def _sign(body: bytes) -> bytes:
    signature = bytes(_SIGNING_KEY.sign(signed_message(body)).signature)
    assert len(signature) == SIGNATURE_LEN
    return signature


def _record_json(record: CertificateRecord) -> dict[str, Any]:
    return {
        "number": record.number,
        "holder_name": record.holder_name,
        "id_tail": record.id_tail,
        "occupation_code": record.occupation_code,
        "occupation_name": record.occupation_name,
        "job": record.job,
        "issue_date": record.issue_date.isoformat(),
        "kid": record.kid,
    }


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _text_field(text: str) -> bytes:
    raw = text.encode("utf-8")
    return bytes([len(raw)]) + raw


def _invalid_vectors(body: bytes, signature: bytes) -> list[dict[str, Any]]:
    """Hand-made rejections, each built from the first valid vector; ``why`` is the expected slug."""
    payload = body + signature
    fixed = body[:20]  # header, kid, number, id tail, occupation code, date of a 22-character number
    strings = body[20:]
    name_len = strings[0]
    after_name = strings[1 + name_len :]

    def with_header(header: int) -> bytes:
        return bytes([header]) + payload[1:]

    cases: list[tuple[str, str, bytes, str]] = [
        ("empty", "payload", b"", "truncated"),
        ("cut-inside-number", "payload", payload[:7], "truncated"),
        ("cut-inside-signature", "payload", payload[:-1], "bad_signature_length"),
        ("body-without-signature", "payload", body, "bad_signature_length"),
        ("one-trailing-byte", "payload", payload + b"\x00", "trailing_bytes"),
        ("version-0", "payload", with_header(0x00 | (payload[0] & 0x0F)), "unknown_version"),
        ("version-2", "payload", with_header(0x20 | (payload[0] & 0x0F)), "unknown_version"),
        ("reserved-flag-bit", "payload", with_header(payload[0] | 0x01), "reserved_flags"),
        ("number-form-3", "payload", with_header(payload[0] | 0x0C), "unknown_number_form"),
        (
            "number-digits-10^21",
            "payload",
            body[:3] + (10**21).to_bytes(9, "big") + body[12:] + signature,
            "number_out_of_range",
        ),
        (
            "number-rejected-by-codes",  # province 00 does not exist
            "payload",
            body[:3] + int("000000000001243000123").to_bytes(9, "big") + body[12:] + signature,
            "invalid_number",
        ),
        (
            "id-tail-36^4",
            "payload",
            body[:12] + (36**4).to_bytes(3, "big") + body[15:] + signature,
            "id_tail_out_of_range",
        ),
        (
            "occupation-code-10^7",
            "payload",
            body[:15] + (10**7).to_bytes(3, "big") + body[18:] + signature,
            "occupation_code_out_of_range",
        ),
        (
            "date-after-2099-12-31",
            "payload",
            body[:18] + (36525).to_bytes(2, "big") + body[20:] + signature,
            "date_out_of_range",
        ),
        (
            "holder-name-empty",
            "payload",
            fixed + b"\x00" + after_name + signature,
            "empty_text",
        ),
        (
            "holder-name-overlong-utf8",  # "/" as the 2-byte overlong C0 AF
            "payload",
            fixed + b"\x02\xc0\xaf" + after_name + signature,
            "bad_utf8",
        ),
        (
            "holder-name-not-nfc",  # e + U+0301 instead of é
            "payload",
            fixed + _text_field(unicodedata.normalize("NFD", "José")) + after_name + signature,
            "not_nfc",
        ),
        (
            "holder-name-zero-width-space",
            "payload",
            fixed + _text_field("张\u200b三") + after_name + signature,
            "bad_character",
        ),
        (
            "job-spelled-out-as-dashes",  # "--" must be encoded as length 0
            "payload",
            fixed + strings[: 1 + name_len] + _text_field("车工") + _text_field("--") + signature,
            "non_canonical",
        ),
    ]
    out: list[dict[str, Any]] = [
        {"name": name, "input": kind, "hex": data.hex(), "why": why} for name, kind, data, why in cases
    ]
    text = to_text(payload)
    # 114 bytes -> 183 characters: 183 % 8 == 7, so one pad character would follow and the last
    # character carries 3 unused bits, which must be zero.
    assert len(text) % 8 == 7
    last = _B32.index(text[-1])
    assert last & 0b111 == 0
    text_cases = [
        ("padded", text + "=", "non_canonical_base32"),
        ("nonzero-unused-bits", text[:-1] + _B32[last | 1], "non_canonical_base32"),
        ("digit-one", "1" + text[1:], "bad_base32"),
        ("impossible-length", text[:-1], "bad_base32"),
        ("too-long", "A" * 1400, "too_long"),
    ]
    out += [{"name": name, "input": "text", "text": value, "why": why} for name, value, why in text_cases]
    return out


def build_vectors() -> dict[str, Any]:
    """Return the whole vector file as a JSON-ready dict. Deterministic (Ed25519 signing is)."""
    valid: list[dict[str, Any]] = []
    for name, record in RECORDS.items():
        body = encode_body(record)
        signature = _sign(body)
        payload = assemble(body, signature)
        url = qr_url(BASE_URL, payload)
        valid.append(
            {
                "name": name,
                "record": _record_json(record),
                "derived": {"level": record.level, "institution_key": record.institution_key},
                "body_hex": body.hex(),
                "signature_hex": signature.hex(),
                "payload_base32": to_text(payload),
                "url": url,
                "sizes": {"body": len(body), "payload": len(payload), "url_chars": len(url)},
            }
        )
    first = RECORDS["henan-zhang-sanfeng"]
    first_body = encode_body(first)
    return {
        "comment": (
            "TEST ONLY. Golden vectors for docs/QR-FORMAT.md, signed with the public test seed "
            "bytes(range(32)); never trust this key. Generated by tests/assets/make_payload_vectors.py."
        ),
        "format_version": 1,
        "domain_tag_hex": DOMAIN_TAG.hex(),
        "test_seed_hex": TEST_SEED.hex(),
        "public_key_hex": PUBLIC_KEY.hex(),
        "kid": TEST_KID,
        "base_url": BASE_URL,
        "valid": valid,
        "invalid": _invalid_vectors(first_body, _sign(first_body)),
    }


def render(vectors: dict[str, Any]) -> str:
    """Return the exact text of payload_vectors.json."""
    return json.dumps(vectors, ensure_ascii=False, indent=2) + "\n"


def qr_version(url: str, error_correction: int) -> int:
    """Smallest QR version the ``qrcode`` package fits ``url`` into at the given error correction."""
    qr = qrcode.QRCode(error_correction=error_correction)
    qr.add_data(url)
    qr.make(fit=True)
    return int(qr.version)


def size_table() -> str:
    """Markdown table of sizes and QR versions, as in docs/QR-FORMAT.md."""
    lines = [
        "| Vector | Name chars | Body B | Payload B | URL chars | QR @M | QR @Q |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, record in RECORDS.items():
        body = encode_body(record)
        url = qr_url(BASE_URL, assemble(body, _sign(body)))
        m = qr_version(url, qrcode.constants.ERROR_CORRECT_M)
        q = qr_version(url, qrcode.constants.ERROR_CORRECT_Q)
        lines.append(
            f"| {name} | {len(record.holder_name)} | {len(body)} | {len(body) + SIGNATURE_LEN} "
            f"| {len(url)} | V{m} | V{q} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv == ["--sizes"]:
        print(size_table())
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    VECTORS_PATH.write_text(render(build_vectors()), encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

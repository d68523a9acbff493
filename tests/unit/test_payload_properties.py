"""verify.domain.payload properties: generated records round-trip; arbitrary bytes and text raise nothing but
InvalidPayload (docs/SECURITY.md §5 S14); whatever decodes is canonical (re-encodes to the same bytes)."""

from __future__ import annotations

import string
import unicodedata
from datetime import date

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.unit.test_payload import HAND_PICKED
from verify.domain.codes import HENAN_CITIES, NUMBER_PROVINCES
from verify.domain.errors import InvalidPayload
from verify.domain.payload import (
    MAX_PAYLOAD_LEN,
    SIGNATURE_LEN,
    CertificateRecord,
    RecordError,
    assemble,
    decode,
    encode_body,
    from_text,
    payload_from_path,
    to_text,
)

SIG = bytes(range(64))


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@st.composite
def skill_level_numbers(draw: st.DrawFn) -> str:
    letter = draw(st.sampled_from("YS"))
    province = draw(st.sampled_from(sorted(NUMBER_PROVINCES)))
    site = (
        draw(st.sampled_from(sorted(HENAN_CITIES))) + draw(_digits(4))
        if province == "41"
        else draw(_digits(6))
    )
    year = draw(st.integers(0, 99))
    level = draw(st.integers(1, 5))
    serial = draw(st.integers(1, 999_999))
    return f"{letter}{draw(_digits(4))}{province}{site}{year:02d}{level}{serial:06d}"


@st.composite
def special_ability_numbers(draw: st.DrawFn) -> str:
    year = draw(st.integers(0, 99))
    serial = draw(st.integers(1, 99_999))
    return f"{year:02d}{draw(_digits(4))}5{draw(_digits(3))}{serial:05d}"


# Any character but controls, format characters and surrogates (the format refuses those), stored NFC.
_chars = st.characters(exclude_categories=("Cc", "Cf", "Cs"))


def _texts(max_chars: int) -> st.SearchStrategy[str]:
    return (
        st.text(_chars, min_size=1, max_size=max_chars)
        .map(lambda s: unicodedata.normalize("NFC", s))
        .filter(lambda s: 1 <= len(s) <= max_chars and len(s.encode()) <= 255)
    )


_han_names = st.text(alphabet="张王李赵钱孙𠮷丰三·", min_size=1, max_size=25)
# Module-level strategies: building them inside a composite re-validates them on every draw (slow).
_numbers = st.one_of(skill_level_numbers(), special_ability_numbers())
_holder_names = st.one_of(_han_names, _texts(100))
_id_tails = st.text(alphabet=string.digits + string.ascii_uppercase, min_size=4, max_size=4)
_occupation_codes = st.one_of(
    st.just(""),
    _digits(7).filter(lambda d: d != "0000000").map(lambda d: f"{d[0]}-{d[1:3]}-{d[3:5]}-{d[5:]}"),
)
_occupation_names = _texts(64)
_jobs = st.one_of(st.just("--"), _texts(64).filter(lambda s: s not in ("--", "——")))
_issue_dates = st.dates(date(2000, 1, 1), date(2099, 12, 31))
_kids = st.integers(0, 0xFFFF).map(lambda n: f"{n:04x}")

records = st.builds(
    CertificateRecord,
    number=_numbers,
    holder_name=_holder_names,
    id_tail=_id_tails,
    occupation_code=_occupation_codes,
    occupation_name=_occupation_names,
    job=_jobs,
    issue_date=_issue_dates,
    kid=_kids,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(records, st.binary(min_size=SIGNATURE_LEN, max_size=SIGNATURE_LEN))
def test_round_trip(record: CertificateRecord, signature: bytes) -> None:
    body = encode_body(record)
    payload = assemble(body, signature)
    assert decode(payload) == (record, body, signature)
    assert payload_from_path(to_text(payload)) == payload
    assert payload_from_path(to_text(payload).lower()) == payload
    assert len(payload) <= MAX_PAYLOAD_LEN


@settings(max_examples=300, deadline=None)
@given(records, records)
def test_distinct_records_have_distinct_bodies(a: CertificateRecord, b: CertificateRecord) -> None:
    # Injectivity: the body is a function of the record and nothing else, and no two records share one.
    assert (encode_body(a) == encode_body(b)) == (a == b)


def _decode_or_invalid(data: bytes) -> None:
    try:
        record, body, signature = decode(data)
    except InvalidPayload as exc:
        assert isinstance(exc.details.get("why"), str)
        return
    # Anything that decodes is canonical: one byte string per record.
    assert body + signature == data
    assert encode_body(record) == body


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=300))
@example(b"")
@example(b"\x10")
@example(b"\x10" + bytes(MAX_PAYLOAD_LEN + 10))
def test_decode_arbitrary_bytes(data: bytes) -> None:
    _decode_or_invalid(data)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=200))
def test_decode_arbitrary_v1_bytes(tail: bytes) -> None:
    # Past the version check, so the field parsers see the fuzz too.
    for header in (0x10, 0x14, 0x18):
        _decode_or_invalid(bytes([header]) + tail)


_BASE_PAYLOADS = [assemble(encode_body(r), SIG) for _, r in sorted(HAND_PICKED.items())]


@st.composite
def mutated_payloads(draw: st.DrawFn) -> bytes:
    """A valid payload with a few bytes changed, inserted or removed: the inputs near the valid ones."""
    # The hand-picked payloads: cheap to draw, so the budget goes to mutations (test_round_trip covers
    # generated records).
    data = bytearray(draw(st.sampled_from(_BASE_PAYLOADS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("set", "insert", "delete", "cut")))
        i = draw(st.integers(0, len(data)))
        if op == "set" and i < len(data):
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=3))
        elif op == "delete" and i < len(data):
            del data[i]
        elif op == "cut":
            del data[i:]
    return bytes(data)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(mutated_payloads())
def test_decode_mutated_payloads(data: bytes) -> None:
    _decode_or_invalid(data)


_B32_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz"


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(max_size=400), st.text(alphabet=_B32_CHARS + "=018 -/", max_size=400)))
@example("")
@example("A" * 5000)
def test_payload_from_path_arbitrary_text(text: str) -> None:
    try:
        payload = payload_from_path(text)
    except InvalidPayload as exc:
        assert isinstance(exc.details.get("why"), str)
        return
    # Accepted text is exactly the Base32 of the bytes, up to letter case.
    assert to_text(payload) == text.upper()
    _decode_or_invalid(payload)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_base32_round_trip(data: bytes) -> None:
    text = to_text(data)
    assert text.isascii()
    assert text == text.upper()
    assert "=" not in text
    assert from_text(text) == data
    assert from_text(text.lower()) == data


# Records with any text in any field: mostly invalid, sometimes valid by accident.
_field = st.one_of(st.text(max_size=30), st.text(alphabet="0123456789-YSXZa", max_size=25))
arbitrary_records = st.builds(
    CertificateRecord,
    number=st.one_of(_field, _numbers),
    holder_name=st.one_of(_field, _han_names),
    id_tail=st.one_of(_field, _id_tails),
    occupation_code=st.one_of(_field, _occupation_codes),
    occupation_name=_field,
    job=st.one_of(_field, st.sampled_from(["--", "——", ""])),
    issue_date=st.dates(date(1990, 1, 1), date(2110, 1, 1)),
    kid=st.one_of(_field, _kids),
)


@settings(max_examples=1000, deadline=None)
@given(arbitrary_records)
def test_encode_raises_only_record_error(record: CertificateRecord) -> None:
    # encode_body either returns bytes that decode back to the same record, or raises RecordError.
    try:
        body = encode_body(record)
    except RecordError as exc:
        assert exc.why
        return
    assert decode(assemble(body, SIG))[0] == record

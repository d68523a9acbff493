"""Fuzz targets: one ``fuzz_<name>(data: bytes) -> None`` per parser of outside input.

Each target feeds the bytes to the parser, catches only the error types the parser documents in its
docstring ("Raises"), and checks the properties the parser promises for what it accepts. Anything
else propagates: an undeclared exception or an ``InvariantViolation`` is a crash. The functions take
plain bytes (no ``atheris.FuzzedDataProvider``), so atheris, hypothesis and the corpus replay in
``tests/unit/test_fuzz_corpus.py`` all run exactly the same code on exactly the same inputs.

Text targets read the bytes as UTF-8 with the ``verify-fuzz`` error handler: an encoded surrogate
(``ED A0 80``) becomes that lone surrogate and any other invalid byte its ``surrogateescape`` form,
so every byte string maps to one ``str`` and the fuzzer reaches NUL, surrogates and noncharacters.
Where a target needs a choice (the ID type), the first byte makes it.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Final

from verify.domain import codes, holder_ids, names, payload, text
from verify.domain.batch.columns import ALL_KEYS, COLUMNS
from verify.domain.errors import (
    BadCharacter,
    BadFile,
    FileTooLarge,
    InvalidCode,
    InvalidId,
    InvalidName,
    InvalidPayload,
    Problem,
)
from verify.files.batchfile import read_batch_file

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_LEN",
    "TARGETS",
    "TODAY",
    "InvariantViolation",
    "text_of",
]

# A fixed day, so a corpus input means the same thing on every run (the parsers take ``today``).
TODAY: Final = date(2026, 11, 25)
MAX_BATCH_BYTES: Final = 2 * 1024 * 1024


class InvariantViolation(AssertionError):
    """A parser accepted an input but broke a property it documents. Counts as a crash."""


def _require(condition: bool, what: str) -> None:
    # Not ``assert``: the checks must hold under ``python -O`` too.
    if not condition:
        raise InvariantViolation(what)


# ---------------------------------------------------------------------------------------------------
# Bytes to text

_SURROGATEPASS = codecs.lookup_error("surrogatepass")
_SURROGATEESCAPE = codecs.lookup_error("surrogateescape")


def _fuzz_errors(exc: UnicodeError) -> tuple[str | bytes, int]:
    try:
        return _SURROGATEPASS(exc)
    except UnicodeError:
        return _SURROGATEESCAPE(exc)


codecs.register_error("verify-fuzz", _fuzz_errors)


def text_of(data: bytes) -> str:
    """The ``str`` a target feeds to a text parser: UTF-8, lone surrogates kept. Raises nothing."""
    return data.decode("utf-8", "verify-fuzz")


def _refused(ch: str) -> bool:
    """An oracle for ``verify.domain.text``, written from its docstring and ``BadCharacter``: controls
    other than tab, LF and CR; lone surrogates; the 66 Unicode noncharacters."""
    cp = ord(ch)
    if ch in "\t\n\r":
        return False
    return (
        cp < 0x20
        or 0x7F <= cp <= 0x9F
        or 0xD800 <= cp <= 0xDFFF
        or 0xFDD0 <= cp <= 0xFDEF
        or (cp & 0xFFFF) in (0xFFFE, 0xFFFF)
    )


# ---------------------------------------------------------------------------------------------------
# QR payload (verify.domain.payload)

_KID: Final = re.compile(r"[0-9a-f]{4}")
_ID_TAIL: Final = re.compile(r"[0-9A-Z]{4}")
_OCCUPATION_CODE: Final = re.compile(r"[0-9]-[0-9]{2}-[0-9]{2}-[0-9]{2}")
_SIGNATURE: Final = bytes(range(payload.SIGNATURE_LEN))


def _check_payload_text(value: str, field: str, max_chars: int) -> None:
    _require(1 <= len(value) <= max_chars, f"{field}: {len(value)} characters, limit {max_chars}")
    _require(len(value.encode("utf-8")) <= 255, f"{field}: more than 255 UTF-8 bytes")
    _require(unicodedata.is_normalized("NFC", value), f"{field}: not NFC")
    bad = [ch for ch in value if unicodedata.category(ch) in ("Cc", "Cf", "Cs")]
    _require(not bad, f"{field}: control, format or surrogate character {bad[:1]!r}")


def _check_record(data: bytes) -> None:
    """``data`` decoded; check everything ``decode`` promises about the record it returned."""
    record, body, signature = payload.decode(data)
    _require(body + signature == data, "body + signature is not the payload")
    _require(len(signature) == payload.SIGNATURE_LEN, "signature is not 64 bytes")
    _require(len(data) <= payload.MAX_PAYLOAD_LEN, "payload over MAX_PAYLOAD_LEN")
    # Canonical by design (module docstring): re-encoding the record with the same signature gives
    # the same bytes, so every record has exactly one payload.
    _require(payload.encode_body(record) == body, "encode_body(decode(p).record) != body")
    _require(payload.assemble(payload.encode_body(record), signature) == data, "round trip differs")
    _require(payload.decode(memoryview(data)) == (record, body, signature), "memoryview decodes differently")

    _require(bool(_KID.fullmatch(record.kid)), "kid is not 4 lower-case hex characters")
    _require(bool(_ID_TAIL.fullmatch(record.id_tail)), "id_tail is not 4 of 0-9 A-Z")
    _require(
        record.occupation_code == ""
        or (
            bool(_OCCUPATION_CODE.fullmatch(record.occupation_code))
            and record.occupation_code != "0-00-00-00"
        ),
        "occupation_code is neither empty nor D-DD-DD-DD",
    )
    _require(type(record.issue_date) is date, "issue_date is not a date")
    _require(payload.EPOCH <= record.issue_date <= payload.LAST_DATE, "issue_date out of range")
    _check_payload_text(record.holder_name, "holder_name", payload.HOLDER_NAME_MAX)
    _check_payload_text(record.occupation_name, "occupation_name", payload.OCCUPATION_NAME_MAX)
    if record.job != payload.NO_JOB:
        _require(record.job != "——", "job holds the legacy placeholder")
        _check_payload_text(record.job, "job", payload.JOB_MAX)

    number = codes.parse_certificate_number(record.number, today=payload.LAST_DATE)  # InvalidCode = crash
    _require(number.canonical == record.number, "number not canonical")
    _require(number.level == record.level, "record.level disagrees with the number")
    _require(number.institution_key == record.institution_key, "record.institution_key disagrees")

    as_text = payload.to_text(data)
    _require(payload.payload_from_path(as_text) == data, "to_text/payload_from_path round trip")
    _require(payload.payload_from_path(as_text.lower()) == data, "lower-case text differs")


def fuzz_payload(data: bytes) -> None:
    """``payload.decode`` on raw bytes: raises only InvalidPayload; what decodes is canonical."""
    try:
        payload.decode(data)
    except InvalidPayload as exc:
        _require(isinstance(exc.details.get("why"), str), "InvalidPayload without details['why']")
        return
    _check_record(data)


def fuzz_payload_text(data: bytes) -> None:
    """``from_text`` / ``payload_from_path`` on text, then ``decode`` on what they return."""
    value = text_of(data)
    try:
        raw = payload.from_text(value)
    except InvalidPayload as exc:
        _require(isinstance(exc.details.get("why"), str), "InvalidPayload without details['why']")
        try:
            payload.payload_from_path(value)
        except InvalidPayload:
            return
        raise InvariantViolation("payload_from_path accepts text from_text refuses") from None
    _require(payload.to_text(raw) == value.upper(), "accepted text is not the Base32 of its bytes")
    _require(len(raw) <= payload.MAX_PAYLOAD_LEN, "from_text returned more than MAX_PAYLOAD_LEN bytes")
    if value == "":
        try:
            payload.payload_from_path(value)
        except InvalidPayload as exc:
            _require(exc.details.get("why") == "truncated", "empty segment is not 'truncated'")
        else:
            raise InvariantViolation("payload_from_path accepts an empty segment")
        return
    _require(payload.payload_from_path(value) == raw, "payload_from_path differs from from_text")
    fuzz_payload(raw)


# ---------------------------------------------------------------------------------------------------
# Certificate numbers (verify.domain.codes)


def _check_positions(canonical: str, problems: tuple[Problem, ...]) -> None:
    # Module docstring: position is 1-based, found is the offending text, so the span is in the input.
    for p in problems:
        if p.position is None:
            continue
        found = p.found or ""
        start = p.position - 1
        _require(0 <= start < max(len(canonical), 1), f"{p.code}: position {p.position} outside the input")
        _require(
            canonical[start : start + len(found)] == found, f"{p.code}: found is not the text at position"
        )


def fuzz_codes(data: bytes) -> None:
    """``normalize`` (idempotent, never raises), ``check_code`` / ``check_certificate_number`` (never
    raise), ``parse_certificate_number`` and ``institution_key_parts`` (InvalidCode only), and that
    parse accepts exactly what check_certificate_number calls valid."""
    raw = text_of(data)
    canonical = codes.normalize(raw)
    _require(codes.normalize(canonical) == canonical, "normalize is not idempotent")

    result = codes.check_code(raw, today=TODAY)
    _require(result.input == raw and result.canonical == canonical, "check_code canonical != normalize")
    _require(result.valid == (not result.problems), "valid disagrees with problems")
    _check_positions(canonical, result.problems)
    _check_positions(canonical, result.warnings)
    json.dumps(result.to_json())  # the API sends it: must be JSON-serialisable

    cert = codes.check_certificate_number(raw, today=TODAY)
    _require(cert.canonical == canonical and cert.valid == (not cert.problems), "check_certificate_number")
    try:
        number = codes.parse_certificate_number(raw, today=TODAY)
    except InvalidCode as exc:
        _require(not cert.valid, "parse_certificate_number refuses a number check calls valid")
        _require(bool(exc.problems), "InvalidCode without problems")
    else:
        _require(cert.valid, "parse_certificate_number accepts a number check calls invalid")
        _require(number.canonical == canonical, "parsed canonical != normalize")
        _require(number.year <= TODAY.year, "parsed year in the future")
        _require(codes.parse_certificate_number(canonical, today=TODAY) == number, "parse not stable")
        _require(result.parts.get("institution_key") == number.institution_key, "institution_key differs")
        if len(canonical) == 22:
            _require(number.institution_key == canonical[:13], "22-char institution_key")
            _require(number.level is not None and 1 <= number.level <= 5, "level outside 1..5")
        else:
            _require(len(canonical) == 15 and number.level is None, "15-digit number has a level")
            _require(number.institution_key == canonical[2:10], "15-digit institution_key")

    try:
        parts = codes.institution_key_parts(raw)
    except InvalidCode as exc:
        _require(bool(exc.problems), "InvalidCode without problems")
    else:
        _require(parts.get("institution_key") == canonical, "institution_key_parts key != canonical")


# ---------------------------------------------------------------------------------------------------
# Holder IDs (verify.domain.holder_ids)

_ID_TYPES: Final = tuple(holder_ids.IdType)


def _error_texts(exc: InvalidId | InvalidName) -> list[str]:
    texts = [str(exc), exc.message_zh, exc.message_en, repr(exc.to_json())]
    for p in exc.problems:
        texts += [str(v) for v in p.to_json().values()]
    return texts


def fuzz_holder_ids(data: bytes) -> None:
    """First byte picks the ``IdType``; the rest is the number. ``validate_id`` raises only InvalidId,
    never quotes the number, and returns an ASCII canonical form that validates to itself."""
    kind = _ID_TYPES[data[0] % len(_ID_TYPES)] if data else holder_ids.IdType.RESIDENT
    raw = text_of(data[1:])
    normalized = holder_ids.normalize_id(raw)  # raises nothing
    try:
        canonical = holder_ids.validate_id(raw, kind, today=TODAY)
    except InvalidId as exc:
        _require(bool(exc.problems), "InvalidId without problems")
        if len(normalized) >= 8 and normalized.isascii() and normalized.isalnum():
            leaked = [t for t in _error_texts(exc) if normalized in t]
            _require(not leaked, "an InvalidId message quotes the ID number")
        canonical = None
    if canonical is not None:
        _require(bool(holder_ids.CANONICAL_ID.fullmatch(canonical)), "canonical form is not [0-9A-Z]{5,18}")
        _require(
            holder_ids.validate_id(canonical, kind, today=TODAY) == canonical, "canonical not a fixed point"
        )
        # The fast path only ever accepts what the full check accepts, with the same result.
        _require(holder_ids._validate_full(raw, kind, TODAY) == canonical, "fast and full paths disagree")
        if kind in (holder_ids.IdType.RESIDENT, holder_ids.IdType.HKMOTW_RESIDENCE):
            _require(holder_ids.gb11643_check_char(canonical[:17]) == canonical[17], "check digit")
        tail = holder_ids.id_tail(canonical)
        masked = holder_ids.mask_id(kind, tail)
        _require(
            masked.endswith(tail) and set(masked[: -len(tail)]) <= {"*"}, "mask_id shows more than the tail"
        )

    try:
        check = holder_ids.gb11643_check_char(raw)
    except ValueError:
        return
    _require(len(raw) == 17 and raw.isascii() and raw.isdigit(), "gb11643_check_char accepted non-digits")
    _require(len(check) == 1 and check in "0123456789X", "check character outside 0-9 X")


# ---------------------------------------------------------------------------------------------------
# Holder names (verify.domain.names)


def fuzz_names(data: bytes) -> None:
    """``normalize_name`` / ``name_key`` raise only InvalidName; the stored form is NFC, trimmed,
    at most 100 characters, idempotent, and passes ``check_text``; the key is a fixed point."""
    raw = text_of(data)
    try:
        name = names.normalize_name(raw)
    except InvalidName as exc:
        _require(bool(exc.problems), "InvalidName without problems")
        try:
            names.name_key(raw)
        except InvalidName:
            return
        raise InvariantViolation("name_key accepts a name normalize_name refuses") from None
    _require(1 <= len(name) <= names.MAX_NAME_LENGTH, "normalized name length outside 1..100")
    _require(unicodedata.is_normalized("NFC", name), "normalized name not NFC")
    _require(name == name.strip() and "  " not in name, "whitespace not collapsed")
    _require(not (set(name) & (names.DOT_VARIANTS - {names.MIDDLE_DOT})), "a middle-dot variant survived")
    _require(names.normalize_name(name) == name, "normalize_name is not idempotent")
    text.check_text(name, "name")  # BadCharacter here is a crash: names refuse a superset of it
    try:
        key = names.name_key(raw)
    except InvalidName:
        return
    _require(names.key_of(name) == key, "key_of(normalize_name(raw)) != name_key(raw)")
    _require(names.name_key(key) == key, "name_key is not a fixed point")
    _require(" " not in key and names.MIDDLE_DOT not in key, "separator left in the key")


# ---------------------------------------------------------------------------------------------------
# Outside text (verify.domain.text)


def _tree_refused(value: object) -> bool:
    """Iterative oracle for ``check_tree``: does any string (or key) hold a refused character?"""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any(_refused(ch) for ch in item):
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                stack += [str(key), child]
        elif isinstance(item, list):
            stack += item
    return False


def fuzz_text(data: bytes) -> None:
    """``check_text`` refuses exactly NUL/controls, lone surrogates and noncharacters and names the
    first one; ``check_tree`` on the input read as JSON raises BadCharacter exactly when some string holds one."""
    value = text_of(data)
    first_bad = next((i for i, ch in enumerate(value) if _refused(ch)), None)
    try:
        returned = text.check_text(value, "field")
    except BadCharacter as exc:
        _require(first_bad is not None, "check_text refused text with no refused character")
        assert first_bad is not None  # for mypy
        problem = exc.problems[0]
        _require(
            problem.position == first_bad + 1, "BadCharacter position is not the first refused character"
        )
        _require(problem.found == f"U+{ord(value[first_bad]):04X}", "BadCharacter names the wrong code point")
    else:
        if first_bad is not None:
            raise InvariantViolation(f"check_text accepted U+{ord(value[first_bad]):04X}")
        _require(returned is value, "check_text changed the value")

    try:
        tree = json.loads(value)
    except (ValueError, RecursionError):  # not JSON: nothing for check_tree (the harness, not the target)
        return
    refused = _tree_refused(tree)
    try:
        text.check_tree(tree)
    except BadCharacter:
        _require(refused, "check_tree refused a tree with no refused character")
    else:
        _require(not refused, "check_tree accepted a tree holding a refused character")


# ---------------------------------------------------------------------------------------------------
# Batch files (verify.files.batchfile)


def _documented_codes(error: str) -> frozenset[str]:
    """The problem codes ``read_batch_file``'s docstring lists under ``error`` in its "Raises:".

    Read from the docstring rather than copied here, so the harness checks the contract as written
    (and follows it when a code is added there), not a stale copy of it.
    """
    doc = read_batch_file.__doc__ or ""
    entry = re.search(rf"^\s+{error}:(.*?)(?=^\s+[A-Z]\w*:|\Z)", doc, re.DOTALL | re.MULTILINE)
    return frozenset(re.findall(r"``([a-z][a-z0-9_]*)``", entry.group(1))) if entry else frozenset()


_TOO_LARGE_CODES: Final = _documented_codes("FileTooLarge")
_BAD_FILE_CODES: Final = _documented_codes("BadFile")
_REQUIRED_KEYS: Final = frozenset(c.key for c in COLUMNS if c.required)


def _batch(data: bytes, filename: str) -> None:
    try:
        batch = read_batch_file(data, filename, max_bytes=MAX_BATCH_BYTES)
    except FileTooLarge as exc:
        codes_ = [p.code for p in exc.problems]
        _require(len(codes_) == 1 and codes_[0] in _TOO_LARGE_CODES, f"FileTooLarge problems {codes_}")
        return
    except BadFile as exc:
        codes_ = [p.code for p in exc.problems]
        _require(len(codes_) == 1 and codes_[0] in _BAD_FILE_CODES, f"BadFile problems {codes_} undocumented")
        return
    _require(batch.file_format == ("xlsx" if data.startswith(b"PK\x03\x04") else "csv"), "file_format")
    _require(batch.sha256 == hashlib.sha256(data).hexdigest(), "sha256 is not of the bytes")
    _require(bool(batch.rows), "a batch without rows was accepted")
    _require(set(batch.columns) <= set(ALL_KEYS) and set(batch.columns) >= _REQUIRED_KEYS, "columns")
    _require(len(set(batch.columns)) == len(batch.columns), "duplicate column keys")
    last_line = 0
    for row in batch.rows:
        _require(row.line > last_line, "row line numbers do not increase")
        last_line = row.line
        _require(set(row.values) == set(ALL_KEYS), "a row lacks some column keys")
        _require(
            all(isinstance(v, str) and v == v.strip() for v in row.values.values()), "cell not stripped str"
        )
        # A row may be all blank in the known columns: data only in ignored columns keeps it (by design).


def fuzz_batch_csv(data: bytes) -> None:
    """``read_batch_file(data, "batch.csv")``: raises only BadFile / FileTooLarge (with a documented
    problem code); an accepted batch has every column key in every row and increasing line numbers."""
    _batch(data, "batch.csv")


def fuzz_batch_xlsx(data: bytes) -> None:
    """As ``fuzz_batch_csv`` with the name ``batch.xlsx`` (ZIP magic sends any name to the XLSX reader)."""
    _batch(data, "batch.xlsx")


# ---------------------------------------------------------------------------------------------------

TARGETS: Final[dict[str, Callable[[bytes], None]]] = {
    "payload": fuzz_payload,
    "payload_text": fuzz_payload_text,
    "codes": fuzz_codes,
    "holder_ids": fuzz_holder_ids,
    "names": fuzz_names,
    "text": fuzz_text,
    "batch_csv": fuzz_batch_csv,
    "batch_xlsx": fuzz_batch_xlsx,
}

# Longest input the fuzzers generate per target: a little past each parser's own limit, so the
# "too long" branches are reached without spending the budget on megabytes of noise.
MAX_LEN: Final[dict[str, int]] = {
    "payload": 1024,  # MAX_PAYLOAD_LEN = 852
    "payload_text": 1600,  # MAX_TEXT_LEN = 1364
    "codes": 256,
    "holder_ids": 128,  # holder_ids refuses > 64 characters unread
    "names": 1200,  # names refuse > 1000 characters unread
    "text": 4096,
    "batch_csv": 8192,
    "batch_xlsx": 16384,
}

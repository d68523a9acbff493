"""The signed certificate record carried in the QR code: a compact, versioned, canonical binary format.

The QR code on a certificate encodes ``HTTPS://VERIFY.EXAMPLE.CN/C/<B32>``, where ``<B32>`` is the
payload in RFC 4648 Base32 (upper case, no padding): the body below followed by a 64-byte Ed25519
signature over ``DOMAIN_TAG + body``. docs/QR-FORMAT.md is the specification; this module is its
reference implementation. It never signs or verifies anything: keys live in the signing module.

Body layout (big-endian integers), version 1:

    offset  bytes  field
    0       1      header: version (high 4 bits) | number form (2 bits) | reserved (low 2 bits, zero)
    1       2      kid (uint16)
    3       9 | 7  certificate number digits (uint72 < 10**21 after a Y/S letter, or uint56 < 10**15)
    +       3      ID tail, 4 base-36 digits as uint24 (< 36**4)
    +       3      occupation code D-DD-DD-DD as uint24 (0 = none, < 10**7)
    +       2      issue date, days since 2000-01-01 (uint16, <= 36524 = 2099-12-31)
    +       1+n    holder name, UTF-8 (n >= 1)
    +       1+n    occupation name, UTF-8 (n >= 1)
    +       1+n    job (工种/职业方向), UTF-8; n = 0 means "--" (none)

Canonical only: ``decode`` rebuilds the record, re-encodes it and rejects the payload unless the bytes
are identical, so every record has exactly one payload (and one URL) for a given signature.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum
from typing import Final

from verify.domain.codes import parse_certificate_number
from verify.domain.errors import InvalidCode, InvalidPayload

VERSION: Final = 1
# Domain separation: a signature over a certificate record can never be replayed as a signature over
# anything else the same key signs (status lists, receipts), and a v2 record needs a new tag. The NUL
# ends the tag, so no tag is a prefix of another.
DOMAIN_TAG: Final = b"verify.cert.v1\x00"
SIGNATURE_LEN: Final = 64

# What the record says in place of a 工种 when there is none (人社鉴发〔2021〕1号: "--", never empty).
NO_JOB: Final = "--"
# The 2019 template's placeholder. Importers map it to "--"; a record holding it would be a second
# spelling of "none", so it cannot be encoded.
_LEGACY_NO_JOB: Final = "——"

EPOCH: Final = date(2000, 1, 1)
LAST_DATE: Final = date(2099, 12, 31)
_MAX_DAYS: Final = (LAST_DATE - EPOCH).days  # 36524, fits the uint16 with room for nothing else

# Character limits (the contract) and the byte limit the 1-byte length prefix imposes.
HOLDER_NAME_MAX: Final = 100
OCCUPATION_NAME_MAX: Final = 64
JOB_MAX: Final = 64
_TEXT_BYTES_MAX: Final = 255

_ID_TAIL_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_TAIL_LIMIT: Final = 36**4  # 1,679,616 < 2**21, so the tail fits 3 bytes (4 ASCII bytes would waste one)
_OCCUPATION_LIMIT: Final = 10**7

# Header bits.
_VERSION_SHIFT: Final = 4
_FORM_SHIFT: Final = 2
_FORM_MASK: Final = 0b11
_RESERVED_MASK: Final = 0b11
_FORM_RESERVED: Final = 3

FIXED_LEN_22: Final = 1 + 2 + 9 + 3 + 3 + 2  # 20
FIXED_LEN_15: Final = 1 + 2 + 7 + 3 + 3 + 2  # 18
MAX_BODY_LEN: Final = FIXED_LEN_22 + 3 * (1 + _TEXT_BYTES_MAX)  # 788
MAX_PAYLOAD_LEN: Final = MAX_BODY_LEN + SIGNATURE_LEN  # 852
# Longest Base32 text of a payload that could be valid; anything longer is refused before decoding.
MAX_TEXT_LEN: Final = (MAX_PAYLOAD_LEN * 8 + 4) // 5  # 1364

# Unpadded Base32 lengths (mod 8) that no byte string has (RFC 4648 §6: a final group of 1, 3 or 6
# characters never happens).
_B32_IMPOSSIBLE_LENGTHS: Final = frozenset({1, 3, 6})
_B32_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_B32_AS_DIGITS: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHIJKLMNOPQRSTUV")

# The QR alphanumeric set is 0-9 A-Z space $%*+-./: ; this is the URL subset of it we allow in a base.
_BASE_URL_RE: Final = re.compile(r"HTTPS?://[A-Z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Z0-9.-]+)*")

_KID_RE: Final = re.compile(r"[0-9a-f]{4}")
_ID_TAIL_RE: Final = re.compile(r"[0-9A-Z]{4}")
_OCCUPATION_CODE_RE: Final = re.compile(r"([0-9])-([0-9]{2})-([0-9]{2})-([0-9]{2})")

# The format accepts any year the 2-digit field can hold: whether a number's year is in the future is
# an issuance rule (docs/RULES.md rule 9), and a payload that decodes today must decode identically forever,
# so the check must not depend on the verifier's clock.
_NUMBER_CHECK_DAY: Final = LAST_DATE


class NumberForm(IntEnum):
    """The 2-bit number form in the header. 3 is reserved."""

    Y22 = 0  # 'Y' + 21 digits (national or Henan 职业技能等级证书)
    S22 = 1  # 'S' + 21 digits
    SPECIAL15 = 2  # 15 digits (河南专项职业能力证书)


_FORM_DIGITS: Final = {NumberForm.Y22: 21, NumberForm.S22: 21, NumberForm.SPECIAL15: 15}
_FORM_BYTES: Final = {NumberForm.Y22: 9, NumberForm.S22: 9, NumberForm.SPECIAL15: 7}


class RecordError(ValueError):
    """A record that cannot be encoded. ``why`` is the same slug ``decode`` reports in
    ``InvalidPayload.details["why"]`` when a payload decodes to such a record; ``field`` names the field."""

    def __init__(self, why: str, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.why = why
        self.field = field


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """What the QR code says about one certificate; every field is signed.

    ``level`` and ``institution_key`` are derived from ``number`` and not encoded separately, so they
    can never disagree with it. They are meaningful only for a record ``encode_body`` accepts.
    """

    number: str
    holder_name: str
    id_tail: str
    occupation_code: str
    occupation_name: str
    job: str
    issue_date: date
    kid: str

    @property
    def level(self) -> int | None:
        """职业技能等级 1..5 (position 16 of a 22-character number); ``None`` for a 专项 number."""
        return int(self.number[15]) if len(self.number) == 22 else None

    @property
    def institution_key(self) -> str:
        """Positions 1-13 of a 22-character number, or the 8-digit 考核机构 code of a 15-digit one."""
        return self.number[:13] if len(self.number) == 22 else self.number[2:10]


# ---------------------------------------------------------------------------------------------------
# Encoding


def _check_text(value: str, field: str, max_chars: int) -> bytes:
    """Validate one text field and return its UTF-8 bytes (without the length byte)."""
    if not isinstance(value, str):
        raise RecordError("bad_type", field, "must be a str")
    return _checked_text(value, field, max_chars)


# Occupation names and 工种 repeat across a batch's rows (and names across re-scans), so the checks'
# answers are kept; a refusal raises and is not kept.
@functools.lru_cache(maxsize=4096)
def _checked_text(value: str, field: str, max_chars: int) -> bytes:
    if not value:
        raise RecordError("empty_text", field, "must not be empty")
    if len(value) > max_chars:
        raise RecordError("text_too_long", field, f"{len(value)} characters, at most {max_chars}")
    # Control and invisible format characters (including lone surrogates, which UTF-8 cannot carry)
    # would let two records that display the same differ in their bytes; names.py refuses them too.
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            raise RecordError("bad_character", field, f"U+{ord(ch):04X} is a control or format character")
    if not unicodedata.is_normalized("NFC", value):
        raise RecordError("not_nfc", field, "must be in Unicode NFC")
    raw = value.encode("utf-8")
    if len(raw) > _TEXT_BYTES_MAX:
        raise RecordError("text_too_long", field, f"{len(raw)} UTF-8 bytes, at most {_TEXT_BYTES_MAX}")
    return raw


def _number_form(number: str) -> NumberForm:
    if not isinstance(number, str):
        raise RecordError("bad_type", "number", "must be a str")
    try:
        parsed = parse_certificate_number(number, today=_NUMBER_CHECK_DAY)
    except InvalidCode:
        raise RecordError("invalid_number", "number", "not a valid certificate number") from None
    if parsed.canonical != number:
        # parse_certificate_number normalises (lower case, spaces, full width); the record must not.
        raise RecordError("invalid_number", "number", "not in canonical form")
    if len(number) == 15:
        return NumberForm.SPECIAL15
    return NumberForm.Y22 if number[0] == "Y" else NumberForm.S22


def encode_body(record: CertificateRecord) -> bytes:
    """Return the canonical body bytes of ``record`` (everything the signature covers, minus the tag).

    Raises:
        RecordError (a ValueError): a field is out of range or not canonical; ``why`` names the rule.
    """
    form = _number_form(record.number)

    if not isinstance(record.kid, str) or not _KID_RE.fullmatch(record.kid):
        raise RecordError("bad_kid", "kid", "must be 4 lower-case hex characters")

    if not isinstance(record.id_tail, str) or not _ID_TAIL_RE.fullmatch(record.id_tail):
        raise RecordError("bad_id_tail", "id_tail", "must be 4 characters from 0-9 A-Z")
    tail = 0
    for ch in record.id_tail:
        tail = tail * 36 + _ID_TAIL_ALPHABET.index(ch)

    code = record.occupation_code
    if not isinstance(code, str):
        raise RecordError("bad_type", "occupation_code", "must be a str")
    if code == "":
        occupation = 0
    else:
        match = _OCCUPATION_CODE_RE.fullmatch(code)
        if match is None:
            raise RecordError("bad_occupation_code", "occupation_code", 'must be "" or D-DD-DD-DD')
        occupation = int("".join(match.groups()))
        if occupation == 0:
            # 0 means "no code"; 0-00-00-00 would decode as "" and break the round trip.
            raise RecordError("bad_occupation_code", "occupation_code", "0-00-00-00 is not a code")

    issued = record.issue_date
    # datetime is a date subclass; a datetime here would silently drop its time, so refuse it.
    if type(issued) is not date:
        raise RecordError("bad_type", "issue_date", "must be a datetime.date")
    if not EPOCH <= issued <= LAST_DATE:
        raise RecordError("date_out_of_range", "issue_date", f"must be within {EPOCH}..{LAST_DATE}")

    holder = _check_text(record.holder_name, "holder_name", HOLDER_NAME_MAX)
    occupation_name = _check_text(record.occupation_name, "occupation_name", OCCUPATION_NAME_MAX)
    if record.job == NO_JOB:
        job = b""
    elif record.job == _LEGACY_NO_JOB:
        raise RecordError("legacy_no_job", "job", 'the 2019 placeholder "——" must be given as "--"')
    else:
        job = _check_text(record.job, "job", JOB_MAX)

    digits = record.number if form is NumberForm.SPECIAL15 else record.number[1:]
    out = bytearray()
    out.append(VERSION << _VERSION_SHIFT | form << _FORM_SHIFT)
    out += int(record.kid, 16).to_bytes(2, "big")
    out += int(digits).to_bytes(_FORM_BYTES[form], "big")
    out += tail.to_bytes(3, "big")
    out += occupation.to_bytes(3, "big")
    out += (issued - EPOCH).days.to_bytes(2, "big")
    for text in (holder, occupation_name, job):
        out.append(len(text))
        out += text
    return bytes(out)


def signed_message(body: bytes) -> bytes:
    """Return the exact bytes the Ed25519 signature covers: ``DOMAIN_TAG + body``. Raises nothing."""
    return DOMAIN_TAG + bytes(body)


def assemble(body: bytes, signature: bytes) -> bytes:
    """Return the payload: ``body + signature``.

    Raises:
        ValueError: the signature is not exactly 64 bytes or the body is empty.
    """
    if len(signature) != SIGNATURE_LEN:
        raise ValueError(f"an Ed25519 signature is {SIGNATURE_LEN} bytes, got {len(signature)}")
    if not body:
        raise ValueError("empty body")
    return bytes(body) + bytes(signature)


# ---------------------------------------------------------------------------------------------------
# Decoding

# Messages for the verification page; they never echo payload content (names must not reach logs).
_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "truncated": ("二维码内容不完整", "The QR payload is incomplete"),
    "too_long": ("二维码内容过长", "The QR payload is too long"),
    "unknown_version": ("二维码格式版本不受支持", "The QR payload version is not supported"),
    "bad_signature_length": (
        "二维码中的签名长度错误",
        "The signature in the QR payload has the wrong length",
    ),
    "trailing_bytes": ("二维码内容末尾有多余数据", "The QR payload has extra data after the signature"),
    "bad_base32": ("二维码网址中的编码无效", "The code in the QR URL is not valid Base32"),
    "non_canonical_base32": (
        "二维码网址中的编码不是规范形式",
        "The code in the QR URL is not in canonical Base32 form",
    ),
    "non_canonical": ("二维码内容不是规范编码", "The QR payload is not canonically encoded"),
}
_FIELD_ERROR: Final = ("二维码中的证书信息无效", "The certificate data in the QR payload is not valid")


def _invalid(why: str, field: str | None = None, **extra: int) -> InvalidPayload:
    zh, en = _MESSAGES.get(why, _FIELD_ERROR)
    details: dict[str, object] = {"why": why}
    if field is not None:
        details["field"] = field
    details.update(extra)
    return InvalidPayload(zh, en, details=details)


# The fixed fields after the header byte, in order: name, width in bytes (None: the form's number
# width) and the exclusive upper bound of the value (None: any). The common case reads them by
# slicing, which costs a third of reading them one by one (decoding is much of a QR row's cost);
# only a body too short for all of them is walked field by field, for the error.
_FIXED_FIELDS: Final = (
    ("kid", 2, None, ""),
    ("number", None, None, "number_out_of_range"),
    ("id_tail", 3, _ID_TAIL_LIMIT, "id_tail_out_of_range"),
    ("occupation_code", 3, _OCCUPATION_LIMIT, "occupation_code_out_of_range"),
    ("issue_date", 2, _MAX_DAYS + 1, "date_out_of_range"),
)
_TEXT_FIELDS: Final = ("holder_name", "occupation_name", "job")
_LETTERS: Final = {NumberForm.Y22: "Y", NumberForm.S22: "S", NumberForm.SPECIAL15: ""}


def _short_body(data: bytes, form: NumberForm) -> InvalidPayload:
    """The error of a body that ends inside its fixed fields: the first field out of range before
    the end, else the field the end falls in (the order the fields are read in)."""
    pos = 1
    for name, width, limit, why in _FIXED_FIELDS:
        n = width or _FORM_BYTES[form]
        if pos + n > len(data):
            return _invalid("truncated", name)
        value = int.from_bytes(data[pos : pos + n], "big")
        bound = 10 ** _FORM_DIGITS[form] if name == "number" else limit
        if bound is not None and value >= bound:
            return _invalid(why, name)
        pos += n
    raise AssertionError("the body holds every fixed field")  # pragma: no cover - callers check the length


def _texts(data: bytes, pos: int) -> tuple[list[str], int]:
    """The three length-prefixed UTF-8 texts from ``pos``, and the position after them."""
    out = []
    n = len(data)
    for field in _TEXT_FIELDS:
        if pos >= n:
            raise _invalid("truncated", field)
        end = pos + 1 + data[pos]
        if end > n:
            raise _invalid("truncated", field)
        # Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
        try:
            out.append(data[pos + 1 : end].decode("utf-8"))
        except UnicodeDecodeError:
            raise _invalid("bad_utf8", field) from None
        pos = end
    return out, pos


def decode(payload: bytes | bytearray | memoryview) -> tuple[CertificateRecord, bytes, bytes]:
    """Parse a payload into ``(record, body, signature)`` without checking the signature.

    The caller verifies ``signature`` over ``signed_message(body)`` with the key named by
    ``record.kid``; nothing in the record may be trusted before that.

    Raises:
        InvalidPayload: the bytes are not exactly the canonical encoding of a valid record followed by
            a 64-byte signature. ``details["why"]`` is one of: truncated, too_long, unknown_version,
            reserved_flags, unknown_number_form, number_out_of_range, id_tail_out_of_range,
            occupation_code_out_of_range, date_out_of_range, bad_utf8, bad_signature_length,
            trailing_bytes, non_canonical, or a ``RecordError`` slug (invalid_number, empty_text,
            text_too_long, bad_character, not_nfc, legacy_no_job); ``details["field"]`` names the field.
    """
    data = bytes(payload)
    if not data:
        raise _invalid("truncated")
    if len(data) > MAX_PAYLOAD_LEN:
        raise _invalid("too_long", length=len(data))
    header = data[0]
    # The version is checked before any length, so a future version with another layout is reported
    # as a version the verifier does not know rather than as garbage.
    if header >> _VERSION_SHIFT != VERSION:
        raise _invalid("unknown_version", version=header >> _VERSION_SHIFT)
    if header & _RESERVED_MASK:
        raise _invalid("reserved_flags")
    form_bits = header >> _FORM_SHIFT & _FORM_MASK
    if form_bits == _FORM_RESERVED:
        raise _invalid("unknown_number_form")
    form = NumberForm(form_bits)

    width = _FORM_BYTES[form]
    fixed_end = FIXED_LEN_15 if form is NumberForm.SPECIAL15 else FIXED_LEN_22
    if len(data) < fixed_end:
        raise _short_body(data, form)
    kid = data[1] << 8 | data[2]
    digits = int.from_bytes(data[3 : 3 + width], "big")
    if digits >= 10 ** _FORM_DIGITS[form]:
        raise _invalid("number_out_of_range", "number")
    pos = 3 + width
    tail = int.from_bytes(data[pos : pos + 3], "big")
    if tail >= _ID_TAIL_LIMIT:
        raise _invalid("id_tail_out_of_range", "id_tail")
    occupation = int.from_bytes(data[pos + 3 : pos + 6], "big")
    if occupation >= _OCCUPATION_LIMIT:
        raise _invalid("occupation_code_out_of_range", "occupation_code")
    days = data[pos + 6] << 8 | data[pos + 7]
    if days > _MAX_DAYS:
        raise _invalid("date_out_of_range", "issue_date")
    (holder, occupation_name, job), end = _texts(data, fixed_end)
    job = job or NO_JOB

    body, signature = data[:end], data[end:]
    if len(signature) < SIGNATURE_LEN:
        raise _invalid("bad_signature_length", "signature", length=len(signature))
    if len(signature) > SIGNATURE_LEN:
        raise _invalid("trailing_bytes", extra=len(signature) - SIGNATURE_LEN)

    a, rest = divmod(tail, 46656)  # 36**3
    b, rest = divmod(rest, 1296)
    c, d = divmod(rest, 36)
    alphabet = _ID_TAIL_ALPHABET
    code = f"{occupation:07d}"
    record = CertificateRecord(
        number=f"{_LETTERS[form]}{digits:0{_FORM_DIGITS[form]}d}",
        holder_name=holder,
        id_tail=alphabet[a] + alphabet[b] + alphabet[c] + alphabet[d],
        occupation_code=f"{code[0]}-{code[1:3]}-{code[3:5]}-{code[5:7]}" if occupation else "",
        occupation_name=occupation_name,
        job=job,
        issue_date=EPOCH + timedelta(days=days),
        kid=f"{kid:04x}",
    )
    # Canonicality by construction: the field rules live in encode_body only, and whatever the parse
    # above let through (a literal "--" job, say) is caught by the byte comparison.
    try:
        again = encode_body(record)
    except RecordError as exc:
        raise _invalid(exc.why, exc.field) from None
    if again != body:
        raise _invalid("non_canonical")
    return record, body, signature


# ---------------------------------------------------------------------------------------------------
# Text and URL forms


def to_text(payload: bytes) -> str:
    """Return RFC 4648 Base32 of ``payload``: upper case, no padding (QR alphanumeric mode). Raises nothing."""
    return base64.b32encode(payload).decode("ascii").rstrip("=")


def from_text(text: str) -> bytes:
    """Decode the Base32 text of a payload, in any letter case.

    Raises:
        InvalidPayload: ``details["why"]`` is too_long (longer than any valid payload), bad_base32
            (characters outside A-Z 2-7, or a length no byte string has), or non_canonical_base32
            (padding present, or the unused low bits of the last character are not zero).
    """
    if not isinstance(text, str):
        raise _invalid("bad_base32")
    if len(text) > MAX_TEXT_LEN:
        raise _invalid("too_long", length=len(text))
    if "=" in text:
        # Padding is redundant (the length says it all), so a padded form would be a second spelling.
        raise _invalid("non_canonical_base32")
    # isascii first: str.upper() maps some non-ASCII letters to ASCII ones ("ß" -> "SS", "ı" -> "I").
    upper = text.upper()
    if not text.isascii() or not _B32_ALPHABET.issuperset(upper):
        raise _invalid("bad_base32")
    if len(upper) % 8 in _B32_IMPOSSIBLE_LENGTHS:
        raise _invalid("bad_base32")
    if not upper:
        return b""
    # The text as one big number read in C (int(x, 32) takes the digits 0-9 A-V, so the RFC 4648
    # letters are mapped onto them first): the standard library's b32decode is a Python loop that
    # cost more than the rest of a scan's decoding (docs/DECISIONS.md, D29).
    nbytes, spare = divmod(5 * len(upper), 8)
    value = int(upper.translate(_B32_AS_DIGITS), 32)
    # The unused low bits of the last character must be zero: otherwise "AB" and "AA" would both be
    # spellings of b"\x00", and only one text may stand for a payload.
    if value & ((1 << spare) - 1):
        raise _invalid("non_canonical_base32")
    return (value >> spare).to_bytes(nbytes, "big")


def qr_url(base_url: str, payload: bytes) -> str:
    """Return the whole URL for the QR code, upper case: ``HTTPS://VERIFY.EXAMPLE.CN/C/<B32>``.

    Upper case keeps every character in the QR alphanumeric set, so the symbol is one alphanumeric
    segment (5.5 bits a character rather than 8). Scheme and host are case-insensitive; the server
    must route ``/c/`` and read the code case-insensitively.

    Raises:
        ValueError: ``base_url`` is not an http(s) URL made of letters, digits, '.', '-' and '/' (with an
            optional port); anything else would push the QR code out of alphanumeric mode.
    """
    base = base_url.upper().rstrip("/")
    if not base.isascii() or not _BASE_URL_RE.fullmatch(base):
        raise ValueError("base_url must be http(s)://host[:port][/path] using letters, digits, '.', '-'")
    return f"{base}/C/{to_text(payload)}"


def digest(payload: bytes) -> str:
    """SHA-256 (hex) of a signed payload: which version of a certificate a stored copy was made for."""
    return hashlib.sha256(payload).hexdigest()


def payload_from_path(path_segment: str) -> bytes:
    """Return the payload bytes of the ``<B32>`` segment of ``/c/<B32>`` (any letter case).

    Raises:
        InvalidPayload: as ``from_text``, plus ``truncated`` for an empty segment.
    """
    if path_segment == "":
        raise _invalid("truncated")
    return from_text(path_segment)

"""Signed batch-verification receipts: the format, the receipt key, signing and offline checking.

A receipt answers one batch-verification request. It names the SHA-256 of the request bytes and the
Merkle root (RFC 6962, ``verify.domain.merkle``) over the per-row results, and is signed with the
dedicated Ed25519 *receipt key*. docs/RECEIPT-FORMAT.md is the specification; this module is its
reference implementation.

The receipt key signs ``RECEIPT_DOMAIN + canonical(receipt without "signature")`` and nothing else:
``ReceiptSigner`` has no method that signs caller-chosen bytes. Since the certificate tag
(``payload.DOMAIN_TAG``) and ``RECEIPT_DOMAIN`` both end in NUL and differ before it, no receipt
signature is a certificate signature and no certificate signature is a receipt signature. That is
why the key may live in the internet-facing web process, unlike the certificate keys.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeGuard

import orjson
from nacl.signing import SigningKey

from verify.crypto.signing import kid_of, public_jwk, verify_signature
from verify.domain import merkle
from verify.domain.errors import ConfigError, InvalidInput

FORMAT: Final = "verify-receipt-v1"
# Ends in NUL like payload.DOMAIN_TAG, so neither tag is a prefix of the other (docs/QR-FORMAT.md §1).
RECEIPT_DOMAIN: Final = b"verify.receipt.v1\x00"
PURPOSE: Final = "receipt"

_SEED_BYTES: Final = 32
_KEY_FILE_MODE: Final = 0o640
_MAX_KEY_FILE_BYTES: Final = 64 * 1024
# A receipt is under 1 KiB; the limit keeps a hostile upload from being parsed at length.
_MAX_RECEIPT_BYTES: Final = 64 * 1024
# Deeper nesting than any row result needs; stops RecursionError on hostile input.
_MAX_DEPTH: Final = 32
# Integers a JavaScript verifier reads exactly (Number.MAX_SAFE_INTEGER); beyond it JSON.parse rounds,
# re-serialises differently and the signature would fail for a reason nobody could see.
_MAX_SAFE_INT: Final = 2**53 - 1
_MAX_TEXT: Final = 256
_MAX_VERDICTS: Final = 64

_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_KID: Final = re.compile(r"[0-9a-f]{4}")
_RECEIPT_ID: Final = re.compile(r"[0-9A-Za-z._-]{1,128}")
_ISSUED_AT: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_SIGNATURE: Final = re.compile(r"[A-Za-z0-9_-]{86}")
_X: Final = re.compile(r"[A-Za-z0-9_-]{43}")

# -- canonical JSON ----------------------------------------------------------------------------------


def _plain(obj: Any, depth: int) -> Any:
    """``obj`` as dicts and lists only, after checking every value is one canonical JSON allows.

    Every row of a batch answer passes through here (its Merkle leaf), so plain dicts, lists and
    scalars are checked in place and returned as they are; only other mappings and tuples are
    copied. Same answers as a plain recursive walk, a third of the time."""
    if depth > _MAX_DEPTH:
        raise InvalidInput(f"JSON 嵌套超过 {_MAX_DEPTH} 层", f"JSON nested deeper than {_MAX_DEPTH} levels")
    kind = type(obj)
    if kind is str or kind is bool or obj is None:
        return obj
    if kind is int:
        return _safe_int(obj)
    if kind is dict or kind is list:
        items = obj.items() if kind is dict else enumerate(obj)
        copy: Any = None
        for key, value in items:
            if kind is dict and type(key) is not str:
                raise InvalidInput("JSON 对象的键必须是字符串", "JSON object keys must be strings")
            inner = type(value)
            if depth < _MAX_DEPTH and (
                inner is str
                or value is None
                or inner is bool
                or (inner is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT)
            ):
                continue
            plain = _plain(value, depth + 1)
            if plain is not value:
                if copy is None:
                    copy = dict(obj) if kind is dict else list(obj)
                copy[key] = plain
        return obj if copy is None else copy
    return _other(obj, depth)


def _safe_int(obj: int) -> int:
    if not -_MAX_SAFE_INT <= obj <= _MAX_SAFE_INT:
        raise InvalidInput("整数超出 ±(2^53−1) 范围", "An integer is outside ±(2^53−1)")
    return obj


def _other(obj: Any, depth: int) -> Any:
    """The values ``_plain`` does not take in place: subclasses, other mappings, tuples."""
    if isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, int):
        return _safe_int(obj)
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise InvalidInput("JSON 对象的键必须是字符串", "JSON object keys must be strings")
            out[key] = _plain(value, depth + 1)
        return out
    if isinstance(obj, (list, tuple)):
        return [_plain(v, depth + 1) for v in obj]
    # Floats above all: their decimal form differs between languages, so they cannot be signed.
    raise InvalidInput(
        f"规范 JSON 不接受此类型的值：{type(obj).__name__}",
        f"Canonical JSON does not accept a value of type {type(obj).__name__}",
    )


def canonical(obj: Any) -> bytes:
    """The canonical JSON bytes of ``obj``: keys sorted, no spaces, UTF-8, non-ASCII unescaped.

    Accepts str, int (within ±(2^53−1)), bool, None, list or tuple, and mappings with str keys,
    nested at most 32 deep. Raises ``InvalidInput`` for anything else (floats in particular) and for
    a string holding a lone surrogate, which UTF-8 cannot encode.
    """
    plain = _plain(obj, 0)
    # orjson writes the bytes of json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # in a quarter of the time (every batch row is a Merkle leaf); test_canonical_is_the_documented_json
    # checks the two agree. ``_plain`` has already refused what orjson would accept and canonical
    # JSON must not (floats, integers past 2^53, too deep).
    try:
        return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # the one thing _plain lets through: a lone surrogate
        raise InvalidInput("字符串含有孤立代理项", "A string holds a lone surrogate") from None


def row_leaf(result: Mapping[str, Any]) -> bytes:
    """The Merkle leaf data of one row result: ``canonical(result)``.

    Raises ``InvalidInput`` if ``result`` is not a mapping or ``canonical`` refuses it.
    """
    if not isinstance(result, Mapping):
        raise InvalidInput("每行结果必须是 JSON 对象", "Each row result must be a JSON object")
    return canonical(result)


def results_root(results: Sequence[Mapping[str, Any]], leaves: Mapping[int, bytes] | None = None) -> str:
    """Hex of the Merkle tree hash over ``row_leaf`` of each result, in order; ``leaves[i]``, where
    given, is ``row_leaf(results[i])`` worked out earlier (while other work was waited for).

    Raises ``InvalidInput`` as ``row_leaf`` does.
    """
    known = leaves or {}
    return merkle.root([known.get(i) or row_leaf(r) for i, r in enumerate(results)]).hex()


# -- the receipt -------------------------------------------------------------------------------------


def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise InvalidInput(
            f"{name} 必须是 1 至 {_MAX_TEXT} 个字符的字符串",
            f"{name} must be a string of 1 to {_MAX_TEXT} characters",
        )


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_SAFE_INT:
        raise InvalidInput(f"{name} 必须是非负整数", f"{name} must be a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class ReceiptFields:
    """What a receipt states, apart from ``format``, ``kid`` and ``signature``.

    Construction checks every field, so a ``ReceiptFields`` that exists can be signed; raises
    ``InvalidInput`` for: an empty or over-long text; a ``receipt_id`` outside ``[0-9A-Za-z._-]``
    (1 to 128 characters); an ``issued_at`` that is not a real UTC time ``YYYY-MM-DDTHH:MM:SSZ``;
    a hash that is not 64 lower-case hex characters; counts that are not non-negative ints (at most
    64 verdicts) or do not add up to ``rows``.
    """

    receipt_id: str
    issued_at: str
    account: str
    service_version: str
    request_sha256: str
    rows: int
    results_root: str
    counts: Mapping[str, int]

    def __post_init__(self) -> None:
        if not isinstance(self.receipt_id, str) or not _RECEIPT_ID.fullmatch(self.receipt_id):
            raise InvalidInput(
                "receipt_id 须为 1 至 128 个 [0-9A-Za-z._-] 字符",
                "receipt_id must be 1 to 128 characters from [0-9A-Za-z._-]",
            )
        _check_issued_at(self.issued_at)
        _text("account", self.account)
        _text("service_version", self.service_version)
        for name in ("request_sha256", "results_root"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _HEX64.fullmatch(value):
                raise InvalidInput(
                    f"{name} 须为 64 个小写十六进制字符", f"{name} must be 64 lower-case hex characters"
                )
        rows = _count("rows", self.rows)
        if not isinstance(self.counts, Mapping) or len(self.counts) > _MAX_VERDICTS:
            raise InvalidInput("counts 须为结论到行数的映射", "counts must map verdicts to row counts")
        counts = {}
        for verdict, n in self.counts.items():
            _text("verdict", verdict)
            counts[verdict] = _count(f"counts[{verdict!r}]", n)
        if sum(counts.values()) != rows:
            raise InvalidInput("各结论的行数之和不等于 rows", "The verdict counts do not add up to rows")
        # A private copy: a caller's dict changed after construction must not change what is signed.
        object.__setattr__(self, "counts", counts)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELD_NAMES} | {"counts": dict(self.counts)}


_FIELD_NAMES: Final = tuple(f.name for f in dataclasses.fields(ReceiptFields))
_RECEIPT_KEYS: Final = frozenset({*_FIELD_NAMES, "format", "kid", "signature"})


def _check_issued_at(value: object) -> None:
    ok = isinstance(value, str) and _ISSUED_AT.fullmatch(value) is not None
    if ok:
        try:
            datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            ok = False
    if not ok:
        raise InvalidInput(
            "issued_at 须为 UTC 时间 YYYY-MM-DDTHH:MM:SSZ",
            "issued_at must be a UTC time YYYY-MM-DDTHH:MM:SSZ",
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str, pattern: re.Pattern[str], size: int) -> bytes | None:
    """The bytes of unpadded base64url ``text``, or None unless it is their one canonical spelling."""
    if not pattern.fullmatch(text):
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Non-zero unused bits in the last character would give a second spelling of the same bytes.
    return raw if len(raw) == size and _b64url(raw) == text else None


class ReceiptSigner:
    """Holds the receipt private key. It signs receipts and nothing else, by construction."""

    __slots__ = ("_key", "kid", "public_key")
    kid: str
    public_key: bytes

    def __init__(self, key: SigningKey) -> None:
        self._key = key
        self.public_key = bytes(key.verify_key)
        self.kid = kid_of(self.public_key)

    @classmethod
    def from_seed(cls, seed: bytes) -> ReceiptSigner:
        """The signer of the 32-byte Ed25519 private ``seed``. Raises ``ConfigError`` otherwise."""
        if not isinstance(seed, bytes) or len(seed) != _SEED_BYTES:
            raise ConfigError("收据私钥种子必须为 32 字节", "The receipt key seed must be 32 bytes")
        return cls(SigningKey(seed))

    def __repr__(self) -> str:
        return f"ReceiptSigner(kid={self.kid!r})"

    def sign(self, fields: ReceiptFields) -> dict[str, Any]:
        """The signed receipt JSON object of ``fields``. Raises ``TypeError`` for anything else."""
        if not isinstance(fields, ReceiptFields):
            raise TypeError("ReceiptSigner signs ReceiptFields only")
        receipt = fields.to_json() | {"format": FORMAT, "kid": self.kid}
        signature: bytes = self._key.sign(RECEIPT_DOMAIN + canonical(receipt)).signature
        receipt["signature"] = _b64url(signature)
        return receipt

    def jwk(self) -> dict[str, Any]:
        """The public JWK (RFC 8037): ``kty``, ``crv``, ``x``, ``kid``, ``alg``, ``use``, ``status``
        ``active`` (the field every published key carries) and ``purpose`` ``receipt``."""
        jwk = public_jwk(self.public_key, not_before=None, not_after=None, status="active")
        jwk["purpose"] = PURPOSE
        return jwk


# -- checking ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """The result of ``check_receipt``. ``reason`` is None when ``ok``, else one of the slugs ``check_receipt`` lists.

    ``receipt`` is the parsed receipt once its signature verified (also for ``results_mismatch`` and
    ``rows_mismatch``, where the receipt is genuine but the results are not the ones it covers);
    None before that, so unverified content is never handed on.
    """

    ok: bool
    reason: str | None
    receipt: dict[str, Any] | None = None


def _fail(reason: str, receipt: dict[str, Any] | None = None) -> ReceiptCheck:
    return ReceiptCheck(False, reason, receipt)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        # Two parsers could each pick a different value of a repeated key; the receipt is refused.
        raise ValueError("duplicate key")
    return out


def _refuse(value: str) -> Any:
    raise ValueError(f"not canonical JSON: {value}")


def _parse(raw: bytes) -> Any:
    if len(raw) > _MAX_RECEIPT_BYTES:
        return None
    try:
        return json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse,
            parse_constant=_refuse,
        )
    except (ValueError, RecursionError):
        return None


def _receipt_keys(jwks: Mapping[str, Any], kid: str) -> tuple[list[bytes], bool]:
    """The public keys of the receipt keys named ``kid``, and whether any key at all carries it."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    found: list[bytes] = []
    named = False
    for jwk in keys if isinstance(keys, list) else ():
        if not isinstance(jwk, Mapping) or jwk.get("kid") != kid:
            continue
        named = True
        if jwk.get("purpose") != PURPOSE or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        x = jwk.get("x")
        public_key = _unb64url(x, _X, 32) if isinstance(x, str) else None
        if public_key is not None:
            found.append(public_key)
    return found, named


def check_receipt(
    receipt: Mapping[str, Any] | bytes,
    jwks: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]] | None = None,
) -> ReceiptCheck:
    """Check a receipt (JSON object or its bytes) offline against a JWKS, and optionally the results.

    The signature is tried with every key of ``jwks["keys"]`` that has the receipt's ``kid`` and
    ``"purpose": "receipt"`` (kids are 16 bits, so several may share one). With ``results``, their
    number must equal ``rows`` and their Merkle root ``results_root``.

    Never raises; every failure is a ``reason``: ``malformed`` (not JSON, not an object, missing,
    extra or ill-typed fields, non-canonical signature encoding), ``unknown_format``, ``unknown_key``,
    ``not_a_receipt_key`` (keys carry the kid, but none is a receipt key: ``"purpose": "receipt"``,
    Ed25519, a valid ``x``), ``bad_signature``, ``rows_mismatch``, ``results_mismatch``.
    """
    data = _parse(bytes(receipt)) if isinstance(receipt, (bytes, bytearray)) else receipt
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        return _fail("malformed")
    parsed = dict(data)
    if not isinstance(parsed.get("format"), str):
        return _fail("malformed")
    if parsed["format"] != FORMAT:
        return _fail("unknown_format")
    if set(parsed) != _RECEIPT_KEYS:
        return _fail("malformed")
    kid, signature_text = parsed["kid"], parsed["signature"]
    if not isinstance(kid, str) or not _KID.fullmatch(kid) or not isinstance(signature_text, str):
        return _fail("malformed")
    signature = _unb64url(signature_text, _SIGNATURE, 64)
    unsigned = {k: v for k, v in parsed.items() if k != "signature"}
    try:
        ReceiptFields(**{name: parsed[name] for name in _FIELD_NAMES})
        message = RECEIPT_DOMAIN + canonical(unsigned)
    except InvalidInput:
        return _fail("malformed")
    if signature is None:
        return _fail("malformed")

    public_keys, named = _receipt_keys(jwks, kid)
    if not public_keys:
        return _fail("not_a_receipt_key" if named else "unknown_key")
    if not any(verify_signature(k, message, signature) for k in public_keys):
        return _fail("bad_signature")

    if results is not None:
        if not isinstance(results, Sequence) or isinstance(results, (str, bytes, bytearray)):
            return _fail("results_mismatch", parsed)
        if len(results) != parsed["rows"]:
            return _fail("rows_mismatch", parsed)
        try:
            root = results_root(results)
        except InvalidInput:
            return _fail("results_mismatch", parsed)
        if root != parsed["results_root"]:
            return _fail("results_mismatch", parsed)
    return ReceiptCheck(True, None, parsed)


# -- single-row proofs -------------------------------------------------------------------------------


def row_proof(results: Sequence[Mapping[str, Any]], index: int) -> dict[str, Any]:
    """The proof that row ``index`` (0-based) is among ``results``, revealing no other row.

    ``{"index", "size", "leaf", "proof", "root"}``: ``leaf`` is the canonical row as text, ``proof``
    the sibling hashes (hex) from the leaf up, ``root`` the results root (hex).

    Raises ``InvalidInput`` for an index outside the results or a row ``row_leaf`` refuses.
    """
    leaves = [row_leaf(r) for r in results]
    path = merkle.inclusion_proof(leaves, index)
    return {
        "index": index,
        "size": len(leaves),
        "leaf": leaves[index].decode("utf-8"),
        "proof": [h.hex() for h in path],
        "root": merkle.root(leaves).hex(),
    }


def check_row_proof(proof: Mapping[str, Any], receipt: Mapping[str, Any]) -> bool:
    """True if ``proof`` (from ``row_proof``) shows its row is in the results ``receipt`` covers.

    Checks the proof against the receipt's ``results_root`` and ``rows`` only: check the receipt
    itself with ``check_receipt`` first. Never raises.
    """
    if not isinstance(proof, Mapping) or not isinstance(receipt, Mapping):
        return False
    root, leaf, path = proof.get("root"), proof.get("leaf"), proof.get("proof")
    if not (isinstance(root, str) and _HEX64.fullmatch(root) and root == receipt.get("results_root")):
        return False
    size, index = proof.get("size"), proof.get("index")
    if not (_is_int(size) and _is_int(index)) or size != receipt.get("rows"):
        return False
    if not isinstance(leaf, str) or not isinstance(path, list):
        return False
    if not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in path):
        return False
    try:
        leaf_data = leaf.encode("utf-8")
    except UnicodeEncodeError:
        return False
    hashes = [bytes.fromhex(h) for h in path]
    return merkle.verify_inclusion(leaf_data, index, size, hashes, bytes.fromhex(root))


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)

"""verify.crypto.signing: kid, key pairs, signatures (checked against ``cryptography`` as an independent
Ed25519 implementation), encrypted key files and public JWKs."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import pickle
import random
import stat
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.crypto.signing import (
    KeyPair,
    Signer,
    export_public,
    generate,
    kid_of,
    load_private,
    public_jwk,
    save_private,
    sign_many,
    verify_signature,
)
from verify.domain.errors import ConfigError, InvalidInput

# RFC 8032 §7.1 TEST 1-3: (seed, public key, message, signature).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]
# Group order L of edwards25519 (RFC 8032 §5.1); S + L is the textbook malleated signature.
ORDER_L = 2**252 + 27742317777372353535851937790883648493
PASSPHRASE = b"correct horse battery staple"
SEED_1 = bytes.fromhex(RFC8032[0][0])


def pair_from_seed(seed: bytes) -> KeyPair:
    # Built with cryptography, not verify.crypto.signing, so the tests do not derive keys with the code under test.
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return KeyPair(kid=kid_of(public), public_key=public, seed=seed)


def cryptography_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def both_accept(public_key: bytes, message: bytes, signature: bytes) -> tuple[bool, bool]:
    ours = verify_signature(public_key, message, signature)
    return ours, cryptography_accepts(public_key, message, signature)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def all_text(exc: BaseException) -> str:
    """Everything an operator could see of an error: str, repr, both messages, JSON, full traceback."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, ConfigError):
        parts += [exc.message_zh, exc.message_en, json.dumps(exc.to_json(), ensure_ascii=False)]
    return "\n".join(parts)


# -- kid ----------------------------------------------------------------------------------------------


def test_kid_is_four_hex_chars_of_the_domain_separated_hash() -> None:
    public = bytes.fromhex(RFC8032[0][1])
    kid = kid_of(public)
    assert kid == hashlib.sha256(b"verify.kid.v1\x00" + public).hexdigest()[:4]
    assert len(kid) == 4
    assert kid == kid.lower()
    int(kid, 16)
    assert kid_of(public) == kid  # deterministic


def test_kid_is_pinned() -> None:
    # The kid is printed in every QR: changing the derivation would orphan printed certificates.
    assert [kid_of(bytes.fromhex(v[1])) for v in RFC8032] == ["8929", "0b6d", "3693"]


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), bytearray(32)])
def test_kid_refuses_a_key_that_is_not_32_bytes(bad: bytes) -> None:
    with pytest.raises(InvalidInput):
        kid_of(bad)


# -- key pairs ----------------------------------------------------------------------------------------


def test_generate_gives_distinct_consistent_keys() -> None:
    pairs = [generate() for _ in range(50)]
    assert len({p.seed for p in pairs}) == 50
    assert len({p.public_key for p in pairs}) == 50
    for p in pairs:
        assert len(p.seed) == 32 and len(p.public_key) == 32
        assert p.kid == kid_of(p.public_key)
        assert Ed25519PrivateKey.from_private_bytes(p.seed).public_key().public_bytes_raw() == p.public_key


def test_keypair_repr_hides_the_seed() -> None:
    pair = pair_from_seed(SEED_1)
    for text in (repr(pair), str(pair), f"{pair}", repr([pair]), repr(Signer(pair))):
        assert SEED_1.hex() not in text
        assert repr(SEED_1)[2:-1] not in text
        assert "seed" not in text
    assert pair.kid in repr(pair)


def test_keypair_is_frozen_and_slotted() -> None:
    pair = generate()
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.kid = "0000"  # type: ignore[misc]
    assert not hasattr(pair, "__dict__")


def test_keypair_refuses_parts_that_do_not_belong_together() -> None:
    good = pair_from_seed(SEED_1)
    other = generate()
    with pytest.raises(ConfigError):
        KeyPair(kid=good.kid, public_key=other.public_key, seed=good.seed)
    with pytest.raises(ConfigError):
        KeyPair(kid="0000" if good.kid != "0000" else "0001", public_key=good.public_key, seed=good.seed)
    with pytest.raises(ConfigError):
        KeyPair(kid=good.kid, public_key=good.public_key, seed=good.seed[:31])
    with pytest.raises(ConfigError):
        KeyPair(kid=good.kid, public_key=good.public_key[:31], seed=good.seed)


# -- signatures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_rfc8032_known_answers(seed: str, public: str, message: str, signature: str) -> None:
    pair = pair_from_seed(bytes.fromhex(seed))
    assert pair.public_key.hex() == public
    assert Signer(pair).sign(bytes.fromhex(message)).hex() == signature
    assert verify_signature(pair.public_key, bytes.fromhex(message), bytes.fromhex(signature))


def test_signer_shape() -> None:
    pair = generate()
    signer = Signer(pair)
    assert signer.kid == pair.kid
    assert signer.public_key == pair.public_key
    assert len(signer.sign(b"x")) == 64
    assert signer.sign(b"x") == signer.sign(b"x")  # deterministic (RFC 8032)


def messages_500() -> list[bytes]:
    rng = random.Random(20261125)  # seeded: a failure reproduces
    lengths = [0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 1000, 4096]
    lengths += [rng.randrange(0, 600) for _ in range(500 - len(lengths))]
    return [rng.randbytes(n) for n in lengths]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_500_messages_sign_verify_and_tamper_both_implementations() -> None:
    rng = random.Random(7)
    pair = generate()
    other = generate()
    signer = Signer(pair)
    reference = Ed25519PrivateKey.from_private_bytes(pair.seed)
    messages = messages_500()
    assert len(messages) == 500
    signatures = sign_many(pair, messages)
    for message, signature in zip(messages, signatures, strict=True):
        assert signature == signer.sign(message)
        # Same seed, same message: Ed25519 is deterministic, so the two libraries must agree exactly.
        assert signature == reference.sign(message)
        assert both_accept(pair.public_key, message, signature) == (True, True)

        tampered = [flip(signature, rng.randrange(512)), signature[:63], signature + b"\x00", b""]
        tampered += [signature[:-1] + bytes([signature[-1] ^ 0x80])]  # the top bit of S
        for bad in tampered:
            assert both_accept(pair.public_key, message, bad) == (False, False), (message.hex(), bad.hex())

        if message:
            i = rng.randrange(len(message))
            changed = message[:i] + bytes([message[i] ^ rng.randrange(1, 256)]) + message[i + 1 :]
            for bad_message in (changed, message[:-1]):
                assert both_accept(pair.public_key, bad_message, signature) == (False, False)
        assert both_accept(pair.public_key, message + b"\x00", signature) == (False, False)
        # A real signature under another key is still not ours.
        assert both_accept(other.public_key, message, signature) == (False, False)


@pytest.mark.parametrize("message", [b"", b"\x00", "张三 6-01-02-06 四级".encode(), bytes(range(256)) * 4])
def test_every_single_bit_flip_of_the_signature_is_rejected(message: bytes) -> None:
    pair = generate()
    signature = Signer(pair).sign(message)
    accepted = [bit for bit in range(512) if any(both_accept(pair.public_key, message, flip(signature, bit)))]
    assert accepted == []


def test_every_single_bit_flip_of_the_public_key_is_rejected() -> None:
    pair = generate()
    message = b"certificate record"
    signature = Signer(pair).sign(message)
    assert not any(verify_signature(flip(pair.public_key, bit), message, signature) for bit in range(256))


@settings(max_examples=200, deadline=None)
@given(message=st.binary(max_size=300), bit=st.integers(0, 511), extra=st.binary(min_size=1, max_size=8))
def test_tampering_property(message: bytes, bit: int, extra: bytes) -> None:
    pair = pair_from_seed(SEED_1)
    signature = Signer(pair).sign(message)
    assert verify_signature(pair.public_key, message, signature)
    assert both_accept(pair.public_key, message, flip(signature, bit)) == (False, False)
    assert both_accept(pair.public_key, message + extra, signature) == (False, False)
    assert both_accept(pair.public_key, message, signature + extra) == (False, False)


def test_malleated_signature_s_plus_l_is_rejected() -> None:
    pair = generate()
    message = b"m"
    signature = Signer(pair).sign(message)
    s = int.from_bytes(signature[32:], "little") + ORDER_L
    assert s < 2**256
    assert both_accept(pair.public_key, message, signature[:32] + s.to_bytes(32, "little")) == (False, False)


IDENTITY = bytes([1]) + bytes(31)  # the neutral element, order 1
SMALL_ORDER_OR_NON_CANONICAL_KEYS = [
    IDENTITY,
    bytes(32),  # y = 0: a point of order 4
    bytes([0xEC]) + bytes([0xFF]) * 30 + bytes([0x7F]),  # y = p - 1: the point of order 2
    bytes([0xED]) + bytes([0xFF]) * 30 + bytes([0x7F]),  # y = p: non-canonical encoding of y = 0
    bytes([0xEE]) + bytes([0xFF]) * 30 + bytes([0x7F]),  # y = p + 1: non-canonical encoding of the identity
]


@pytest.mark.parametrize(
    "key", SMALL_ORDER_OR_NON_CANONICAL_KEYS, ids=lambda k: f"{k.hex()[:4]}..{k.hex()[-2:]}"
)
def test_small_order_and_non_canonical_keys_are_refused(key: bytes) -> None:
    # (identity R, S = 0) "verifies" any message under a small-order key for a verifier that does not
    # refuse such keys; OpenSSL, behind cryptography, accepts it for the identity key. libsodium refuses.
    for message in (b"", b"any message at all"):
        assert verify_signature(key, message, IDENTITY + bytes(32)) is False
        assert verify_signature(key, message, key + bytes(32)) is False


@pytest.mark.parametrize(
    ("public_key", "signature"),
    [
        (bytes(31), bytes(64)),
        (bytes(33), bytes(64)),
        (b"", bytes(64)),
        (None, bytes(64)),
        ("a" * 32, bytes(64)),
        (bytearray(32), bytes(64)),
        (bytes(32), None),
        (bytes(32), "a" * 64),
        (bytes(32), bytes(63)),
        (bytes(32), bytes(65)),
    ],
)
def test_verify_never_raises(public_key: object, signature: object) -> None:
    assert verify_signature(public_key, b"m", signature) is False  # type: ignore[arg-type]


def test_verify_never_raises_on_a_message_of_the_wrong_type() -> None:
    pair = generate()
    signature = Signer(pair).sign(b"m")
    assert verify_signature(pair.public_key, "m", signature) is False  # type: ignore[arg-type]
    assert verify_signature(pair.public_key, None, signature) is False  # type: ignore[arg-type]


def test_sign_many() -> None:
    pair = generate()
    messages = [b"a", b"b", b""]
    assert sign_many(pair, messages) == [Signer(pair).sign(m) for m in messages]
    assert sign_many(pair, iter(messages)) == sign_many(pair, messages)
    assert sign_many(pair, []) == []


# -- key files ----------------------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    pair = generate()
    directory = tmp_path / "var" / "keys" / "private"
    with umask(0):  # modes must come from the code, not from a permissive umask
        path = save_private(pair, directory, PASSPHRASE)
    assert path == directory / f"{pair.kid}.key.pem"
    assert mode_of(directory) == 0o700
    assert mode_of(path) == 0o600
    assert sorted(os.listdir(directory)) == [path.name]  # no temporary file left behind
    data = path.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert pair.seed not in data and pair.seed.hex().encode() not in data
    assert load_private(path, PASSPHRASE) == pair
    # Independent reader: the file is standard encrypted PKCS#8 holding the same seed.
    key = serialization.load_pem_private_key(data, password=PASSPHRASE)
    assert isinstance(key, Ed25519PrivateKey)
    assert key.private_bytes_raw() == pair.seed


def test_a_strict_umask_still_gives_the_documented_modes(tmp_path: Path) -> None:
    pair = generate()
    with umask(0o277):
        path = save_private(pair, tmp_path / "private", PASSPHRASE)
        public = export_public(pair, tmp_path / "public")
    assert mode_of(tmp_path / "private") == 0o700
    assert mode_of(path) == 0o600
    assert mode_of(public) == 0o644


def test_an_existing_directory_is_used_as_it_is(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o750)
    os.chmod(directory, 0o750)  # noqa: S103 - deliberately not 0700, to see that it is left alone
    path = save_private(generate(), directory, PASSPHRASE)
    assert mode_of(directory) == 0o750
    assert mode_of(path) == 0o600


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    pair = generate()
    path = save_private(pair, tmp_path, PASSPHRASE)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        save_private(pair, tmp_path, b"another long passphrase")
    assert info.value.reason == "config_error"
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_save_refuses_when_the_directory_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "keys").write_bytes(b"")
    with pytest.raises(ConfigError):
        save_private(generate(), tmp_path / "keys", PASSPHRASE)


@pytest.mark.parametrize("passphrase", [b"", b"x" * 11, b"x" * 1024, "a str passphrase"])
def test_save_refuses_a_bad_passphrase_and_writes_nothing(tmp_path: Path, passphrase: bytes) -> None:
    directory = tmp_path / "private"
    with pytest.raises(ConfigError) as info:
        save_private(generate(), directory, passphrase)
    assert info.value.message_zh != info.value.default_zh  # a specific message in both languages
    assert info.value.message_en != info.value.default_en
    assert not directory.exists()


def test_short_passphrase_message_is_bilingual(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        save_private(generate(), tmp_path, b"x" * 11)
    assert "12" in info.value.message_zh and "口令" in info.value.message_zh
    assert "12" in info.value.message_en and "passphrase" in info.value.message_en


@pytest.mark.parametrize("length", [12, 1023])
def test_passphrase_length_limits_are_inclusive(tmp_path: Path, length: int) -> None:
    pair = generate()
    passphrase = bytes(range(256)) * 4
    path = save_private(pair, tmp_path, passphrase[:length])
    assert load_private(path, passphrase[:length]) == pair


@pytest.mark.parametrize("wrong", [b"correct horse battery stapler", b"x", b"\xff" * 40])
def test_wrong_passphrase_is_a_config_error_that_does_not_leak_it(tmp_path: Path, wrong: bytes) -> None:
    path = save_private(generate(), tmp_path, PASSPHRASE)
    with pytest.raises(ConfigError) as info:
        load_private(path, wrong)
    # Where a passphrase could leak: the messages, str/repr and JSON of the error, and (for a
    # passphrase long enough not to occur by chance) the whole traceback. The key file's path is in
    # the message on purpose and is not secret, and a random kid in it can spell the hex of a short
    # passphrase ("78" for b"x"), so it is masked first; a traceback's line numbers can too.
    exc = info.value
    messages = "\n".join([str(exc), repr(exc), exc.message_zh, exc.message_en, json.dumps(exc.to_json())])
    messages = messages.replace(str(path), "<path>").replace(json.dumps(str(path))[1:-1], "<path>")
    assert "<path>" in messages
    everything = all_text(exc).replace(str(path), "<path>")
    for secret in (PASSPHRASE, wrong):
        for form in (secret.decode("latin-1"), repr(secret), secret.hex()):
            assert form not in messages
            if len(secret) >= 8:
                assert form not in everything
    assert "口令" in info.value.message_zh and "passphrase" in info.value.message_en


def make_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_load_refuses_bad_files(tmp_path: Path) -> None:
    good = save_private(generate(), tmp_path / "good", PASSPHRASE).read_bytes()
    seed_key = Ed25519PrivateKey.generate()
    unencrypted = seed_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE),
    )
    lines = good.splitlines(keepends=True)
    cases = {
        "missing": tmp_path / "no-such.key.pem",
        "directory": tmp_path / "good",
        "empty": make_file(tmp_path, "empty", b""),
        "garbage": make_file(tmp_path, "garbage", b"not a key\n"),
        "truncated": make_file(tmp_path, "truncated", good[: len(good) // 2]),
        "corrupt body": make_file(tmp_path, "corrupt", lines[0] + b"A" + lines[1][1:] + b"".join(lines[2:])),
        "unencrypted": make_file(tmp_path, "unencrypted", unencrypted),
        "P-256": make_file(tmp_path, "p256", p256),
        "huge": make_file(tmp_path, "huge", good + b"\n" * 70_000),
    }
    for name, path in cases.items():
        with pytest.raises(ConfigError) as info:
            load_private(path, PASSPHRASE)
        assert PASSPHRASE.decode() not in all_text(info.value), name
        assert info.value.details["path"] == str(path), name
    with pytest.raises(ConfigError) as info:
        load_private(cases["P-256"], PASSPHRASE)
    assert "Ed25519" in info.value.message_en
    with pytest.raises(ConfigError) as info:
        load_private(cases["unencrypted"], PASSPHRASE)
    assert "not encrypted" in info.value.message_en


def test_load_refuses_an_empty_passphrase(tmp_path: Path) -> None:
    path = save_private(generate(), tmp_path, PASSPHRASE)
    with pytest.raises(ConfigError):
        load_private(path, b"")


def test_signer_from_a_loaded_key_signs_like_the_original(tmp_path: Path) -> None:
    pair = generate()
    loaded = load_private(save_private(pair, tmp_path, PASSPHRASE), PASSPHRASE)
    assert Signer(loaded).sign(b"m") == Signer(pair).sign(b"m")


def test_keypair_pickles_without_losing_consistency() -> None:
    # Not a feature: a guard that __post_init__ validation does not break copying in other modules.
    pair = generate()
    assert pickle.loads(pickle.dumps(pair)) == pair  # noqa: S301 - our own bytes
    assert dataclasses.replace(pair) == pair


# -- public keys --------------------------------------------------------------------------------------


def b64url_decode(text: str) -> bytes:
    assert "=" not in text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_public_jwk_fields() -> None:
    pair = generate()
    nbf = datetime(2026, 1, 1, tzinfo=UTC)
    exp = datetime(2027, 1, 1, 8, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=8)))  # 2027-01-01T00:00Z
    jwk = public_jwk(pair.public_key, not_before=nbf, not_after=exp, status="active")
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": jwk["x"],
        "kid": pair.kid,
        "alg": "EdDSA",
        "use": "sig",
        "nbf": 1767225600,
        "exp": 1798761600,
        "status": "active",
    }
    assert list(jwk) == ["kty", "crv", "x", "kid", "alg", "use", "nbf", "exp", "status"]
    assert b64url_decode(jwk["x"]) == pair.public_key
    assert len(jwk["x"]) == 43
    assert type(jwk["nbf"]) is int and type(jwk["exp"]) is int
    json.dumps(jwk)


def test_public_jwk_x_matches_an_independent_encoder() -> None:
    # Wycheproof's own JWK for its first key group: 'x' there contains '-', so this also pins the
    # URL-safe alphabet.
    public = bytes.fromhex("7d4d0e7f6153a69b6242b522abbee685fda4420f8834b108c3bdae369ef549fa")
    jwk = public_jwk(public, not_before=None, not_after=None, status="retired")
    assert jwk["x"] == "fU0Of2FTpptiQrUiq77mhf2kQg-INLEIw72uNp71Sfo"


@pytest.mark.parametrize("status", ["active", "retired", "compromised"])
def test_public_jwk_without_bounds_omits_them(status: str) -> None:
    jwk = public_jwk(generate().public_key, not_before=None, not_after=None, status=status)
    assert "nbf" not in jwk and "exp" not in jwk
    assert jwk["status"] == status


def test_public_jwk_refuses_bad_input() -> None:
    public = generate().public_key
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        public_jwk(public, not_before=datetime(2026, 1, 1), not_after=None, status="active")
    with pytest.raises(InvalidInput):
        public_jwk(public, not_before=None, not_after=datetime(2026, 1, 1), status="active")
    with pytest.raises(InvalidInput):
        public_jwk(public, not_before=aware, not_after=aware - timedelta(seconds=1), status="active")
    for status in ("", "Active", "revoked", "suspended"):
        with pytest.raises(InvalidInput):
            public_jwk(public, not_before=None, not_after=None, status=status)
    with pytest.raises(InvalidInput):
        public_jwk(public[:31], not_before=None, not_after=None, status="active")
    assert public_jwk(public, not_before=aware, not_after=aware, status="active")["nbf"] == 1767225600


def test_export_public(tmp_path: Path) -> None:
    pair = generate()
    directory = tmp_path / "keys"
    path = export_public(pair, directory)
    assert path == directory / f"{pair.kid}.pub.jwk.json"
    assert mode_of(path) == 0o644
    jwk = json.loads(path.read_text(encoding="utf-8"))
    published = public_jwk(pair.public_key, not_before=None, not_after=None, status="active")
    assert jwk == {k: v for k, v in published.items() if k != "status"}
    assert b64url_decode(jwk["x"]) == pair.public_key
    assert pair.seed.hex() not in path.read_text(encoding="utf-8")
    assert sorted(os.listdir(directory)) == [path.name]


def test_export_public_is_idempotent_and_accepts_raw_keys(tmp_path: Path) -> None:
    pair = generate()
    first = export_public(pair, tmp_path)
    content, inode = first.read_bytes(), first.stat().st_ino
    assert export_public(pair, tmp_path) == first
    assert export_public(pair.public_key, tmp_path) == first
    assert first.read_bytes() == content and first.stat().st_ino == inode  # left untouched
    assert sorted(os.listdir(tmp_path)) == [first.name]


def test_export_public_refuses_to_overwrite_another_key(tmp_path: Path) -> None:
    pair = generate()
    path = tmp_path / f"{pair.kid}.pub.jwk.json"
    # What a kid collision would look like: a different key already under this name.
    impostor = {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": pair.kid}
    path.write_text(json.dumps(impostor), encoding="utf-8")
    with pytest.raises(ConfigError):
        export_public(pair, tmp_path)
    with pytest.raises(InvalidInput):
        export_public(b"short", tmp_path)

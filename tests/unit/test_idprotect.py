"""verify.crypto.idprotect: the keyed blind index and the AEAD ciphertext of holder IDs."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_ids import assert_no_leak
from verify.crypto.idprotect import IdProtector
from verify.domain.errors import ConfigError, InvalidId
from verify.domain.holder_ids import IdType, validate_id

TODAY = date(2026, 11, 25)
K1 = bytes(range(32))
K2 = bytes(range(32, 64))
K3 = bytes(range(64, 96))
ID = "11010519491231002X"


@pytest.fixture
def protector() -> IdProtector:
    return IdProtector(K1, K2)


def test_blind_index_known_answer(protector: IdProtector) -> None:
    # Pins the construction: changing it would silently orphan every stored index.
    expected = hmac.new(K1, b"verify/id-index/v1\x00resident_id\x00" + ID.encode(), hashlib.sha256).digest()
    assert protector.blind_index(IdType.RESIDENT, ID) == expected


def test_blind_index_properties(protector: IdProtector) -> None:
    a = protector.blind_index(IdType.RESIDENT, ID)
    assert len(a) == 32
    assert protector.blind_index(IdType.RESIDENT, ID) == a
    assert IdProtector(K1, K3).blind_index(IdType.RESIDENT, ID) == a  # enc key plays no part
    assert protector.blind_index(IdType.HKMOTW_RESIDENCE, ID) != a
    assert protector.blind_index(IdType.PASSPORT, ID) != a
    assert IdProtector(K3, K2).blind_index(IdType.RESIDENT, ID) != a
    assert protector.blind_index(IdType.RESIDENT, "11010519491231003X") != a
    assert hashlib.sha256(ID.encode()).digest() != a


def test_blind_index_differs_for_every_type(protector: IdProtector) -> None:
    indexes = {protector.blind_index(t, "E12345678") for t in IdType}
    assert len(indexes) == len(IdType)


@pytest.mark.parametrize(
    "bad", ["11010519491231002x", " 11010519491231002X", "１１０１０５１９４９１２３１００２Ｘ", "", "ABC"]
)
def test_non_canonical_input_is_a_caller_bug(protector: IdProtector, bad: str) -> None:
    with pytest.raises(ValueError) as exc:
        protector.blind_index(IdType.RESIDENT, bad)
    assert "110105" not in str(exc.value)
    with pytest.raises(ValueError):
        protector.encrypt(IdType.RESIDENT, bad, aad=b"x")


@pytest.mark.parametrize("t", list(IdType))
def test_encrypt_decrypt_round_trip(protector: IdProtector, t: IdType) -> None:
    blob = protector.encrypt(t, "E12345678", aad=b"cert:1")
    assert protector.decrypt(blob, aad=b"cert:1") == (t, "E12345678")


def test_ciphertext_layout_and_randomness(protector: IdProtector) -> None:
    a = protector.encrypt(IdType.RESIDENT, ID, aad=b"cert:1")
    b = protector.encrypt(IdType.RESIDENT, ID, aad=b"cert:1")
    assert a != b
    assert a[1:13] != b[1:13]
    assert a[0] == 1
    assert len(a) == 1 + 12 + 1 + len(ID) + 16
    assert ID.encode() not in a
    assert protector.decrypt(a, aad=b"cert:1") == protector.decrypt(b, aad=b"cert:1") == (IdType.RESIDENT, ID)


def test_wrong_aad_and_wrong_key(protector: IdProtector) -> None:
    blob = protector.encrypt(IdType.RESIDENT, ID, aad=b"cert:1")
    with pytest.raises(InvalidId):
        protector.decrypt(blob, aad=b"cert:2")
    with pytest.raises(InvalidId):
        protector.decrypt(blob, aad=b"")
    with pytest.raises(InvalidId):
        IdProtector(K1, K3).decrypt(blob, aad=b"cert:1")


def test_truncated_and_foreign_blobs(protector: IdProtector) -> None:
    blob = protector.encrypt(IdType.RESIDENT, ID, aad=b"a")
    for bad in (b"", blob[:1], blob[:29], blob[:-1], b"\x02" + blob[1:], blob + b"\x00"):
        with pytest.raises(InvalidId) as exc:
            protector.decrypt(bad, aad=b"a")
        assert_no_leak(exc.value, ID)


@given(st.data())
def test_any_single_byte_tamper_is_detected(data: st.DataObject) -> None:
    protector = IdProtector(K1, K2)
    blob = protector.encrypt(IdType.RESIDENT, ID, aad=b"cert:9")
    i = data.draw(st.integers(0, len(blob) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = blob[:i] + bytes([blob[i] ^ flip]) + blob[i + 1 :]
    with pytest.raises(InvalidId):
        protector.decrypt(tampered, aad=b"cert:9")


@pytest.mark.parametrize(
    ("index_key", "enc_key"), [(b"", K2), (K1, b"x" * 31), (K1 * 2, K2), (K1, b"x" * 33)]
)
def test_key_lengths(index_key: bytes, enc_key: bytes) -> None:
    with pytest.raises(ConfigError):
        IdProtector(index_key, enc_key)


def test_repr_hides_keys(protector: IdProtector) -> None:
    assert K1.hex() not in repr(protector)
    assert repr(K1) not in repr(protector)


def test_index_of_every_type_works_on_validated_output(protector: IdProtector) -> None:
    samples = {
        IdType.RESIDENT: ID,
        IdType.HKMOTW_RESIDENCE: "810000199001010035",
        IdType.HK_MACAO_PASS: "H1234567801",
        IdType.TAIWAN_PASS: "1234567801(B)",
        IdType.FOREIGN_PERMANENT: "usa123456789012",
        IdType.PASSPORT: "e12345678",
    }
    for t, raw in samples.items():
        canonical = validate_id(raw, t, today=TODAY)
        assert len(protector.blind_index(t, canonical)) == 32

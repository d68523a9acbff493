"""verify.domain.merkle against the RFC 6962 vectors (tests/assets/rfc6962/README.md), against a
literal transcription of the RFC's recursive definitions, and under property tests: every index of
a random tree verifies, and any change of leaf, index, size or proof fails unless the RFC 9162
algorithm cannot see it (a proof does not fix the tree size on its own, see below)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.domain import merkle
from verify.domain.errors import InvalidInput

VECTORS = Path(__file__).resolve().parents[1] / "assets" / "rfc6962" / "merkle_vectors.json"
BLOB = "a4b821b8b9cdd61ae67f0c2cb89add30264b104c"  # tests/assets/rfc6962/README.md


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_bytes())
    return data


DATA = _load()
LEAVES = [bytes.fromhex(x) for x in DATA["leaves"]]
H = bytes.fromhex


# -- the RFC definitions, transcribed literally: slow, for comparison only


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def sides(index: int, size: int) -> list[bool] | None:
    """The left/right sequence the RFC 9162 check follows for (index, size) with a proof of the
    right length, or None if no proof fits; two (index, size) with the same sequence accept the
    same proofs."""
    if not 0 <= index < size:
        return None
    fn, sn, out = index, size - 1, []
    while sn:
        left = bool(fn & 1) or fn == sn
        out.append(left)
        if left:
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        fn, sn = fn >> 1, sn >> 1
    return out


# -- the vectors


def test_the_file_is_the_recorded_copy() -> None:
    data = VECTORS.read_bytes()
    assert hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest() == BLOB
    assert len(LEAVES) == 8 and len(DATA["roots"]) == 9 and len(DATA["inclusion_proofs"]) == 5


def test_empty_root() -> None:
    assert merkle.EMPTY_ROOT == hashlib.sha256(b"").digest() == H(DATA["roots"][0]["root"])
    assert merkle.root([]) == merkle.EMPTY_ROOT


@pytest.mark.parametrize("case", DATA["roots"], ids=lambda c: f"size{c['size']}")
def test_roots(case: dict[str, Any]) -> None:
    assert merkle.root(LEAVES[: case["size"]]).hex() == case["root"]
    assert mth(LEAVES[: case["size"]]).hex() == case["root"]


@pytest.mark.parametrize("case", DATA["consistency_proofs"], ids=lambda c: f"{c['size1']}-{c['size2']}")
def test_roots_named_by_the_consistency_vectors(case: dict[str, Any]) -> None:
    assert merkle.root(LEAVES[: case["size1"]]).hex() == case["root1"]
    assert merkle.root(LEAVES[: case["size2"]]).hex() == case["root2"]


def test_leaf_and_node_hash() -> None:
    for case in DATA["inclusion_proofs"]:
        assert merkle.leaf_hash(H(case["leaf"])).hex() == case["leaf_hash"]
    # The size-2 root is the node hash of the two leaf hashes.
    two = merkle.node_hash(merkle.leaf_hash(LEAVES[0]), merkle.leaf_hash(LEAVES[1]))
    assert two.hex() == DATA["roots"][2]["root"]


CASES = DATA["inclusion_proofs"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['leaf_index']}of{c['tree_size']}")
def test_inclusion_proof_vectors(case: dict[str, Any]) -> None:
    leaves = LEAVES[: case["tree_size"]]
    assert leaves[case["leaf_index"]] == H(case["leaf"])
    proof = merkle.inclusion_proof(leaves, case["leaf_index"])
    assert [p.hex() for p in proof] == case["proof"]
    assert merkle.verify_inclusion(
        H(case["leaf"]), case["leaf_index"], case["tree_size"], proof, H(case["root"])
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['leaf_index']}of{c['tree_size']}")
def test_inclusion_vectors_changed_by_one_byte_fail(case: dict[str, Any]) -> None:
    leaf, index, size = H(case["leaf"]), case["leaf_index"], case["tree_size"]
    proof, root = [H(p) for p in case["proof"]], H(case["root"])
    for i in range(len(proof)):
        for at in (0, 31):
            bad = list(proof)
            bad[i] = bad[i][:at] + bytes([bad[i][at] ^ 1]) + bad[i][at + 1 :]
            assert not merkle.verify_inclusion(leaf, index, size, bad, root)
    assert not merkle.verify_inclusion(leaf, index, size, proof, root[:-1] + bytes([root[-1] ^ 0x80]))
    assert not merkle.verify_inclusion(leaf + b"\x00", index, size, proof, root)
    for other in range(size):
        if other != index:
            assert not merkle.verify_inclusion(leaf, other, size, proof, root)
    assert not merkle.verify_inclusion(leaf, index, size, [*proof, proof[0] if proof else root], root)
    if proof:
        assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], root)


# -- against the literal definitions, exhaustively for small trees


def test_every_small_tree_matches_the_rfc_definitions() -> None:
    for n in range(1, 40):
        leaves = [bytes([i]) * (i % 5) for i in range(n)]
        r = merkle.root(leaves)
        assert r == mth(leaves)
        for m in range(n):
            proof = merkle.inclusion_proof(leaves, m)
            assert proof == path(m, leaves), (m, n)
            assert merkle.verify_inclusion(leaves[m], m, n, proof, r)


def test_index_out_of_range_is_invalid_input() -> None:
    for leaves, index in (([], 0), ([b"a"], 1), ([b"a", b"b"], -1), ([b"a"], 10**30)):
        with pytest.raises(InvalidInput) as caught:
            merkle.inclusion_proof(leaves, index)
        assert caught.value.message_zh != caught.value.message_en
    with pytest.raises(InvalidInput):
        merkle.inclusion_proof([b"a", b"b"], True)  # bool is an int, but not an index


def test_root_is_linear_in_the_number_of_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = hashlib.sha256

    class Counting:
        @staticmethod
        def sha256(data: bytes = b"") -> Any:
            nonlocal calls
            calls += 1
            return real(data)

    leaves = [i.to_bytes(4, "big") for i in range(10_000)]
    expected = merkle.root(leaves)
    monkeypatch.setattr(merkle, "hashlib", Counting)
    assert merkle.root(leaves) == expected
    assert calls == 2 * len(leaves) - 1  # one hash per leaf and per inner node, nothing twice
    calls = 0
    proof = merkle.inclusion_proof(leaves, 6_789)
    assert calls == 2 * len(leaves) - 1 and len(proof) == 14
    monkeypatch.undo()
    assert merkle.verify_inclusion(leaves[6_789], 6_789, len(leaves), proof, expected)


# -- properties

trees = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(trees)
def test_every_index_of_a_random_tree_verifies(leaves: list[bytes]) -> None:
    r = merkle.root(leaves)
    for i, leaf in enumerate(leaves):
        assert merkle.verify_inclusion(leaf, i, len(leaves), merkle.inclusion_proof(leaves, i), r)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True), st.data())
def test_any_change_fails(leaves: list[bytes], data: st.DataObject) -> None:
    n = len(leaves)
    i = data.draw(st.integers(0, n - 1), label="index")
    r, proof = merkle.root(leaves), merkle.inclusion_proof(leaves, i)
    assert merkle.verify_inclusion(leaves[i], i, n, proof, r)

    other_leaf = data.draw(st.binary(max_size=12).filter(lambda b: b != leaves[i]), label="leaf")
    assert not merkle.verify_inclusion(other_leaf, i, n, proof, r)

    # Unique leaves: with two equal leaves, the proof of one really is a proof of the other.
    j = data.draw(st.integers(-3, n + 3).filter(lambda j: j != i), label="other index")
    assert not merkle.verify_inclusion(leaves[i], j, n, proof, r)

    # The RFC 9162 check reads the size only through the left/right path it implies; a size with the
    # same path for this index accepts the same proof (e.g. index 0 in trees of 3 and 4). Receipts
    # therefore compare the proof's size with the signed row count.
    size = data.draw(st.integers(0, 2 * n + 2).filter(lambda s: s != n), label="other size")
    same_path = sides(i, size) == sides(i, n)
    assert merkle.verify_inclusion(leaves[i], i, size, proof, r) == same_path

    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        bad = list(proof)
        bad[k] = bytes(b ^ (1 << (bit % 8)) if at == bit // 8 else b for at, b in enumerate(bad[k]))
        assert not merkle.verify_inclusion(leaves[i], i, n, bad, r)
        assert not merkle.verify_inclusion(leaves[i], i, n, proof[:k] + proof[k + 1 :], r)
    assert not merkle.verify_inclusion(leaves[i], i, n, [*proof, r], r)


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=40),
    st.lists(st.binary(min_size=32, max_size=32), max_size=4),
    st.lists(st.one_of(st.none(), st.text(max_size=3), st.integers(), st.binary(max_size=33)), max_size=4),
)


@settings(max_examples=400, deadline=None)
@given(junk, junk, junk, junk, junk)
def test_verify_inclusion_never_raises(leaf: Any, index: Any, size: Any, proof: Any, root: Any) -> None:
    assert merkle.verify_inclusion(leaf, index, size, proof, root) in (True, False)


def test_verify_inclusion_refuses_wrong_shapes() -> None:
    leaves = [b"a", b"b", b"c"]
    r, proof = merkle.root(leaves), merkle.inclusion_proof(leaves, 1)
    assert merkle.verify_inclusion(b"b", 1, 3, proof, r)
    assert merkle.verify_inclusion(b"b", 1, 3, tuple(proof), r)
    assert not merkle.verify_inclusion(b"b", True, 3, proof, r)
    assert not merkle.verify_inclusion(b"b", 1, 3.0, proof, r)  # type: ignore[arg-type]
    assert not merkle.verify_inclusion(b"b", 1, 3, b"".join(proof), r)  # type: ignore[arg-type]
    assert not merkle.verify_inclusion(b"b", 1, 3, [p.hex() for p in proof], r)  # type: ignore[misc]
    assert not merkle.verify_inclusion(b"b", 1, 3, proof, r.hex())  # type: ignore[arg-type]
    assert not merkle.verify_inclusion("b", 1, 3, proof, r)  # type: ignore[arg-type]
    assert not merkle.verify_inclusion(b"b", 1, 3, [bytearray(p) for p in proof], r)  # type: ignore[misc]
    assert not merkle.verify_inclusion(b"b", 1, 0, [], merkle.EMPTY_ROOT)
    # A tree of one leaf: its root is the leaf hash and the proof is empty.
    assert merkle.verify_inclusion(b"x", 0, 1, [], merkle.leaf_hash(b"x"))
    assert not merkle.verify_inclusion(b"x", 0, 1, [], hashlib.sha256(b"x").digest())

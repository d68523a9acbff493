"""Merkle tree hash, inclusion proofs and their verification (RFC 6962 §2.1, RFC 9162 §2.1), SHA-256.

Written here with ``hashlib`` because no package installed in this environment implements the
RFC 6962 tree (``cryptography`` and PyNaCl offer the hash, not the tree). The tree is the one of
Certificate Transparency, so any RFC 6962 / RFC 9162 implementation checks these proofs:

    leaf hash  = SHA-256(0x00 || leaf data)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256("")
    MTH(D[n])  = node hash(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two smaller than n

The distinct leaf and node prefixes keep a leaf from being passed off as an inner node (second
preimage attacks on the tree). Trees are built bottom up: pairing neighbours and carrying an odd
last node up unchanged gives exactly the split rule above, and hashes every node once (O(n)).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from verify.domain.errors import InvalidInput

__all__ = [
    "EMPTY_ROOT",
    "HASH_BYTES",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_inclusion",
]

HASH_BYTES: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data). Raises ``TypeError`` if ``data`` is not bytes-like."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right). Raises ``TypeError`` if an argument is not bytes-like."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaf hashes first and the root's level (one hash) last."""
    level = [leaf_hash(d) for d in leaves]
    levels = [level]
    while len(level) > 1:
        up = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])
        level = up
        levels.append(level)
    return levels


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (32 bytes) of ``leaves``, the raw leaf data in order.

    ``EMPTY_ROOT`` for no leaves. Raises ``TypeError`` if a leaf is not bytes-like.
    """
    if not leaves:
        return EMPTY_ROOT
    return _levels(leaves)[-1][0]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path (RFC 6962 §2.1.1 PATH) of leaf ``index`` (0-based) in the tree of ``leaves``.

    Sibling hashes from the leaf up to the root; empty for a tree of one leaf.

    Raises ``InvalidInput`` if ``index`` is not an int in ``0 <= index < len(leaves)``, and
    ``TypeError`` if a leaf is not bytes-like.
    """
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(leaves):
        raise InvalidInput(
            f"叶子序号超出范围：{index!r}（树中共 {len(leaves)} 个叶子）",
            f"Leaf index {index!r} is out of range (the tree has {len(leaves)} leaves)",
        )
    proof = []
    for level in _levels(leaves)[:-1]:
        sibling = index ^ 1
        # The last node of an odd level has no sibling: it is carried up and the path skips a level.
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True if ``proof`` shows that ``leaf`` (raw leaf data, not its hash) is leaf ``index`` of the
    tree of ``size`` leaves whose hash is ``root``: the algorithm of RFC 9162 §2.1.3.2.

    Never raises: arguments of the wrong type or length, an index outside the tree, a proof that is
    too long or too short all give False.
    """
    if not (isinstance(leaf, bytes) and isinstance(root, bytes) and len(root) == HASH_BYTES):
        return False
    if isinstance(index, bool) or isinstance(size, bool) or not isinstance(index, int):
        return False
    if not isinstance(size, int) or not 0 <= index < size:
        return False
    if not isinstance(proof, Sequence) or isinstance(proof, (str, bytes, bytearray, memoryview)):
        return False
    hashes = list(proof)
    if not all(isinstance(p, bytes) and len(p) == HASH_BYTES for p in hashes):
        return False
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in hashes:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A right-edge node with no sibling at some levels: climb until it is a right child again.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root

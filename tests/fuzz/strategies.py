"""Hypothesis inputs for the fuzz targets: where atheris is missing (tests/fuzz/run.py) and in ``make test``.

Random bytes alone rarely get past a parser's first check, so the strategy mixes three sources:
arbitrary bytes, arbitrary text (lone surrogates and noncharacters included) as UTF-8, and the
committed corpus files with a few bytes changed, inserted, removed or cut off.
"""

from __future__ import annotations

import functools

from hypothesis import strategies as st

from tests.fuzz.run import corpus_files
from tests.fuzz.targets import MAX_LEN


@st.composite
def _mutated(draw: st.DrawFn, seeds: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(seeds))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("set", "insert", "delete", "cut", "dup")))
        i = draw(st.integers(0, len(data)))
        if op == "set" and i < len(data):
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and i < len(data):
            del data[i : i + draw(st.integers(1, 8))]
        elif op == "cut":
            del data[i:]
        elif op == "dup" and i < len(data):
            data[i:i] = data[i : i + draw(st.integers(1, 16))]
    return bytes(data)


_ANY_CHAR = st.characters(exclude_categories=())  # surrogates (Cs) and unassigned code points too


@functools.cache
def fuzz_inputs(target: str) -> st.SearchStrategy[bytes]:
    """Bytes for ``TARGETS[target]``: random, random UTF-8 text, or a mutated corpus file (read once)."""
    limit = MAX_LEN[target]
    sources = [
        st.binary(max_size=limit),
        st.text(_ANY_CHAR, max_size=limit // 4).map(lambda s: s.encode("utf-8", "surrogatepass")),
    ]
    seeds = [p.read_bytes() for p in corpus_files(target, known_crashes=False)]
    if seeds:
        pool = st.sampled_from(seeds)
        sources += [pool, _mutated(pool)]
    return st.one_of(sources)

"""Coverage-guided fuzzing of the parsers that read outside input (``make fuzz``; see tests/fuzz/run.py).

``targets`` holds one ``fuzz_<name>(data: bytes) -> None`` function per parser; the same functions
run under atheris, under hypothesis and as a corpus replay in ``tests/unit/test_fuzz_corpus.py``.
"""

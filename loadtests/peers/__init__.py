"""Reference peers for ``loadtests.bench_http``: the same certificate lookup in a few dozen lines."""

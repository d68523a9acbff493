# Two commands do all set-up on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` needs only the runtime dependencies; the test and lint tools come with `make test`.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: install install-dev browser-deps fonts run stop test test-pg15 lint format typecheck bench fuzz clean

$(RUNTIME): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "verify needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV)

install: $(RUNTIME)
install-dev: $(DEV)

# Browser tests drive Debian's chromium (never a downloaded browser) with CJK fonts so Chinese
# renders, and the front-proxy tests run Debian's nginx; installed here when missing, as CI does on
# a clean machine (needs root or sudo).
CHROMIUM ?= /usr/bin/chromium
NGINX ?= /usr/sbin/nginx
browser-deps:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(NGINX) ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing chromium, fonts-noto-cjk and nginx-light (apt)"; \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk fontconfig nginx-light >/dev/null; \
	fi

# The certificate's faces (verify/render/fonts.py): 楷体, a Times-metric serif and HanaMin for the
# supplementary planes; Debian packages, never fetched at run time (docs/CERTIFICATES.md).
FONT_PACKAGES := fonts-arphic-ukai fonts-liberation fonts-hanazono
fonts:
	@if [ ! -f /usr/share/fonts/truetype/arphic/ukai.ttc ] || [ ! -f /usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf ] \
	  || [ ! -f /usr/share/fonts/truetype/hanazono/HanaMinB.ttf ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing the certificate fonts: $(FONT_PACKAGES) (apt)"; \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $(FONT_PACKAGES) >/dev/null; \
	fi

run: install fonts
	$(BIN)/verify db start >/dev/null
	$(BIN)/verify keys dev
	$(BIN)/verify demo --ensure --summary
	@echo "Stop the server with Ctrl-C; stop the database with: make stop"
	$(BIN)/verify serve

stop: install
	$(BIN)/verify db stop

lint: install-dev
	$(BIN)/ruff check verify tests loadtests
	$(BIN)/ruff format --check verify tests loadtests

format: install-dev
	$(BIN)/ruff format verify tests loadtests
	$(BIN)/ruff check --fix verify tests loadtests

typecheck: install-dev
	$(BIN)/mypy

test: lint typecheck browser-deps fonts
	$(BIN)/python -m pytest -q

bench: install-dev
	$(BIN)/python -m loadtests.bench_registry
	$(BIN)/python -m loadtests.bench_signing
	$(BIN)/python -m loadtests.bench_throttle
	$(BIN)/python -m loadtests.bench_audit
	$(BIN)/python -m loadtests.bench_revocation
	$(BIN)/python -m loadtests.bench_verify
	$(BIN)/python -m loadtests.bench_batch_verify
	$(BIN)/python -m loadtests.bench_render

# wrk and nginx (the front of the overload drill) from Debian for the HTTP benchmarks and drills,
# installed on first use, with sudo when not root.
.PHONY: wrk
wrk:
	@{ command -v wrk && { command -v nginx || test -x /usr/sbin/nginx; }; } >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk nginx-light >/dev/null; }

# Peak HTTP throughput with wrk beside the reference peers of loadtests/peers/ (same database, same
# worker count, same run); writes docs/bench-http.csv and the table in docs/BENCHMARKS.md.
.PHONY: bench-http
bench-http: install-dev wrk
	$(BIN)/python -m loadtests.bench_http

# The scale run (issue 9): SCALE_CERTS and SCALE_SMALL signed certificates in two databases of their
# own (reused once seeded; 10 M take about 15 minutes and ~10 GB), 1% revoked, sizes on disk, then
# latency and worker RSS at both sizes, interleaved; writes docs/scale.csv and the table in
# docs/BENCHMARKS.md. Not part of `make test` or CI.
.PHONY: scale
SCALE_CERTS ?= 10000000
SCALE_SMALL ?= 100000
scale: install-dev wrk
	SCALE_CERTS=$(SCALE_CERTS) SCALE_SMALL=$(SCALE_SMALL) $(BIN)/python -m loadtests.scale

# The overload drills of issue 9 (item 5) on their own server and embedded PostgreSQL (var/loadtest):
# the sustainable rate R, then per VERIFY_MAX_LAG_MS value 2 R offered for 30 s (503s and their
# latency, timeouts, recovery), and kill -9 of a worker under load; writes the overload section of
# docs/BENCHMARKS.md. Not part of `make test` or CI (about 13 minutes).
.PHONY: overload soak
OVERLOAD_MAX_LAG_MS ?= 0,50,250
OVERLOAD_FRONTS ?= 64,128,256
overload: install-dev wrk
	$(BIN)/python -m loadtests.overload --max-lag-ms $(OVERLOAD_MAX_LAG_MS) --front $(OVERLOAD_FRONTS)

# SOAK_MINUTES at 70 % of the sustainable rate of the public traffic mix: 0 errors, worker RSS
# growth <= 10 %; writes the soak section of docs/BENCHMARKS.md. Not in CI. SOAK_MAX_LAG_MS, when
# set, is the server's VERIFY_MAX_LAG_MS (else the production default).
SOAK_MINUTES ?= 10
SOAK_MAX_LAG_MS ?=
soak: install-dev wrk
	$(BIN)/python -m loadtests.overload --soak --minutes $(SOAK_MINUTES) $(if $(SOAK_MAX_LAG_MS),--max-lag-ms $(SOAK_MAX_LAG_MS))

# Load test with the public traffic mix (loadtests/locustfile.py) on its own server and embedded
# PostgreSQL under var/loadtest; writes docs/loadtest.csv and the table in docs/BENCHMARKS.md.
.PHONY: loadtest loadtest-smoke
LOADTEST_SECONDS ?= 60
LOADTEST_USERS ?= 200
loadtest: install-dev
	$(BIN)/python -m loadtests.loadtest --seconds $(LOADTEST_SECONDS) --users $(LOADTEST_USERS)

# 20 s, a few users, writes nothing; fails on any failed request or when nothing ran (CI runs it).
loadtest-smoke: install-dev
	$(BIN)/python -m loadtests.loadtest --smoke

# Fault drills against the real CLI and database (docs/RELIABILITY.md is rewritten with the results).
.PHONY: drills
drills: install-dev
	$(BIN)/python -m loadtests.drills --write

# Coverage-guided fuzzing (atheris; hypothesis where atheris does not install), FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 600
fuzz: install-dev
	$(BIN)/python -m pip install --quiet -e '.[fuzz]' || echo "atheris unavailable: falling back to hypothesis"
	$(BIN)/python -m tests.fuzz.run all --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis

# The same suite on Debian's PostgreSQL 15 (apt-get install postgresql-15): the SQL must run on 15-18.
test-pg15: install-dev
	test -x /usr/lib/postgresql/15/bin/postgres || { echo "needs /usr/lib/postgresql/15/bin (apt-get install postgresql-15)"; exit 2; }
	VERIFY_TEST_PG_BIN=/usr/lib/postgresql/15/bin $(BIN)/python -m pytest -q -m "not slow"

# Page quality, with the demo data on a throwaway server (loadtests/lighthouse.py starts and stops it).
# Lighthouse is pinned in package-lock.json and drives Debian's chromium; no browser is downloaded.
.PHONY: lighthouse screenshots
lighthouse: install-dev browser-deps
	npm ci --no-audit --no-fund --loglevel=error
	CHROME_PATH=$(CHROMIUM) $(BIN)/python -m loadtests.lighthouse

# Phone-width screenshots of the main pages for the README (docs/screenshots/*.png).
screenshots: install-dev browser-deps
	$(BIN)/python -m loadtests.screenshots
	$(BIN)/python -m loadtests.certificate_shots
	VERIFY_CONSOLE_SHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/browser/test_console.py -k fit_a_phone

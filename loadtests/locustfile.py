"""The public traffic mix for locust (``make loadtest``, ``make loadtest-smoke``; the runner is
``loadtests/loadtest.py``, the figures are in docs/BENCHMARKS.md, "Load test").

Share of all requests, as the centre expects it in production (``MIX``, the task weights):

- 70 % employers scanning a certificate's QR code: the landing page ``GET /c/<payload>`` (the URL as
  printed, ``/C/…``) or its JSON twin ``GET /api/v1/verify/<payload>``, half each;
- 15 % lookups by number + name (``POST /api/v1/lookup`` ``{"number", "name"}``); about a fifth of
  them with an unknown number or a wrong name, which answer 404 — an expected answer, not a failure;
- 5 % holders looking themselves up by ID + name (``{"id_number", "id_type", "name"}``);
- 5 % institution pages, ``GET /institutions/<code>`` or ``GET /api/v1/institutions/<code>``;
- about 1 % malformed input: a tampered QR payload (200 with outcome ``forged``, or a 4xx), a
  malformed certificate number (422), a NUL byte in the path or the body (400);
- 5 % batch verification by a verifier account (``POST /api/v1/verify-batch``, a JSON file of
  ``BATCH_ROWS`` rows: numbers and names, one in ten with a wrong name), with the token the runner
  puts in ``VERIFY_LOADTEST_TOKEN``.

Every answer is judged by ``classify``: the statuses a scenario expects are successes, 4xx included;
a 5xx, a connection error or any other status is a failure. Requests are named after the route
template plus the scenario (``/c/{payload}``, ``/api/v1/lookup {number,name} miss``), so the stats
group per scenario and no payload, number or name reaches the stats.

**Client addresses.** The service is measured as it runs in production, behind a reverse proxy
(``VERIFY_TRUST_PROXY=1``, the client address from ``X-Forwarded-For``) with the production lookup
budget of 10 lookups a minute per address. Each simulated user is one client with a random address
in 10.0.0.0/8 sent as ``X-Forwarded-For``, so the budget applies per simulated client as it does
per phone in reality. A simulated user that would make more than ``CLIENT_LOOKUPS`` lookups in
``CLIENT_WINDOW`` seconds (it has no think time worth the name) moves to a fresh address — another
client — instead of tripping the budget: so a 429 is never the load generator's own doing and
counts as a failure.

The data comes from a JSON-lines file named by ``VERIFY_LOADTEST_SAMPLE`` (written by the runner:
``verify seed --sample-out`` or the demo data), one certificate a line:
``{"number", "name", "id_type", "id_number", "qr_path", "institution"}``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import quote

from locust import FastHttpUser, between, task

SAMPLE_ENV = "VERIFY_LOADTEST_SAMPLE"

# Percent of all requests per scenario group (the task weights below use these numbers).
MIX: dict[str, int] = {
    "qr_scan": 70,
    "lookup_number": 15,
    "lookup_id": 5,
    "institution": 5,
    "malformed": 1,
    "batch_verify": 5,
}
# Rows in one batch-verification request: an HR department checking a week's new hires.
BATCH_ROWS = 20
TOKEN_ENV = "VERIFY_LOADTEST_TOKEN"  # noqa: S105 - the name of the variable holding the token

# Within the number lookups: the share with an unknown number and the share with a wrong name.
UNKNOWN_NUMBER_SHARE = 0.10
WRONG_NAME_SHARE = 0.10

# The production per-address budget is 10 lookups per fixed 60-second window (VERIFY_LOOKUP_PER_MINUTE).
# A client stays one under it in any 62-second span, so clock skew between the load generator and
# the database at a window boundary cannot push it over.
CLIENT_LOOKUPS = 9
CLIENT_WINDOW = 62.0

# Outcomes a genuine, untampered payload may have; "forged" or "status_unavailable" is a failure.
GENUINE_OUTCOMES = frozenset({"valid", "revoked", "superseded", "issuer_suspended", "issuer_terminated"})

PAGE_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Encoding": "gzip",
    "Accept-Language": "zh-CN,zh;q=0.9",
}
JSON_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip"}


# ------------------------------------------------------------------------------------ classifier


@dataclass(frozen=True, slots=True)
class Expect:
    """What a scenario's answer may be: its statuses, and for a 200 JSON answer optionally the
    ``outcome`` values (verification) or the ``found`` value (lookups) it may carry."""

    statuses: frozenset[int]
    outcomes: frozenset[str] | None = None
    found: bool | None = None


def expect(*statuses: int, outcomes: frozenset[str] | None = None, found: bool | None = None) -> Expect:
    return Expect(frozenset(statuses), outcomes, found)


# The scenarios' expectations, by request name.
QR_PAGE = expect(200)
QR_JSON = expect(200, outcomes=GENUINE_OUTCOMES)
LOOKUP_HIT = expect(200, found=True)
LOOKUP_MISS = expect(404, found=False)
BATCH_ANSWER = expect(200)
INSTITUTION = expect(200)
# A tampered payload: forged (signature or format check fails) or refused as malformed input.
TAMPERED = expect(200, 400, 404, 422, outcomes=frozenset({"forged"}))
BAD_NUMBER = expect(422)
NUL_BYTE = expect(400)


def classify(want: Expect, status: int, body: bytes | None = None, error: object = None) -> str | None:
    """None when the answer is one the scenario expects (a 4xx it expects included), otherwise why
    it is a failure: a connection error, a 5xx, an unexpected status, or a 200 whose JSON says
    something else than expected (an outcome of ``forged`` for a genuine payload, ``found`` false)."""
    if error is not None or status == 0:
        return f"connection error: {error}" if error is not None else "no response"
    if status >= 500:
        return f"server error {status}"
    if status not in want.statuses:
        return f"unexpected status {status}"
    if status == 200 and (want.outcomes is not None or want.found is not None):
        try:
            data = json.loads(body or b"")
        except ValueError:
            return "200 without a JSON body"
        if not isinstance(data, dict):
            return "200 without a JSON object"
        if want.outcomes is not None and data.get("outcome") not in want.outcomes:
            return f"unexpected outcome {data.get('outcome')!r}"
        if want.found is not None and data.get("found") is not want.found:
            return f"unexpected found={data.get('found')!r}"
    return None


# ---------------------------------------------------------------------------------------- sample


@dataclass(frozen=True, slots=True)
class Certificate:
    number: str
    name: str
    id_type: str
    id_number: str
    qr_path: str  # "/C/<Base32 payload>", as the QR code prints it; "" when not signed
    institution: str


@dataclass(slots=True)
class Sample:
    certificates: list[Certificate]
    signed: list[Certificate] = field(default_factory=list)
    with_id: list[Certificate] = field(default_factory=list)
    institutions: list[str] = field(default_factory=list)
    numbers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.signed = [c for c in self.certificates if c.qr_path]
        self.with_id = [c for c in self.certificates if c.id_number]
        self.institutions = sorted({c.institution for c in self.certificates if c.institution})
        self.numbers = frozenset(c.number for c in self.certificates)
        if not self.signed or not self.institutions:
            raise ValueError("the sample needs signed certificates (qr_path) and institutions")


_FIELDS = ("number", "name", "id_type", "id_number", "qr_path", "institution")


def parse_sample(lines: list[str]) -> Sample:
    """The sample from its JSON lines (blank lines skipped; missing fields read as empty)."""
    certs = []
    for line in lines:
        if not line.strip():
            continue
        row: Mapping[str, Any] = json.loads(line)
        text = {k: str(row.get(k) or "") for k in _FIELDS}
        certs.append(Certificate(**text))
    return Sample(certs)


_sample: Sample | None = None


def sample() -> Sample:
    """The sample named by ``VERIFY_LOADTEST_SAMPLE``, read once per process."""
    global _sample
    if _sample is None:
        path = os.environ.get(SAMPLE_ENV)
        if not path:
            raise RuntimeError(
                f"{SAMPLE_ENV} must name the sample file (python -m loadtests.loadtest sets it)"
            )
        _sample = parse_sample(Path(path).read_text(encoding="utf-8").splitlines())
    return _sample


# ------------------------------------------------------------------------- inputs of the scenarios

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def private_address(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def unknown_number(number: str, rng: random.Random, known: frozenset[str]) -> str:
    """A well-formed number no sample certificate has: the serial's first digits set to 9s (serials
    that high are never issued in the demo or seeded data). Falls back to the number itself."""
    for _ in range(10):
        digits = len(number) - len(number.rstrip("0123456789"))
        if digits < 5:
            return number
        tail = "99" + "".join(rng.choice("0123456789") for _ in range(3))
        candidate = number[:-5] + tail
        if candidate not in known:
            return candidate
    return number


def tampered_path(qr_path: str, rng: random.Random) -> str:
    """The payload segment with one character changed, cut short or padded: what a forger or a torn
    label sends."""
    segment = qr_path.rsplit("/", 1)[-1]
    how = rng.randrange(3)
    if how == 0:
        i = rng.randrange(len(segment))
        segment = segment[:i] + rng.choice(_B32.replace(segment[i].upper(), "")) + segment[i + 1 :]
    elif how == 1:
        segment = segment[: rng.randrange(1, len(segment))]
    else:
        segment = segment + rng.choice(_B32)
    return "/api/v1/verify/" + segment


def bad_number(number: str, rng: random.Random) -> str:
    """A malformed certificate number (a typo: a character dropped, a letter in the digits, a word)."""
    how = rng.randrange(3)
    if how == 0:
        return number[:-1]
    if how == 1:
        return number[:-3] + "O" + number[-2:]  # the letter O for a zero
    return "证书编号"


# -------------------------------------------------------------------------------------- the user


class _Answer(Protocol):
    """The part of locust's response context manager the tasks use."""

    @property
    def status_code(self) -> int: ...
    @property
    def content(self) -> bytes | None: ...

    request_meta: dict[str, Any]  # "exception": what went wrong when no answer came back

    def success(self) -> None: ...
    def failure(self, exc: object) -> None: ...


class PublicUser(FastHttpUser):
    """One phone: scans, looks up, opens institution pages, now and then sends rubbish."""

    wait_time = between(0.5, 3.0)

    def on_start(self) -> None:
        self.rng = random.Random()  # traffic, not secrets
        self.data = sample()
        self.address = private_address(self.rng)
        self.lookups: deque[float] = deque()

    # -------------------------------------------------------------------------------- requests

    def _lookup_address(self) -> str:
        """The address for one more lookup: this client's, unless that would pass the budget."""
        now = time.monotonic()
        while self.lookups and now - self.lookups[0] > CLIENT_WINDOW:
            self.lookups.popleft()
        if len(self.lookups) >= CLIENT_LOOKUPS:
            self.address = private_address(self.rng)
            self.lookups.clear()
        self.lookups.append(now)
        return self.address

    def _judge(self, answer: _Answer, want: Expect) -> None:
        status = answer.status_code or 0
        # Locust files every status outside 2xx/3xx as an exception too; only a missing answer is one.
        error = answer.request_meta.get("exception") if status == 0 else None
        why = classify(want, status, answer.content, error)
        if why is None:
            answer.success()
        else:
            answer.failure(why)

    def _get(self, path: str, name: str, want: Expect, headers: Mapping[str, str]) -> None:
        with self.client.get(
            path, name=name, headers={**headers, "X-Forwarded-For": self.address}, catch_response=True
        ) as answer:
            self._judge(cast(_Answer, answer), want)

    def _lookup(self, body: Mapping[str, str], name: str, want: Expect) -> None:
        headers = {
            **JSON_HEADERS,
            "Content-Type": "application/json",
            "X-Forwarded-For": self._lookup_address(),
        }
        with self.client.post(
            "/api/v1/lookup",
            name=name,
            data=json.dumps(body, ensure_ascii=False),
            headers=headers,
            catch_response=True,
        ) as answer:
            self._judge(cast(_Answer, answer), want)

    # ----------------------------------------------------------------------------------- tasks

    @task(MIX["qr_scan"])
    def qr_scan(self) -> None:
        cert = self.rng.choice(self.data.signed)
        if self.rng.random() < 0.5:
            self._get(cert.qr_path, "/c/{payload}", QR_PAGE, PAGE_HEADERS)
        else:
            segment = cert.qr_path.rsplit("/", 1)[-1]
            self._get(f"/api/v1/verify/{segment}", "/api/v1/verify/{payload}", QR_JSON, JSON_HEADERS)

    @task(MIX["lookup_number"])
    def lookup_number(self) -> None:
        cert = self.rng.choice(self.data.certificates)
        roll = self.rng.random()
        if roll < UNKNOWN_NUMBER_SHARE:
            number = unknown_number(cert.number, self.rng, self.data.numbers)
            self._lookup(
                {"number": number, "name": cert.name}, "/api/v1/lookup {number,name} miss", LOOKUP_MISS
            )
        elif roll < UNKNOWN_NUMBER_SHARE + WRONG_NAME_SHARE:
            other = self.rng.choice(self.data.certificates).name
            name = other if other != cert.name else cert.name + "某"
            self._lookup(
                {"number": cert.number, "name": name}, "/api/v1/lookup {number,name} miss", LOOKUP_MISS
            )
        else:
            self._lookup(
                {"number": cert.number, "name": cert.name}, "/api/v1/lookup {number,name}", LOOKUP_HIT
            )

    @task(MIX["lookup_id"])
    def lookup_id(self) -> None:
        cert = self.rng.choice(self.data.with_id)
        body = {"id_number": cert.id_number, "id_type": cert.id_type or "resident_id", "name": cert.name}
        self._lookup(body, "/api/v1/lookup {id_number,id_type,name}", LOOKUP_HIT)

    @task(MIX["institution"])
    def institution(self) -> None:
        code = self.rng.choice(self.data.institutions)
        if self.rng.random() < 0.5:
            self._get(f"/institutions/{code}", "/institutions/{code}", INSTITUTION, PAGE_HEADERS)
        else:
            self._get(
                f"/api/v1/institutions/{code}", "/api/v1/institutions/{code}", INSTITUTION, JSON_HEADERS
            )

    @task(MIX["malformed"])
    def malformed(self) -> None:
        cert = self.rng.choice(self.data.signed)
        how = self.rng.randrange(4)
        if how == 0:
            path = tampered_path(cert.qr_path, self.rng)
            self._get(path, "/api/v1/verify/{payload} tampered", TAMPERED, JSON_HEADERS)
        elif how == 1:
            body = {"number": bad_number(cert.number, self.rng), "name": cert.name}
            self._lookup(body, "/api/v1/lookup bad number", BAD_NUMBER)
        elif how == 2:
            path = "/c/" + quote("\0") + cert.qr_path.rsplit("/", 1)[-1]
            self._get(path, "/c/{payload} NUL", NUL_BYTE, PAGE_HEADERS)
        else:
            self._lookup({"number": cert.number, "name": cert.name + "\0"}, "/api/v1/lookup NUL", NUL_BYTE)

    @task(MIX["batch_verify"])
    def batch_verify(self) -> None:
        token = os.environ.get(TOKEN_ENV, "")
        picks = [self.rng.choice(self.data.certificates) for _ in range(BATCH_ROWS)]
        rows = [
            {"number": c.number, "name": c.name if self.rng.random() > 0.1 else c.name + "某"} for c in picks
        ]
        with self.client.post(
            "/api/v1/verify-batch?filename=hires.json", name="/api/v1/verify-batch", catch_response=True,
            data=json.dumps({"rows": rows}, ensure_ascii=False),
            headers={**JSON_HEADERS, "Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        ) as answer:  # fmt: skip
            self._judge(cast(_Answer, answer), BATCH_ANSWER)

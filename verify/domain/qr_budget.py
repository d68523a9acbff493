"""The QR size budget (rule 65): every certificate's QR fits version 10 at error correction M.

The QR prints in a 30 mm box at 300 dpi, and a module is a whole number of printer dots: the render
(``verify.render.qr``) gives a version-10 symbol (57 modules) 6 dots a module, 0.508 mm, the
project's 0.5 mm floor for phone cameras on paper; version 11 (61 modules) gets 5 dots, 0.42 mm,
below it. So version 10-M is the largest symbol a certificate may carry.

The QR holds the URL ``<PUBLIC_URL>/C/<Base32 payload>``, upper case, one alphanumeric segment.
Its length follows from the payload's length, which follows from the byte lengths of the three
texts (``verify.domain.payload`` body layout): the budget is arithmetic on those, so checking a
million-row import costs nothing, and ``tests/unit/test_qr_budget.py`` checks the arithmetic
against real symbols. The budget leaves room for a public URL of up to ``MAX_BASE_URL`` characters;
the configuration refuses a longer one (``verify.config``), so an accepted row fits whatever the
deployment's address (docs/DECISIONS.md D55).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from verify.domain import payload

MAX_VERSION: Final = 10
# ISO/IEC 18004:2015 Table 7: alphanumeric characters a version-10 symbol holds at level M.
ALPHANUMERIC_CAPACITY: Final = 311
# Characters of the public URL (``VERIFY_PUBLIC_URL``, e.g. ``https://verify.hrss.henan.gov.cn``)
# the budget leaves room for.
MAX_BASE_URL: Final = 40
_PATH: Final = len("/C/")


def url_chars(payload_len: int, base_len: int = MAX_BASE_URL) -> int:
    """Characters of the QR URL of a ``payload_len``-byte payload under a ``base_len`` public URL."""
    return base_len + _PATH + (payload_len * 8 + 4) // 5


def payload_len(number: str, holder_name: str, occupation_name: str, job: str) -> int:
    """Bytes of the signed payload of a record with these fields (``payload.encode_body`` layout)."""
    fixed = payload.FIXED_LEN_22 if len(number) == 22 else payload.FIXED_LEN_15
    texts = len(holder_name.encode()) + len(occupation_name.encode())
    texts += 0 if job == payload.NO_JOB else len(job.encode())
    return fixed + 3 + texts + payload.SIGNATURE_LEN


@dataclass(frozen=True, slots=True)
class Budget:
    """How a record's texts measure against the budget."""

    text_bytes: int  # UTF-8 bytes of name + occupation + 工种
    limit: int  # the most those texts may take

    @property
    def over(self) -> int:
        return max(0, self.text_bytes - self.limit)


def _text_limit(number_len: int) -> int:
    fixed = payload.FIXED_LEN_22 if number_len == 22 else payload.FIXED_LEN_15
    limit = 0
    while url_chars(fixed + 3 + limit + 1 + payload.SIGNATURE_LEN) <= ALPHANUMERIC_CAPACITY:
        limit += 1
    return limit


# The most the three texts may take together: 80 bytes for a 22-character number, 82 for a 15-digit
# one (a Chinese character is 3 bytes, a rare one from the supplementary planes 4).
TEXT_LIMITS: Final = {22: _text_limit(22), 15: _text_limit(15)}


def budget(number: str, holder_name: str, occupation_name: str, job: str) -> Budget:
    texts = payload_len(number, holder_name, occupation_name, job) - payload_len(
        number, "", "", payload.NO_JOB
    )
    return Budget(texts, TEXT_LIMITS[22 if len(number) == 22 else 15])

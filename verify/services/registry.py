"""The service's use cases over one pool and one ID protector, shared by the HTTP app and the CLI.

Each group of use cases is a mixin in its own module (imports, lookup, publication, institutions,
accounts, review);
this class holds what they share. SQL stays in ``verify.db``, rules in ``verify.domain``.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from datetime import date, timedelta

from verify.crypto.idkeys import IdKeys
from verify.crypto.idprotect import IdProtector
from verify.crypto.receipts import ReceiptSigner
from verify.db.pool import DATABASE_ERRORS, Pool, ping, reachable
from verify.domain.clock import today_cst
from verify.domain.throttle import ThrottlePolicy
from verify.services.accounts import Accounts
from verify.services.bans import CandidateBans
from verify.services.batch_verification import DEFAULT_ROWS_PER_DAY, QR_PARALLEL_ROWS, BatchVerification
from verify.services.corrections import Corrections
from verify.services.decisions import Decisions
from verify.services.imports import BatchImports
from verify.services.institutions import InstitutionAdmin
from verify.services.legacy import LegacyImports
from verify.services.lookup import Lookups
from verify.services.printing import Printing
from verify.services.publication import Publication
from verify.services.review import Review
from verify.services.status_view import StatusView
from verify.services.throttle import Throttle

# What a use case raises when the database is down or unreachable (for the entry points' maps).
UNAVAILABLE_ERRORS = DATABASE_ERRORS


class Registry(BatchImports, Lookups, Decisions, Corrections, Publication, InstitutionAdmin, Accounts, Review, LegacyImports,
               CandidateBans, BatchVerification, Printing):  # fmt: skip
    def __init__(
        self,
        pool: Pool,
        protector: IdProtector,
        *,
        id_keys: IdKeys | None = None,
        today: Callable[[], date] = today_cst,
        parallel_min_rows: int = 20_000,
        dsn: str | None = None,
        throttle: ThrottlePolicy | None = None,
        login_throttle: ThrottlePolicy | None = None,
        session_lifetime: timedelta = timedelta(hours=8),
        session_idle: timedelta = timedelta(minutes=30),
        token_lifetime: timedelta = timedelta(days=90),
        receipt_signer: ReceiptSigner | None = None,
        batch_rows_per_day: int = DEFAULT_ROWS_PER_DAY,
        qr_parallel_rows: int = QR_PARALLEL_ROWS,
    ) -> None:
        self.pool = pool
        # The certificate reads of public lookups; a read replica's pool when one is configured
        # (verify.services.runtime.open_read_pool), the primary's otherwise. Everything else, the
        # throttle's writes and the status view included, uses ``pool``.
        self.read_pool = pool
        self.status_view: StatusView | None = None  # set by the web app; lookups overlay its snapshot
        self.replica_down_until = 0.0  # time.monotonic() until which lookups skip a failed replica
        self.dsn = dsn  # for connections outside the pool (the status view's LISTEN)
        self.protector = protector
        self.id_keys = id_keys  # lets worker processes rebuild the protector for large batches
        # QR-image link tokens are keyed from the ID index key, domain-separated; derived once.
        self.qr_link_key = (
            hmac.digest(id_keys.index_key, b"verify.qr-link.v1", "sha256") if id_keys is not None else None
        )
        # Throttle keys likewise; without ID keys (never in a running service) a random key still
        # works, but only within this process.
        throttle_key = (
            hmac.digest(id_keys.index_key, b"verify.throttle.v1", "sha256")
            if id_keys is not None
            else os.urandom(32)
        )
        self.throttle = Throttle(pool, throttle_key, throttle or ThrottlePolicy())
        # Console sign-ins: their own key, so login counters never share rows with lookups'.
        login_key = (
            hmac.digest(id_keys.index_key, b"verify.login-throttle.v1", "sha256")
            if id_keys is not None
            else os.urandom(32)
        )
        self.login_throttle = Throttle(pool, login_key, login_throttle or ThrottlePolicy(per_address=20))
        self.session_lifetime = session_lifetime
        self.session_idle = session_idle
        self.token_lifetime = token_lifetime
        self.today = today
        # Signs batch-verification receipts only (docs/RECEIPT-FORMAT.md); the web process may hold it.
        self.receipt_signer = receipt_signer
        self.batch_rows_per_day = batch_rows_per_day
        self.parallel_min_rows = parallel_min_rows
        self.qr_parallel_rows = qr_parallel_rows

    async def database_reachable(self) -> bool:
        """Whether a fresh connection to the database answers (False without a DSN to try)."""
        return self.dsn is not None and await reachable(self.dsn)

    async def close(self) -> None:
        """Close the pools (the read replica's first, when there is one)."""
        if self.read_pool is not self.pool:
            await self.read_pool.close()
        await self.pool.close()

    async def ping(self) -> None:
        """Raises one of ``verify.db.pool.DATABASE_ERRORS`` when the database does not answer."""
        await ping(self.pool)

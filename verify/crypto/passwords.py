"""Console passwords: Argon2id (argon2-cffi, RFC 9106's second recommended profile: 64 MiB,
3 passes, 4 lanes), never stored or logged in the clear."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)
# Verified when the login is unknown, so an unknown login costs as long as a wrong password and
# the time of an answer does not tell which logins exist.
_DUMMY = _HASHER.hash("no account has this password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_ok(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (an Argon2 hash; None = no password set, which
    still takes one verification's time). Never raises for a wrong or malformed hash."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)

"""No full ID number is ever stored in plaintext: a pg_dump of the demo data holds none (SECURITY P1)."""

from __future__ import annotations

import re

import asyncpg
import pytest

from tests.conftest import ENC_KEY, INDEX_KEY, TEST_DB, TODAY
from verify.crypto.idprotect import IdProtector
from verify.crypto.signing import Signer
from verify.db.cluster import EmbeddedCluster
from verify.domain import holder_ids as ids
from verify.services import demo

ID_PATTERN = re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
BYTEA_HEX = re.compile(rb"\\\\x[0-9a-f]+")


@pytest.mark.slow
async def test_pg_dump_of_demo_database_contains_no_id_number(
    pool: asyncpg.Pool, protector: IdProtector, cluster: EmbeddedCluster, signer: Signer
) -> None:
    await demo.load(pool, protector, today=TODAY, signer=signer)
    listed = await demo.certificates(pool, protector)
    assert len(listed) >= demo.CERTIFICATES
    dump = cluster.pg_dump(TEST_DB)
    assert b"certificates" in dump and len(dump) > 10_000
    for cert in listed:
        assert cert["id_number"].encode() not in dump
        assert cert["id_number"][:17].encode() not in dump
    # nothing that even looks like a check-digit-valid resident ID outside the bytea hex literals
    # (random ciphertext hex contains digit runs; ~1 in 11 of those "passes" a check digit)
    for match in ID_PATTERN.findall(BYTEA_HEX.sub(b"", dump)):
        text = match.decode().upper()
        assert ids.gb11643_check_char(text[:17]) != text[17], "a valid-looking ID number is in the dump"
    # the keys are not in the database either
    for key in (INDEX_KEY, ENC_KEY):
        assert key not in dump and key.hex().encode() not in dump

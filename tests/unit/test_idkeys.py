"""verify.crypto.idkeys: load-or-create of the ID blind-index and encryption keys."""

from __future__ import annotations

import errno
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from verify.crypto import idkeys
from verify.crypto.idkeys import IdKeys, load_or_create_id_keys
from verify.crypto.idprotect import IdProtector
from verify.domain.errors import ConfigError
from verify.domain.holder_ids import IdType

K1 = bytes(range(32))
K2 = bytes(range(32, 64))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_file_0600_in_dir_0700(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secrets" / "id-keys.json"
    keys, created = load_or_create_id_keys(path)
    assert created
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    doc = json.loads(path.read_text())
    assert doc == {"version": 1, "index_key": keys.index_key.hex(), "enc_key": keys.enc_key.hex()}
    assert len(keys.index_key) == len(keys.enc_key) == 32
    assert keys.index_key != keys.enc_key
    assert [p.name for p in path.parent.iterdir()] == ["id-keys.json"]  # no temporary file left behind


def test_mode_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        _, created = load_or_create_id_keys(tmp_path / "k" / "keys.json")
    finally:
        os.umask(old)
    assert created
    assert mode(tmp_path / "k" / "keys.json") == 0o600
    assert mode(tmp_path / "k") == 0o700


def test_existing_parent_directory_mode_is_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    load_or_create_id_keys(tmp_path / "keys.json")
    assert mode(tmp_path) == 0o755


def test_second_call_reads_the_same_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first, created1 = load_or_create_id_keys(path)
    second, created2 = load_or_create_id_keys(path)
    assert (created1, created2) == (True, False)
    assert first == second


def test_fresh_keys_differ_between_files(tmp_path: Path) -> None:
    a, _ = load_or_create_id_keys(tmp_path / "a.json")
    b, _ = load_or_create_id_keys(tmp_path / "b.json")
    assert a.index_key != b.index_key
    assert a.enc_key != b.enc_key


def test_concurrent_starts_agree(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "keys.json"
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: load_or_create_id_keys(path), range(32)))
    assert sum(created for _, created in results) == 1
    assert len({keys for keys, _ in results}) == 1
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"version": 2, "index_key": "' + b"00" * 32 + b'", "enc_key": "' + b"11" * 32 + b'"}',
        b'{"version": 1, "index_key": "' + b"00" * 32 + b'"}',
        b'{"version": 1, "index_key": "' + b"00" * 31 + b'", "enc_key": "' + b"11" * 32 + b'"}',
        b'{"version": 1, "index_key": "' + b"zz" * 32 + b'", "enc_key": "' + b"11" * 32 + b'"}',
        b'{"version": 1, "index_key": "' + b"00" * 32 + b'", "enc_key": 7}',
        b'{"version": 1, "index_key": "' + b"00" * 32 + b'", "enc_key": "' + b"00" * 32 + b'"}',
        b" " * 70_000,
    ],
)
def test_corrupt_file_is_an_error_and_is_never_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        load_or_create_id_keys(path)
    assert path.read_bytes() == content
    assert str(path) in exc.value.message_zh
    assert "备份" in exc.value.message_zh
    assert "backup" in exc.value.message_en
    # The message may show the path and the reason, never key material.
    assert "00" * 16 not in exc.value.message_en
    assert "11" * 16 not in exc.value.message_en


def test_unreadable_path_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.mkdir()
    with pytest.raises(ConfigError):
        load_or_create_id_keys(path)
    assert path.is_dir()


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_text("x")
    with pytest.raises(ConfigError):
        load_or_create_id_keys(tmp_path / "secrets" / "keys.json")


def test_cannot_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Directory permissions mean nothing to root (CI containers), so fail the write itself.
    def refuse(path: Path, body: bytes) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(idkeys, "_write_new", refuse)
    with pytest.raises(ConfigError) as exc:
        load_or_create_id_keys(tmp_path / "keys.json")
    assert "VERIFY_ID_KEYS_FILE" in exc.value.message_en
    assert "Permission denied" in exc.value.message_en
    assert not (tmp_path / "keys.json").exists()


def test_filesystem_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "keys.json"
    keys, created = load_or_create_id_keys(path)
    assert created
    assert mode(path) == 0o600
    assert load_or_create_id_keys(path) == (keys, False)
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def test_explicit_keys_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    from_file, _ = load_or_create_id_keys(path)
    keys, created = load_or_create_id_keys(path, index_key=K1, enc_key=K2)
    assert (keys, created) == (IdKeys(K1, K2), False)
    assert keys != from_file


def test_explicit_keys_do_not_create_a_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    load_or_create_id_keys(path, index_key=K1, enc_key=K2)
    assert not path.exists()


def test_explicit_keys_win_over_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("garbage")
    keys, created = load_or_create_id_keys(path, index_key=K1, enc_key=K2)
    assert keys == IdKeys(K1, K2)
    assert not created


@pytest.mark.parametrize(("index_key", "enc_key"), [(K1, None), (None, K2)])
def test_one_explicit_key_is_an_error(tmp_path: Path, index_key: bytes | None, enc_key: bytes | None) -> None:
    with pytest.raises(ConfigError):
        load_or_create_id_keys(tmp_path / "keys.json", index_key=index_key, enc_key=enc_key)
    assert not (tmp_path / "keys.json").exists()


@pytest.mark.parametrize(("index_key", "enc_key"), [(K1[:31], K2), (K1, K2 + b"x"), (K1, K1)])
def test_bad_explicit_keys(tmp_path: Path, index_key: bytes, enc_key: bytes) -> None:
    with pytest.raises(ConfigError):
        load_or_create_id_keys(tmp_path / "keys.json", index_key=index_key, enc_key=enc_key)


def test_repr_hides_keys() -> None:
    keys = IdKeys(K1, K2)
    text = repr(keys) + str(keys)
    for secret in (K1.hex(), K2.hex(), repr(K1), repr(K2)):
        assert secret not in text


def test_keys_are_immutable() -> None:
    keys = IdKeys(K1, K2)
    with pytest.raises(AttributeError):
        keys.index_key = K2  # type: ignore[misc]


def test_loaded_keys_work_with_id_protector(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys, _ = load_or_create_id_keys(path)
    blob = IdProtector(keys.index_key, keys.enc_key).encrypt(IdType.RESIDENT, "11010519491231002X", aad=b"r1")
    again, _ = load_or_create_id_keys(path)
    assert IdProtector(again.index_key, again.enc_key).decrypt(blob, aad=b"r1") == (
        IdType.RESIDENT,
        "11010519491231002X",
    )

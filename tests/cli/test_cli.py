"""The command line, in-process, against the test database (VERIFY_DATABASE_URL points at it)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import ENC_KEY, INDEX_KEY, PASSPHRASE, InstitutionFactory
from tests.factories import Row, csv_bytes, number_of
from tests.workflow import approve
from verify import cli
from verify.crypto.signing import Signer
from verify.services.keyring import Keyring
from verify.services.registry import Registry


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, test_dsn: str, tmp_path: Path, keyring: Keyring, signer: Signer
) -> None:
    monkeypatch.setenv("VERIFY_DATABASE_URL", test_dsn)
    monkeypatch.setenv("VERIFY_SIGNING_KEYS_DIR", str(keyring.private_dir))
    monkeypatch.setenv("VERIFY_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("VERIFY_PUBLIC_KEYS_DIR", str(tmp_path / "public-keys"))
    monkeypatch.setenv("VERIFY_HOME", str(tmp_path))
    monkeypatch.setenv("VERIFY_ID_INDEX_KEY", INDEX_KEY.hex())
    monkeypatch.setenv("VERIFY_ID_ENC_KEY", ENC_KEY.hex())


def test_codes_check_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["codes", "check", "ｙ0000 4101 0012 22 4 000007"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] and out["canonical"] == "Y000041010012224000007"
    assert cli.main(["codes", "check", "Y000041290012224000007"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert not out["valid"] and out["problems"]


async def test_import_and_publish_through_cli(
    cli_env: None,
    registry: Registry,
    make_institution: InstitutionFactory,
    pool: asyncpg.Pool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inst = await make_institution()
    rows = [Row(inst["code"], serial=1), Row(inst["code"], serial=2)]
    path = tmp_path / "batch.csv"
    path.write_bytes(csv_bytes(rows))
    import asyncio

    code = await asyncio.to_thread(cli.main, ["import", str(path), "--institution", inst["code"]])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "submitted" and result["rows"] == 2
    # rule 32: nothing is published before a reviewing centre approved it
    assert await asyncio.to_thread(cli.main, ["publish", result["batch_id"]]) == 4
    assert json.loads(capsys.readouterr().err)["error"] == "invalid_transition"
    await approve(registry, result["batch_id"])
    code = await asyncio.to_thread(cli.main, ["publish", result["batch_id"]])
    assert code == 0
    assert await pool.fetchval(
        "SELECT b.state = 'published' FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE c.number = $1",
        number_of(rows[0]),
    )
    # a rejected batch: exit 1, JSON error with every bad row on stderr
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([Row(inst["code"], serial=3, level=7)]))
    code = await asyncio.to_thread(cli.main, ["import", str(bad), "--institution", inst["code"]])
    err = json.loads(capsys.readouterr().err)
    assert code == 1 and err["error"] == "batch_rejected" and err["problems"][0]["line"] == 2


def test_unknown_institution_exit_code(
    cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(csv_bytes([Row("S000041019998", serial=1)]))
    assert cli.main(["import", str(path), "--institution", "S000041019998"]) == 3
    assert json.loads(capsys.readouterr().err)["error"] == "not_found"


def test_template_prints_header(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["template"]) == 0
    assert capsys.readouterr().out.startswith("证书编号")


async def test_institution_admin_commands(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from tests.conftest import unique_henan_code

    code = unique_henan_code("S", city="05", first="6")
    argv = [
        "institutions",
        "add",
        code,
        "--kind",
        "social",
        "--name",
        "安阳测试评价中心",
        "--filing-date",
        "2024-01-02",
    ]
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert json.loads(capsys.readouterr().out)["filing"]["date"] == "2024-01-02"
    argv = ["institutions", "scope", code, "--occupation-code", "6-20-01-01", "--occupation", "钳工",
            "--levels", "5,4", "--effective", "2024-02-01"]  # fmt: skip
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert len(json.loads(capsys.readouterr().out)["scope"]) == 2
    argv = [
        "institutions",
        "status",
        code,
        "--status",
        "terminated",
        "--reason",
        "第十四条",
        "--effective",
        "2026-01-05",
    ]
    assert await asyncio.to_thread(cli.main, argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"]["code"] == "terminated" and out["retired_codes"][0]["code"] == code
    # a terminated code is in the 废置库: filing it again for someone else is refused (rule 40)
    assert (
        await asyncio.to_thread(
            cli.main, ["institutions", "add", code, "--kind", "social", "--name", "另一机构"]
        )
        == 4
    )


async def test_qr_and_keys_commands(
    cli_env: None,
    registry: Registry,
    make_institution: InstitutionFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    import zxingcpp
    from PIL import Image

    inst = await make_institution()
    rows = [Row(inst["code"], serial=1, name="赵敏")]
    path = tmp_path / "q.csv"
    path.write_bytes(csv_bytes(rows))
    assert await asyncio.to_thread(cli.main, ["import", str(path), "--institution", inst["code"]]) == 0
    batch = json.loads(capsys.readouterr().out)["batch_id"]
    await approve(registry, batch)
    assert await asyncio.to_thread(cli.main, ["publish", batch]) == 0
    capsys.readouterr()
    number = number_of(rows[0])
    assert await asyncio.to_thread(cli.main, ["qr", number, "--url"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("HTTP://127.0.0.1:8000/C/") and url == url.upper()
    png = tmp_path / "q.png"
    assert await asyncio.to_thread(cli.main, ["qr", number, "--out", str(png)]) == 0
    assert "mm/module" in capsys.readouterr().err
    decoded = zxingcpp.read_barcodes(Image.open(png))
    assert decoded and decoded[0].text == url
    assert await asyncio.to_thread(cli.main, ["qr", "--all", "--url"]) == 0
    assert url in capsys.readouterr().out.splitlines()
    assert await asyncio.to_thread(cli.main, ["keys", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(k["status"] == "active" and k["private_key_here"] for k in listed)
    assert await asyncio.to_thread(cli.main, ["qr", "S000041019999254000001", "--url"]) == 3


async def test_accounts_and_the_signer_through_cli(
    cli_env: None,
    registry: Registry,
    make_institution: InstitutionFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    import io
    import secrets

    inst = await make_institution()
    tag = secrets.token_hex(3)
    monkeypatch.setattr("sys.stdin", io.StringIO("a password for the reviewer\n"))
    argv = [
        "accounts",
        "add",
        f"rev-{tag}",
        "--role",
        "reviewer",
        "--jurisdiction",
        "4101",
        "--password-stdin",
    ]
    assert await asyncio.to_thread(cli.main, argv) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["role"] == "reviewer" and made["password"] is True and "password for" not in json.dumps(made)
    argv = [
        "accounts",
        "add",
        f"inst-{tag}",
        "--role",
        "institution",
        "--institution",
        inst["code"],
        "--manager",
    ]
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert json.loads(capsys.readouterr().out)["manager"] is True
    assert (
        await asyncio.to_thread(
            cli.main, ["accounts", "token", f"inst-{tag}", "--label", "uploads", "--days", "7"]
        )
        == 0
    )
    token = json.loads(capsys.readouterr().out)["token"]
    institution = await registry.principal_for_token(token)
    assert institution.institution_code == inst["code"]
    assert await asyncio.to_thread(cli.main, ["accounts", "list"]) == 0
    assert {f"rev-{tag}", f"inst-{tag}"} <= {a["login"] for a in json.loads(capsys.readouterr().out)}
    # bad input: a role the service does not have, a jurisdiction outside Henan
    assert (
        await asyncio.to_thread(
            cli.main, ["accounts", "add", f"x-{tag}", "--role", "reviewer", "--jurisdiction", "11"]
        )
        == 1
    )
    assert json.loads(capsys.readouterr().err)["error"] == "invalid_input"

    # an approved batch is published by `verify signer run --once`
    path = tmp_path / "b.csv"
    path.write_bytes(csv_bytes([Row(inst["code"], serial=1)]))
    assert await asyncio.to_thread(cli.main, ["import", str(path), "--institution", inst["code"]]) == 0
    batch = json.loads(capsys.readouterr().out)["batch_id"]
    rev = await registry.batch_list(
        await registry.principal_for_token(
            (await registry.issue_account_token(f"rev-{tag}", label="t", by=None, actor="t"))["token"]
        ),
        state="submitted",
    )
    assert batch in {b["batch_id"] for b in rev}
    await approve(registry, batch)
    assert await asyncio.to_thread(cli.main, ["signer", "run", "--once"]) == 0
    assert batch in {b["batch_id"] for b in json.loads(capsys.readouterr().out)}

    # rule 59: disabled at once
    assert await asyncio.to_thread(cli.main, ["accounts", "disable", f"inst-{tag}", "--reason", "离职"]) == 0
    capsys.readouterr()
    from verify.domain.errors import CredentialsRevoked

    with pytest.raises(CredentialsRevoked):
        await registry.principal_for_token(token)

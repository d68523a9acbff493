"""The public printable receipt of a batch verification (``/receipts/<id>``) and its JSON twin: the
receipt's fields and its check against the published receipt keys, a QR code that opens the page
itself, A4 print rules, no holder's name or ID number anywhere, and the standard 404 for any other id."""

from __future__ import annotations

import csv
import io
import re
import secrets
import xml.etree.ElementTree as ET

import httpx
import pytest
import zxingcpp
from PIL import Image

from tests.conftest import ROOT, InstitutionFactory
from tests.factories import Row, csv_bytes, holder_id, number_of
from tests.workflow import account_token, publish_batch
from verify.config import Settings
from verify.crypto.receipts import check_receipt
from verify.crypto.signing import Signer
from verify.domain.batch_verification import VERDICTS
from verify.http import i18n
from verify.services.registry import Registry

MB = 1 << 20
SVG_NS = "{http://www.w3.org/2000/svg}"
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _file(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode()


async def _receipt(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> tuple[dict[str, object], list[Row], str]:
    """A verifier's real receipt over two published certificates (one by number, one by ID) and a
    wrong name; the receipt, the rows and the verifier's login."""
    inst = await make_institution()
    rows = [Row(inst["code"], serial=i, name=n, id_number=holder_id()) for i, n in ((1, "周一"), (2, "吴二"))]
    result = await registry.import_batch(inst["code"], csv_bytes(rows), "r.csv", actor="t", max_bytes=MB)
    await publish_batch(registry, result.batch_id, signer=signer, actor="t")
    login = f"t-rcpt-{secrets.token_hex(4)}"
    token = await account_token(registry, "verifier", login=login)
    body = _file(["证书编号", "姓名", "证件号码", "工号"], [
        [number_of(rows[0]), rows[0].name, "", "E1"],
        ["", rows[1].name, rows[1].id_number, "E2"],
        [number_of(rows[1]), "郑错名", "", "E3"],
    ])  # fmt: skip
    r = await client.post(
        "/api/v1/verify-batch", files={"file": ("hires.csv", body, "text/csv")},
        headers={"authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert [x["verdict"] for x in r.json()["results"]] == ["valid", "valid", "not_found_or_mismatch"]
    return r.json()["receipt"], rows, login


def _qr_text(html: str) -> list[str]:
    """The page's inline QR code, rasterised from its one path (M/m/h, as verify.render.qr writes
    it) and read by zxing-cpp."""
    found = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert found, "no inline SVG"
    root = ET.fromstring(found.group(0))  # noqa: S314 - the page under test, not untrusted input
    assert root.get("class") == "qr" and b"href" not in found.group(0).encode()
    width = int(root.attrib["viewBox"].split()[2])
    grid = [[False] * width for _ in range(width)]
    (path,) = root.iter(f"{SVG_NS}path")
    x, y = 0.0, 0.0
    for cmd, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.attrib["d"]):
        if cmd == "M":
            x, y = float(a), float(b)
        elif cmd == "m":
            x, y = x + float(a), y + float(b)
        else:
            for col in range(int(x), int(x) + int(a)):
                grid[int(y)][col] = True
            x += int(a)
    image = Image.frombytes("L", (width, width), bytes(0 if v else 255 for row in grid for v in row))
    image = image.resize((width * 4, width * 4), Image.Resampling.NEAREST)
    return [b.text for b in zxingcpp.read_barcodes(image, formats=QR_ONLY)]


async def test_the_receipt_page_shows_a_real_receipt_and_its_check(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer,
    settings: Settings,
) -> None:  # fmt: skip
    receipt, rows, login = await _receipt(client, registry, make_institution, signer)
    rid = str(receipt["receipt_id"])
    page = await client.get(f"/receipts/{rid}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    text = re.sub(r"<[^>]+>", " ", html)
    assert i18n.t("receipt_signature_ok", "zh") in text and "签名有效" in text
    for value in (rid, login, receipt["request_sha256"], receipt["results_root"], receipt["kid"],
                  receipt["service_version"]):  # fmt: skip
        assert str(value) in text, value
    # the time in UTC and in China (UTC+8): 2026-11-25T01:02:03Z is 2026年11月25日 09:02:03
    issued = str(receipt["issued_at"])
    assert issued[:10] + " " + issued[11:19] + " UTC" in text
    assert "北京时间" in text
    # the counts per verdict, with their labels
    assert re.search(rf'data-verdict="valid">.*?{VERDICTS["valid"].label.zh}.*?<td>2</td>', html, re.S)
    assert re.search(
        rf'data-verdict="not_found_or_mismatch">.*?{VERDICTS["not_found_or_mismatch"].label.zh}.*?<td>1</td>', html, re.S
    )  # fmt: skip
    assert "docs/RECEIPT-FORMAT.md" in text and 'href="/.well-known/verify-keys.json"' in html
    assert f'href="/receipts/{rid}.json"' in html  # the JSON twin, offered as a download
    # no holder's name, ID number or its tail, no certificate number: the receipt holds none
    for row in rows:
        for secret in (row.name, row.id_number, row.id_number[-4:], number_of(row)):
            assert secret not in html, secret
    assert "郑错名" not in html
    # the QR code opens this very page
    assert _qr_text(html) == [f"{settings.public_url}/receipts/{rid}"]
    # print on A4, without the navigation
    css_href = re.search(r'href="(/static/verify-batch\.css\?v=[0-9a-f]+)"', html)
    assert css_href, "the receipt's stylesheet"
    css = (await client.get(css_href.group(1))).text
    assert "@page{size:A4;margin:15mm}" in css and re.search(
        r"@media print\{.*\.top,[^{]*\{display:none", css, re.S
    )
    # and in English
    en = await client.get(f"/receipts/{rid}?lang=en")
    assert en.status_code == 200 and "Signature valid" in en.text and VERDICTS["valid"].label.en in en.text


async def test_the_json_twin_is_the_signed_receipt(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    receipt, _, _ = await _receipt(client, registry, make_institution, signer)
    rid = str(receipt["receipt_id"])
    r = await client.get(f"/receipts/{rid}.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store" and r.headers["x-verify-receipt-check"] == "valid"
    assert r.json() == receipt
    asked = await client.get(f"/receipts/{rid}", headers={"accept": "application/json"})
    assert asked.status_code == 200 and asked.json() == receipt  # the page's twin, by Accept too
    # it checks offline against the published key set alone
    jwks = (await client.get("/.well-known/verify-keys.json")).json()
    assert check_receipt(r.content, jwks).ok


async def test_an_altered_stored_receipt_is_shown_as_not_valid(
    client: httpx.AsyncClient, registry: Registry, make_institution: InstitutionFactory, signer: Signer
) -> None:
    receipt, _, _ = await _receipt(client, registry, make_institution, signer)
    rid = str(receipt["receipt_id"])
    await registry.pool.execute(
        "UPDATE verification_receipts SET receipt = jsonb_set(receipt, '{account}', '\"someone-else\"')"
        " WHERE receipt_id = $1",
        rid,
    )
    page = await client.get(f"/receipts/{rid}")
    assert page.status_code == 200
    assert "签名无效（bad_signature）" in page.text and "签名有效" not in page.text
    twin = await client.get(f"/receipts/{rid}.json")
    assert twin.headers["x-verify-receipt-check"] == "bad_signature"
    # one that no longer reads at all is still shown, as far as it reads, and not valid
    await registry.pool.execute(
        "UPDATE verification_receipts SET receipt = receipt - 'issued_at' - 'counts' WHERE receipt_id = $1",
        rid,
    )
    page = await client.get(f"/receipts/{rid}")
    assert page.status_code == 200 and "签名无效（malformed）" in page.text


@pytest.mark.parametrize("rid", ["0" * 32, "not-a-receipt", "x" * 65, "a.b", "a b"])
async def test_any_other_id_is_the_standard_404(client: httpx.AsyncClient, rid: str) -> None:
    page = await client.get(f"/receipts/{rid}")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "error" in page.text or "出错" in page.text
    twin = await client.get(f"/receipts/{rid}.json")
    assert twin.status_code == 404 and twin.json()["error"] == "not_found"


def test_the_filter_css_has_a_rule_for_every_verdict() -> None:
    css = (ROOT / "web" / "static" / "verify-batch.css").read_text(encoding="utf-8")
    for slug in VERDICTS:
        assert f"#only-{slug}:target~.table-wrap tbody tr:not(.v-{slug})" in css, slug

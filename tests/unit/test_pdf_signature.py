"""verify.crypto.pdf_signature: PAdES B-B signatures on certificate PDFs.

pyhanko both signs and validates, so every verdict that matters is checked a second time without it:
the ``/ByteRange`` is read from the raw bytes, the CMS SignedData goes through ``openssl cms -verify``,
and a small DER walk hands the signed attributes and the ECDSA signature to ``cryptography``.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import stat
import subprocess
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.keys import internal
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import FreeText
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from verify.crypto import pdf_signature as ps
from verify.domain.errors import ConfigError, InvalidInput

ORG = "北京市职业技能鉴定指导中心"
PASSPHRASE = b"correct horse battery staple"
TEXT = "Vocational Skill Certificate S110000202400001"
# The chain starts a day ago so that a signing time in the past is inside its validity.
START = datetime.now(UTC) - timedelta(days=1)

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
_OID_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")  # 1.2.840.113549.1.9.4
_OID_SIGNING_TIME = bytes.fromhex("06092a864886f70d010905")  # 1.2.840.113549.1.9.5


def make_pdf(text: str = TEXT) -> bytes:
    """A one-page A4 certificate; uncompressed so that a test can find its text in the raw bytes."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, pageCompression=0, invariant=1)
    page.setFont("Helvetica", 14)
    page.drawString(72, 760, text)
    page.drawString(72, 740, "Holder: Zhang San / Level 3 (Senior)")
    page.showPage()
    page.save()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def chain() -> tuple[ps.DocumentSigner, bytes]:
    return ps.create_chain(ORG, now=START)


@pytest.fixture(scope="module")
def other_chain() -> tuple[ps.DocumentSigner, bytes]:
    return ps.create_chain("另一个机构", now=START)


@pytest.fixture(scope="module")
def signed(chain: tuple[ps.DocumentSigner, bytes]) -> bytes:
    return ps.sign_pdf(make_pdf(), chain[0], reason="电子证书签发 / certificate issued", location="北京")


# -- an independent reading of the signature ------------------------------------------------------


def byte_range(data: bytes) -> tuple[int, int, int, int]:
    found = _BYTE_RANGE.findall(data)
    assert len(found) == 1, "expected exactly one /ByteRange"
    a, b, c, d = (int(x) for x in found[0])
    return a, b, c, d


def covers_whole_file(data: bytes) -> bool:
    """True if the byte range is the whole file except the ``<hex>`` of /Contents, nothing more."""
    a, b, c, d = byte_range(data)
    return a == 0 and c + d == len(data) and re.fullmatch(rb"<[0-9a-fA-F]+>", data[a + b : c]) is not None


def signed_bytes(data: bytes) -> bytes:
    a, b, c, d = byte_range(data)
    return data[a : a + b] + data[c : c + d]


def _tlv(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of the contents, end) of the DER element at ``at``."""
    tag, first = der[at], der[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    n = first & 0x7F
    start = at + 2 + n
    return tag, start, start + int.from_bytes(der[at + 2 : start], "big")


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, contents start, end) of each element between ``start`` and ``end``."""
    found, at = [], start
    while at < end:
        tag, contents, stop = _tlv(der, at)
        found.append((tag, at, contents, stop))
        at = stop
    return found


def cms_of(data: bytes) -> bytes:
    """The DER CMS in /Contents, without the zero padding after it."""
    a, b, c, _ = byte_range(data)
    der = bytes.fromhex(data[a + b + 1 : c - 1].decode("ascii"))
    return der[: _tlv(der, 0)[2]]


def signer_info(cms: bytes) -> dict[str, bytes]:
    """The signed attributes (re-tagged as the SET that was signed), the signature and the embedded
    certificates of the one SignerInfo, found by walking the DER by hand."""
    _, _, contents, end = _children(cms, 0, len(cms))[0]  # ContentInfo
    oid, explicit = _children(cms, contents, end)
    assert cms[oid[1] : oid[3]] == bytes.fromhex("06092a864886f70d010702")  # id-signedData
    signed_data = _children(cms, explicit[2], explicit[3])[0]
    parts = _children(cms, signed_data[2], signed_data[3])
    certificates = [p for p in parts if p[0] == 0xA0]
    signer_infos = parts[-1]
    assert signer_infos[0] == 0x31
    (info,) = _children(cms, signer_infos[2], signer_infos[3])
    fields = _children(cms, info[2], info[3])
    attrs = next(f for f in fields if f[0] == 0xA0)
    signature = next(f for f in fields if f[0] == 0x04)
    certs = b"".join(cms[c[1] : c[3]] for cert in certificates for c in _children(cms, cert[2], cert[3]))
    return {
        "signed_attrs": b"\x31" + cms[attrs[1] + 1 : attrs[3]],
        "signature": cms[signature[2] : signature[3]],
        "certificates": certs,
    }


def attribute(signed_attrs: bytes, oid: bytes) -> bytes | None:
    """The first value of the signed attribute ``oid`` (its DER contents), or None."""
    for _, _, contents, end in _children(signed_attrs, _tlv(signed_attrs, 0)[1], len(signed_attrs)):
        (attr_oid, values) = _children(signed_attrs, contents, end)
        if signed_attrs[attr_oid[1] : attr_oid[3]] == oid:
            first = _children(signed_attrs, values[2], values[3])[0]
            return signed_attrs[first[2] : first[3]]
    return None


def openssl_verify(data: bytes, root_pem: bytes, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    (tmp_path / "sig.der").write_bytes(cms_of(data))
    (tmp_path / "content.bin").write_bytes(signed_bytes(data))
    (tmp_path / "root.pem").write_bytes(root_pem)
    command = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "sig.der")]
    command += ["-content", str(tmp_path / "content.bin"), "-CAfile", str(tmp_path / "root.pem")]
    command += ["-purpose", "any", "-out", str(tmp_path / "out.bin")]
    return subprocess.run(command, capture_output=True, timeout=60, check=False)


# -- the chain ---------------------------------------------------------------------------------------


def test_the_chain_is_a_p256_root_and_a_document_signing_leaf(chain: tuple[ps.DocumentSigner, bytes]) -> None:
    signer, root_pem = chain
    root, leaf = x509.load_pem_x509_certificate(root_pem), signer.certificate
    assert root == signer.ca_certificate
    assert root.subject == root.issuer and leaf.issuer == root.subject
    assert common_name(leaf) == f"{ORG} 电子证书签章"
    assert common_name(root) == "电子证书签章根证书"  # with ORG it would be 67 UTF-8 bytes, over 64
    for cert in (root, leaf):
        assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORG
    leaf.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    for cert in (root, leaf):
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha256"
        assert cert.not_valid_before_utc == START.replace(microsecond=0)
        assert cert.not_valid_after_utc == START.replace(year=START.year + 5, microsecond=0)
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    ekus = list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ps.ADOBE_AUTHENTIC_DOCUMENTS in ekus and ExtendedKeyUsageOID.EMAIL_PROTECTION not in ekus


def common_name(cert: x509.Certificate) -> str:
    value = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


@pytest.mark.parametrize(
    ("organisation", "root", "leaf"),
    [
        ("测试中心", "测试中心 电子证书签章根证书", "测试中心 电子证书签章"),
        ("人" * 15, "电子证书签章根证书", "人" * 15 + " 电子证书签章"),
        ("人" * 21, "电子证书签章根证书", "人" * 21),  # 63 bytes: the name alone is all that fits
        (
            "Beijing Vocational Skills Testing Centre",
            "电子证书签章根证书",
            "Beijing Vocational Skills Testing Centre 电子证书签章",
        ),
    ],
)
def test_common_names_hold_the_organisation_when_it_fits(organisation: str, root: str, leaf: str) -> None:
    signer, root_pem = ps.create_chain(organisation, now=START)
    assert (common_name(signer.ca_certificate), common_name(signer.certificate)) == (root, leaf)
    assert ps.validate_pdf(ps.sign_pdf(make_pdf(), signer, reason="r", location="l"), root_pem).ok


def test_each_chain_is_new(
    chain: tuple[ps.DocumentSigner, bytes], other_chain: tuple[ps.DocumentSigner, bytes]
) -> None:
    assert chain[1] != other_chain[1]
    assert chain[0].certificate.serial_number != other_chain[0].certificate.serial_number


@pytest.mark.parametrize(
    ("organisation", "years"),
    [("", 5), (" 前后空格 ", 5), ("换\n行", 5), ("机" * 22, 5), ("\u3000全角空格", 5), (ORG, 0), (ORG, 21)],
)
def test_bad_chain_requests_are_refused(organisation: str, years: int) -> None:
    with pytest.raises(InvalidInput):
        ps.create_chain(organisation, now=START, years=years)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInput):
        ps.create_chain(ORG, now=datetime(2026, 1, 1))  # naive on purpose


def test_the_signer_never_shows_its_key(chain: tuple[ps.DocumentSigner, bytes]) -> None:
    signer = chain[0]
    secret = signer.key.private_numbers().private_value
    for shown in (repr(signer), str(signer)):
        assert "<hidden>" in shown and str(secret) not in shown and f"{secret:x}" not in shown
    with pytest.raises(FrozenInstanceError):
        signer.key = signer.key  # type: ignore[misc]


def test_a_signer_whose_parts_do_not_belong_together_is_refused(
    chain: tuple[ps.DocumentSigner, bytes], other_chain: tuple[ps.DocumentSigner, bytes]
) -> None:
    mine, theirs = chain[0], other_chain[0]
    with pytest.raises(ConfigError) as caught:
        ps.DocumentSigner(mine.key, theirs.certificate, theirs.ca_certificate)
    assert caught.value.details["why"] == "key_mismatch"
    with pytest.raises(ConfigError) as caught:
        ps.DocumentSigner(mine.key, mine.certificate, theirs.ca_certificate)
    assert caught.value.details["why"] == "not_issued"
    with pytest.raises(ConfigError) as caught:
        ps.DocumentSigner(ec.generate_private_key(ec.SECP384R1()), mine.certificate, mine.ca_certificate)
    assert caught.value.details["why"] == "not_p256"


# -- signing and validating ---------------------------------------------------------------------------


def test_pyhanko_finds_the_signature_intact_valid_and_trusted(
    chain: tuple[ps.DocumentSigner, bytes], signed: bytes
) -> None:
    check = ps.validate_pdf(signed, chain[1])
    assert check.intact and check.valid and check.trusted and check.whole_file and check.ok
    assert (check.coverage, check.modification, check.problem) == ("ENTIRE_FILE", "NONE", None)
    assert check.signer_name == f"{ORG} 电子证书签章"
    assert check.signed_at is not None and abs(check.signed_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_the_original_bytes_are_kept_and_the_signature_is_pades(signed: bytes) -> None:
    assert signed.startswith(make_pdf())  # an incremental update: the rendered PDF is untouched
    assert re.search(rb"/SubFilter\s*/ETSI\.CAdES\.detached", signed) is not None
    value = PdfReader(io.BytesIO(signed)).get_fields()["Signature1"]["/V"]  # type: ignore[index]
    assert (value["/Reason"], value["/Location"]) == ("电子证书签发 / certificate issued", "北京")
    assert value["/Filter"] == "/Adobe.PPKLite" and value["/M"].startswith("D:")


def test_the_byte_range_covers_the_whole_file_but_the_signature(signed: bytes) -> None:
    a, b, c, d = byte_range(signed)
    assert covers_whole_file(signed)
    assert a == 0 and c + d == len(signed) and len(signed_bytes(signed)) == len(signed) - (c - b)


def test_openssl_verifies_the_cms_against_the_root(
    chain: tuple[ps.DocumentSigner, bytes], signed: bytes, tmp_path: Path
) -> None:
    result = openssl_verify(signed, chain[1], tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"Verification successful" in result.stderr
    assert (tmp_path / "out.bin").read_bytes() == signed_bytes(signed)


def test_cryptography_verifies_the_digest_and_the_ecdsa_signature(
    chain: tuple[ps.DocumentSigner, bytes], signed: bytes
) -> None:
    info = signer_info(cms_of(signed))
    digest = attribute(info["signed_attrs"], _OID_MESSAGE_DIGEST)
    assert digest == hashlib.sha256(signed_bytes(signed)).digest()
    assert attribute(info["signed_attrs"], _OID_SIGNING_TIME) is None  # PAdES: the time is /M
    leaf = chain[0].certificate
    assert leaf.public_bytes(serialization.Encoding.DER) in info["certificates"]
    public_key = leaf.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(info["signature"], info["signed_attrs"], ec.ECDSA(hashes.SHA256()))  # raises if bad


def test_a_chosen_signing_time_is_the_one_recorded(chain: tuple[ps.DocumentSigner, bytes]) -> None:
    when = (START + timedelta(hours=3)).replace(microsecond=0)
    check = ps.validate_pdf(
        ps.sign_pdf(make_pdf(), chain[0], reason="r", location="l", signed_at=when), chain[1]
    )
    assert check.ok and check.signed_at == when


def test_pypdf_still_reads_the_signed_pdf(signed: bytes) -> None:
    reader = PdfReader(io.BytesIO(signed))
    assert len(reader.pages) == 1
    assert TEXT in reader.pages[0].extract_text()
    fields = reader.get_fields()
    assert fields is not None and "Signature1" in fields


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize("where", ["header", "page text", "last byte"])
def test_one_changed_byte_breaks_the_signature(
    chain: tuple[ps.DocumentSigner, bytes], signed: bytes, tmp_path: Path, where: str
) -> None:
    at = {
        "header": signed.index(b"%PDF-") + 7,
        "page text": signed.index(TEXT.encode()),
        "last byte": len(signed) - 1,
    }[where]
    assert byte_range(signed)[1] > at or at >= byte_range(signed)[2]  # inside the signed range
    tampered = _flip(signed, at)
    check = ps.validate_pdf(tampered, chain[1])
    assert not check.intact and not check.ok and check.problem == "not_intact"
    assert (
        attribute(signer_info(cms_of(tampered))["signed_attrs"], _OID_MESSAGE_DIGEST)
        != hashlib.sha256(signed_bytes(tampered)).digest()
    )
    result = openssl_verify(tampered, chain[1], tmp_path)
    assert result.returncode != 0 and b"content verify error" in result.stderr


def test_a_signature_by_another_chain_is_not_trusted(
    chain: tuple[ps.DocumentSigner, bytes], other_chain: tuple[ps.DocumentSigner, bytes], tmp_path: Path
) -> None:
    foreign = ps.sign_pdf(make_pdf(), other_chain[0], reason="r", location="l")
    check = ps.validate_pdf(foreign, chain[1])
    assert check.intact and check.valid and not check.trusted
    assert not check.ok and check.problem == "untrusted"
    assert ps.validate_pdf(foreign, other_chain[1]).ok  # the same file against its own root
    result = openssl_verify(foreign, chain[1], tmp_path)
    assert result.returncode != 0 and b"certificate verify error" in result.stderr
    assert openssl_verify(foreign, other_chain[1], tmp_path).returncode == 0


def test_an_expired_certificate_is_not_trusted(chain: tuple[ps.DocumentSigner, bytes], signed: bytes) -> None:
    assert ps.validate_pdf(signed, chain[1], at=START + timedelta(days=30)).ok
    check = ps.validate_pdf(signed, chain[1], at=START + timedelta(days=6 * 366))
    assert check.intact and not check.trusted and check.problem == "untrusted"


def _append_with_pyhanko(signed: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 600 Td (FORGED GRADE A) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream))  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def _append_with_pypdf(signed: bytes) -> bytes:
    writer = PdfWriter(io.BytesIO(signed), incremental=True)
    writer.add_annotation(0, FreeText(text="FORGED", rect=(72, 500, 300, 540)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("append", [_append_with_pyhanko, _append_with_pypdf])
def test_an_update_appended_after_signing_is_detected(
    chain: tuple[ps.DocumentSigner, bytes], signed: bytes, tmp_path: Path, append: object
) -> None:
    assert callable(append)
    modified: bytes = append(signed)
    assert modified.startswith(signed) and len(modified) > len(signed)
    check = ps.validate_pdf(modified, chain[1])
    # The signed revision itself is untouched (intact, valid, trusted); what follows it is not signed.
    assert check.intact and check.valid and check.trusted
    assert not check.whole_file and not check.ok and check.problem == "modified"
    assert check.coverage == "ENTIRE_REVISION" and check.modification not in ("", "NONE")
    # The independent reading agrees: openssl accepts the CMS, which covers only the first revision,
    # which is exactly why the byte range must be checked against the file's length.
    assert not covers_whole_file(modified)
    assert openssl_verify(modified, chain[1], tmp_path).returncode == 0


@pytest.mark.parametrize("case", ["empty", "garbage", "header only", "truncated", "unsigned", "huge"])
def test_garbage_gives_a_failed_check_never_an_exception(
    chain: tuple[ps.DocumentSigner, bytes], signed: bytes, case: str
) -> None:
    data = {
        "empty": b"",
        "garbage": b"\x00\xff not a pdf at all" * 10,
        "header only": b"%PDF-1.7\n%%EOF\n",
        "truncated": signed[: len(signed) // 2],
        "unsigned": make_pdf(),
        "huge": b"%PDF-1.7\n" + b" " * (32 * 1024 * 1024),
    }[case]
    check = ps.validate_pdf(data, chain[1])
    assert (
        not check.ok and not check.intact and not check.valid and not check.trusted and not check.whole_file
    )
    expected = {"unsigned": "unsigned", "huge": "too_large"}.get(case, "unreadable")
    assert check.problem == expected


def test_two_signatures_are_refused(chain: tuple[ps.DocumentSigner, bytes], signed: bytes) -> None:
    with pytest.raises(InvalidInput):
        ps.sign_pdf(signed, chain[0], reason="again", location="l")
    # A second signature added behind the module's back, straight through pyhanko.
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    meta = signers.PdfSignatureMetadata(field_name="Signature2", md_algorithm="sha256")
    key = internal.translate_pyca_cryptography_key_to_asn1(chain[0].key)
    leaf = internal.translate_pyca_cryptography_cert_to_asn1(chain[0].certificate)
    store = SimpleCertificateStore.from_certs([])  # type: ignore[no-untyped-call]
    twice: bytes = signers.sign_pdf(writer, meta, signers.SimpleSigner(leaf, key, store)).getvalue()
    assert ps.validate_pdf(twice, chain[1]).problem == "several_signatures"


def test_a_bad_root_is_the_deployments_error(signed: bytes) -> None:
    with pytest.raises(ConfigError) as caught:
        ps.validate_pdf(signed, b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    assert caught.value.details["why"] == "bad_root"


@pytest.mark.parametrize(
    "case", ["garbage", "blank reason", "naive time", "before validity", "after validity"]
)
def test_sign_pdf_refuses(chain: tuple[ps.DocumentSigner, bytes], case: str) -> None:
    pdf, reason, when = make_pdf(), "签发", START + timedelta(hours=1)
    expected: type[Exception] = InvalidInput
    if case == "garbage":
        pdf = b"not a pdf"
    elif case == "blank reason":
        reason = "  "
    elif case == "naive time":
        when = datetime(2026, 1, 1)  # naive on purpose
    else:
        when = START - timedelta(days=1) if case == "before validity" else START + timedelta(days=6 * 366)
        expected = ConfigError
    with pytest.raises(expected):
        ps.sign_pdf(pdf, chain[0], reason=reason, location="北京", signed_at=when)


async def test_the_sync_api_refuses_to_run_inside_an_event_loop(
    chain: tuple[ps.DocumentSigner, bytes], signed: bytes
) -> None:
    with pytest.raises(RuntimeError):
        ps.validate_pdf(signed, chain[1])
    with pytest.raises(RuntimeError):
        ps.sign_pdf(make_pdf(), chain[0], reason="r", location="l")


# -- the key file -------------------------------------------------------------------------------------


def test_save_and_load_round_trip(chain: tuple[ps.DocumentSigner, bytes], tmp_path: Path) -> None:
    signer, root_pem = chain
    path = tmp_path / "document-signer.pem"
    ps.save_signer(signer, path, PASSPHRASE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_bytes()
    assert text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") and text.count(b"BEGIN CERTIFICATE") == 2
    assert b"BEGIN PRIVATE KEY" not in text and b"BEGIN EC PRIVATE KEY" not in text
    loaded = ps.load_signer(path, PASSPHRASE)
    assert loaded.key.private_numbers() == signer.key.private_numbers()
    assert (loaded.certificate, loaded.ca_certificate) == (signer.certificate, signer.ca_certificate)
    assert ps.validate_pdf(ps.sign_pdf(make_pdf(), loaded, reason="r", location="l"), root_pem).ok


def test_a_wrong_passphrase_is_refused(chain: tuple[ps.DocumentSigner, bytes], tmp_path: Path) -> None:
    path = tmp_path / "signer.pem"
    ps.save_signer(chain[0], path, PASSPHRASE)
    for wrong in (b"wrong horse battery staple", b""):
        with pytest.raises(ConfigError) as caught:
            ps.load_signer(path, wrong)
        assert caught.value.details["why"] == "wrong_passphrase"
        assert "口令" in caught.value.message_zh and "passphrase" in caught.value.message_en
        assert str(path) in caught.value.message_en
    assert b"horse" not in str(caught.value.to_json()).encode()


def test_an_existing_file_is_never_overwritten(
    chain: tuple[ps.DocumentSigner, bytes], tmp_path: Path
) -> None:
    path = tmp_path / "signer.pem"
    path.write_bytes(b"someone else's file")
    with pytest.raises(ConfigError) as caught:
        ps.save_signer(chain[0], path, PASSPHRASE)
    assert caught.value.details["why"] == "exists" and path.read_bytes() == b"someone else's file"
    path.unlink()
    ps.save_signer(chain[0], path, PASSPHRASE)
    first = path.read_bytes()
    with pytest.raises(ConfigError):
        ps.save_signer(chain[0], path, PASSPHRASE)
    assert path.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["signer.pem"]  # no temporary file left behind


def test_a_short_passphrase_is_refused(chain: tuple[ps.DocumentSigner, bytes], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ps.save_signer(chain[0], tmp_path / "signer.pem", b"short")
    assert not (tmp_path / "signer.pem").exists()


def _key_file(key: ec.EllipticCurvePrivateKey, *certs: x509.Certificate) -> bytes:
    encryption = serialization.BestAvailableEncryption(PASSPHRASE)
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return data + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def test_bad_key_files_are_refused(
    chain: tuple[ps.DocumentSigner, bytes], other_chain: tuple[ps.DocumentSigner, bytes], tmp_path: Path
) -> None:
    mine, theirs = chain[0], other_chain[0]
    plain = mine.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cases = {
        "key_mismatch": _key_file(mine.key, theirs.certificate, theirs.ca_certificate),
        "not_issued": _key_file(mine.key, mine.certificate, theirs.ca_certificate),
        "format": plain + mine.certificate.public_bytes(serialization.Encoding.PEM) * 2,
        "too_large": _key_file(mine.key, mine.certificate, mine.ca_certificate) + b"#" * (64 * 1024),
        "not_p256": _key_file(ec.generate_private_key(ec.SECP384R1()), mine.certificate, mine.ca_certificate),
    }
    for why, data in cases.items():
        path = tmp_path / f"{why}.pem"
        path.write_bytes(data)
        with pytest.raises(ConfigError) as caught:
            ps.load_signer(path, PASSPHRASE)
        assert caught.value.details == {"why": why, "path": str(path)}, why
    with pytest.raises(ConfigError) as caught:
        ps.load_signer(tmp_path / "missing.pem", PASSPHRASE)
    assert caught.value.details["why"] == "io"

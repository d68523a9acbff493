"""PAdES B-B signatures on certificate PDFs: the signing chain, its key file, signing and checking.

Not the Ed25519 QR key: Adobe and Foxit handle Ed25519 badly, so ECDSA P-256 with SHA-256, loaded only
by the offline signer, never a web worker. With no timestamp server, ``/M`` is the signer's claim and
signatures are judged at validation time. pyhanko's sync API runs its own event loop, so neither
function may run inside one (use ``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Final, TypeAlias, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier
from pyhanko.keys import internal as asn1
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from verify.crypto.signing import _check_passphrase, _create_file
from verify.domain.errors import ConfigError, InvalidInput
from verify.domain.text import check_text

_PADES: Final = SigSeedSubFilter.PADES
_Key: TypeAlias = ec.EllipticCurvePrivateKey
# Leaf EKUs (not emailProtection): Adobe Authentic Documents Trust, RFC 9336 id-kp-documentSigning.
ADOBE_AUTHENTIC_DOCUMENTS: Final = ObjectIdentifier("1.2.840.113583.1.1.5")
DOCUMENT_SIGNING: Final = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
_MAX_KEY_FILE_BYTES: Final = 64 * 1024  # a key file is about 2 KB; refusing more keeps a wrong path out
_MAX_PDF_BYTES: Final = 32 * 1024 * 1024  # a certificate PDF is a few hundred KB
_REFUSALS: Final = {  # details["why"] of a ConfigError: zh, en
    "not_p256": ("签章私钥不是 ECDSA P-256 密钥", "The signing key is not ECDSA P-256"),
    "key_mismatch": ("签章私钥与签章证书不匹配", "The signing key does not match its certificate"),
    "not_issued": ("签章证书不是由该根证书签发的", "The root did not issue the signing certificate"),
    "exists": ("签章密钥文件已存在，拒绝覆盖", "Refusing to overwrite the signing key file"),
    "io": ("无法读写签章密钥文件", "Cannot read or write the signing key file"),
    "too_large": ("文件过大，不是签章密钥文件", "Too large to be a signing key file"),
    "format": ("签章密钥文件应含一个加密私钥和两张证书", "Not one encrypted key and two certificates"),
    "wrong_passphrase": ("口令错误或文件损坏，无法解密签章私钥", "Wrong passphrase or corrupt file"),
    "not_valid_then": ("签章证书在该时间不在有效期内", "The signing certificate is not valid at that time"),
    "bad_root": ("签章根证书不是有效的 PEM 证书", "The signing root is not a PEM certificate"),
}


@dataclass(frozen=True, slots=True, repr=False)
class DocumentSigner:
    """The P-256 signing key, its leaf certificate and the root CA certificate that issued the leaf.
    Raises ConfigError if the key is not P-256, does not match the leaf, or the root did not sign it."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    ca_certificate: x509.Certificate

    def __post_init__(self) -> None:
        if not isinstance(self.key, ec.EllipticCurvePrivateKey) or self.key.curve.name != "secp256r1":
            raise _refused("not_p256")
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if self.key.public_key().public_bytes(*spki) != self.certificate.public_key().public_bytes(*spki):
            raise _refused("key_mismatch")
        try:
            self.certificate.verify_directly_issued_by(self.ca_certificate)
        except (ValueError, TypeError, InvalidSignature):
            raise _refused("not_issued") from None

    def __repr__(self) -> str:  # spelled out: no future field can leak key material into a log
        return f"DocumentSigner(subject={self.certificate.subject.rfc4514_string()!r}, key=<hidden>)"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What ``validate_pdf`` found: ``intact`` (the signed bytes match the signed digest), ``valid`` (the
    CMS signature verifies), ``trusted`` (chain to the root at the validation time), ``whole_file``
    (nothing appended); ``problem`` is the first failed check, one of too_large, unreadable, unsigned,
    several_signatures, not_intact, invalid, untrusted, modified, policy."""

    intact: bool = False
    valid: bool = False
    trusted: bool = False
    whole_file: bool = False
    coverage: str = ""
    modification: str = ""
    signer_name: str = ""
    signed_at: datetime | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def create_chain(organisation: str, *, now: datetime, years: int = 5) -> tuple[DocumentSigner, bytes]:
    """A new self-signed root CA and a leaf signing certificate it issued, both valid ``years`` from
    ``now``; returns the signer and the root's PEM (to publish, so that anyone can validate). Raises
    InvalidInput if ``organisation`` is not printable, is padded or over 64 UTF-8 bytes (21 Chinese
    characters), ``now`` is naive, or ``years`` is not 1 to 20."""
    one_line = organisation.isprintable() and organisation.strip() == organisation
    if not (one_line and 0 < len(organisation.encode()) <= 64 and 1 <= years <= 20):
        raise InvalidInput("机构名称（至多 64 字节）或有效期（1–20 年）无效", "Bad organisation or years")
    start = _aware(now, "now").astimezone(UTC).replace(microsecond=0)
    try:
        end = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + years, day=28)
    org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)
    unit = x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Document signing root")
    root_name = x509.Name([org, unit, _cn(f"{organisation} 电子证书签章根证书", "电子证书签章根证书")])
    leaf_name = x509.Name([org, _cn(f"{organisation} 电子证书签章", organisation)])
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = _certificate(root_name, root_key, root_name, root_key, start, end)
    leaf = _certificate(leaf_name, key, root_name, root_key, start, end)
    # The root's key is dropped, never stored: the root is a published anchor and rotation makes a new
    # chain, so it never issues again, and a key that no longer exists cannot mint a second signer.
    del root_key
    return DocumentSigner(key, leaf, root), root.public_bytes(serialization.Encoding.PEM)


def save_signer(signer: DocumentSigner, path: Path, passphrase: bytes) -> None:
    """Write ``path``: the key as passphrase-encrypted PKCS#8 PEM, then the leaf and root certificates,
    mode 0600, atomically, never replacing a file. Raises ConfigError (zh+en, ``details["why"]``) if
    the passphrase is not 12 to 1023 bytes, or the file exists or cannot be written."""
    _check_passphrase(passphrase)
    pem, encryption = serialization.Encoding.PEM, serialization.BestAvailableEncryption(passphrase)
    data = signer.key.private_bytes(pem, serialization.PrivateFormat.PKCS8, encryption)
    data += signer.certificate.public_bytes(pem) + signer.ca_certificate.public_bytes(pem)
    try:
        # mkstemp: O_EXCL, mode 0600; then a hard link, which unlike a rename never replaces a file.
        _create_file(path, data, 0o600)
    except FileExistsError:
        raise _refused("exists", path) from None
    except OSError as exc:
        raise _refused("io", path, exc.strerror) from None


def load_signer(path: Path, passphrase: bytes) -> DocumentSigner:
    """Read a file written by ``save_signer``. Raises ConfigError (zh+en, ``details["why"]``) if it is
    unreadable, over 64 KiB, not an encrypted key and two certificates, the passphrase is wrong (or the
    file damaged), or the key is not P-256 or does not match the leaf that the root issued."""
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise _refused("io", path, exc.strerror) from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise _refused("too_large", path)
    pems = data.count(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), data.count(b"-----BEGIN CERTIFICATE-----")
    if pems != (1, 2):
        raise _refused("format", path)
    try:
        certs = x509.load_pem_x509_certificates(data)
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # cryptography reports a wrong passphrase and a damaged file alike; one honest message for both.
        raise _refused("wrong_passphrase", path) from None
    try:  # DocumentSigner checks the key's type and curve, and that key, leaf and root belong together
        return DocumentSigner(cast(ec.EllipticCurvePrivateKey, key), *certs)
    except ConfigError as exc:
        raise _refused(exc.details["why"], path) from None


def sign_pdf(
    pdf: bytes, signer: DocumentSigner, *, reason: str, location: str, signed_at: datetime | None = None
) -> bytes:
    """``pdf`` plus an invisible PAdES B-B signature (ECDSA P-256, SHA-256) in an incremental update;
    ``signed_at`` (default now) becomes ``/M``. Raises InvalidInput if ``reason`` or ``location`` is
    blank or refused by check_text, ``signed_at`` is naive, or ``pdf`` is unreadable or already signed;
    ConfigError if the certificate is not valid at ``signed_at``; RuntimeError in a running event loop."""
    _no_running_loop()
    for name, text in (("reason", reason), ("location", location)):
        if not check_text(text, name).strip():
            raise InvalidInput(f"签章{name}不能为空", f"The signature {name} must not be empty")
    moment = datetime.now(UTC) if signed_at is None else _aware(signed_at, "signed_at")
    cert = signer.certificate
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        raise _refused("not_valid_then", cause=f"{cert.not_valid_before_utc} – {cert.not_valid_after_utc}")
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", md_algorithm="sha256", reason=reason, location=location, subfilter=_PADES
    )
    to_asn1, key = asn1.translate_pyca_cryptography_cert_to_asn1, signer.key
    store = SimpleCertificateStore.from_certs([to_asn1(signer.ca_certificate)])  # type: ignore[no-untyped-call]
    simple = signers.SimpleSigner(to_asn1(cert), asn1.translate_pyca_cryptography_key_to_asn1(key), store)
    pdf_signer = _TimedPdfSigner(meta, simple)
    pdf_signer.moment = moment
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
        if writer.prev.embedded_signatures:
            raise InvalidInput("PDF 已经签过章", "The PDF is already signed")
        signed: bytes = pdf_signer.sign_pdf(writer).getvalue()
    except (PdfError, SigningError) as exc:
        why = {"why": str(exc)[:200]}
        raise InvalidInput("PDF 无法读取或签章", "The PDF cannot be read or signed", details=why) from None
    return signed


def validate_pdf(pdf: bytes, root_pem: bytes, *, at: datetime | None = None) -> SignatureCheck:
    """Check the one signature of ``pdf`` against the published root ``root_pem`` at ``at`` (default now),
    fetching nothing. Never raises for anything in ``pdf``: garbage, a tampered file, no signature or
    several give a failed SignatureCheck. Raises ConfigError if ``root_pem`` is not a PEM certificate
    (the deployment's mistake), InvalidInput if ``at`` is naive, RuntimeError in a running event loop."""
    _no_running_loop()
    try:
        root = asn1.translate_pyca_cryptography_cert_to_asn1(x509.load_pem_x509_certificate(root_pem))
    except (ValueError, TypeError):
        raise _refused("bad_root") from None
    context = ValidationContext(trust_roots=[root], allow_fetching=False, moment=at and _aware(at, "at"))
    if len(pdf) > _MAX_PDF_BYTES:
        return SignatureCheck(problem="too_large")
    try:
        signatures = PdfFileReader(BytesIO(pdf)).embedded_signatures
        if len(signatures) != 1:
            return SignatureCheck(problem="several_signatures" if signatures else "unsigned")
        status = validate_pdf_signature(signatures[0], context)
        name = str(status.signing_cert.subject.native.get("common_name", ""))
    except Exception:  # a hostile file can make the parser raise anything; we promise a verdict
        return SignatureCheck(problem="unreadable")
    level = status.modification_level
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE and level == ModificationLevel.NONE
    checks = [("not_intact", status.intact), ("invalid", status.valid), ("untrusted", status.trusted)]
    checks += [("modified", whole), ("policy", status.bottom_line)]
    problem = next((slug for slug, passed in checks if not passed), None)
    coverage = "" if status.coverage is None else status.coverage.name
    modification, signed_at = "" if level is None else level.name, status.signer_reported_dt
    return SignatureCheck(
        status.intact, status.valid, status.trusted, whole, coverage, modification, name, signed_at, problem
    )


class _TimedPdfSigner(signers.PdfSigner):
    """pyhanko's PdfSigner with a chosen signing time (it otherwise always reads the clock)."""

    moment: datetime

    def init_signing_session(
        self, pdf_out: BasePdfFileWriter, existing_fields_only: bool = False
    ) -> signers.pdf_signer.PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self.moment
        return session


def _refused(why: str, path: Path | None = None, cause: str | None = None) -> ConfigError:
    zh, en = _REFUSALS[why]
    extra = [str(x) for x in (cause, path) if x]
    details = {"why": why} | ({"path": str(path)} if path else {})
    return ConfigError("：".join([zh, *extra]), ": ".join([en, *extra]), details=details)


def _no_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError("pyhanko's synchronous API cannot run inside an event loop; use asyncio.to_thread")


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{name} 必须带时区（例如 UTC 或 +08:00）", f"{name} must be timezone-aware")
    return moment


def _cn(*choices: str) -> x509.NameAttribute[str]:
    """The first choice that fits: cryptography allows 64 UTF-8 bytes (21 Chinese characters)."""
    return x509.NameAttribute(NameOID.COMMON_NAME, next(c for c in choices if len(c.encode()) <= 64))


def _certificate(
    subject: x509.Name, key: _Key, issuer: x509.Name, issuer_key: _Key, start: datetime, end: datetime
) -> x509.Certificate:
    """The self-signed root CA certificate if ``subject`` is ``issuer``, else the leaf that it issues."""
    ca, public = subject == issuer, key.public_key()
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
    builder = builder.serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
    constraints = x509.BasicConstraints(ca=ca, path_length=0 if ca else None)
    # digitalSignature, nonRepudiation (content commitment), 3 × no, keyCertSign, cRLSign, 2 × no
    usage = x509.KeyUsage(not ca, not ca, False, False, False, ca, ca, False, False)
    builder = builder.add_extension(constraints, critical=True).add_extension(usage, critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
    builder = builder.add_extension(aki, critical=False)
    if not ca:
        eku = x509.ExtendedKeyUsage([ADOBE_AUTHENTIC_DOCUMENTS, DOCUMENT_SIGNING])
        builder = builder.add_extension(eku, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())

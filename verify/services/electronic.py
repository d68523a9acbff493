"""Electronic certificates: the document-signing chain's files and the PAdES signature on a
certificate's PDF. Only the signer (the CLI on the machine with the keys) calls this; the web
workers serve what it stored (docs/CERTIFICATES.md, DECISIONS D60)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from verify.config import Settings
from verify.crypto import pdf_signature
from verify.crypto.pdf_signature import DocumentSigner, SignatureCheck
from verify.domain.channels import Channels
from verify.domain.errors import ConfigError
from verify.domain.printed import Printed
from verify.render import certificate

__all__ = [
    "DocumentSigner",
    "Documents",
    "available",
    "check",
    "create",
    "load",
    "make",
    "root_path",
    "sign",
    "signer_path",
]

SIGNER_FILE = "document-signer.pem"
ROOT_FILE = "document-root.pem"
REASON = "电子证书 / electronic certificate"


def signer_path(settings: Settings) -> Path:
    return settings.signing_keys_dir / SIGNER_FILE


def root_path(settings: Settings) -> Path:
    """The published root certificate anyone validates the signatures against."""
    return settings.public_keys_dir / ROOT_FILE


def create(settings: Settings, passphrase: bytes, organisation: str, *, now: datetime) -> Path:
    """A new chain: the leaf's key file (encrypted, 0600) and the root's PEM, published. Raises
    ConfigError when a chain exists (rotation is a new chain, made after moving the old one away),
    InvalidInput for an organisation name too long for a certificate."""
    if signer_path(settings).exists():
        raise ConfigError(f"电子证书签章密钥已存在：{signer_path(settings)}",
                          f"the document-signing key exists: {signer_path(settings)}")  # fmt: skip
    signer, root_pem = pdf_signature.create_chain(organisation, now=now)
    signer_path(settings).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pdf_signature.save_signer(signer, signer_path(settings), passphrase)
    root_path(settings).parent.mkdir(parents=True, exist_ok=True)
    root_path(settings).write_bytes(root_pem)
    return root_path(settings)


def load(settings: Settings, passphrase: bytes) -> DocumentSigner:
    """The document signer. Raises ConfigError (missing file, wrong passphrase, damaged)."""
    if not signer_path(settings).exists():
        raise ConfigError(
            "没有电子证书签章密钥：运行 verify keys document",
            "no document-signing key: run verify keys document",
        )
    return pdf_signature.load_signer(signer_path(settings), passphrase)


def sign(pdf: bytes, signer: DocumentSigner, *, location: str) -> bytes:
    """``pdf`` with a PAdES signature. Raises InvalidInput for an unreadable or signed PDF."""
    return pdf_signature.sign_pdf(pdf, signer, reason=REASON, location=location)


def available(settings: Settings) -> bool:
    """True when this machine holds a document-signing key: its signer then makes the electronic
    certificates of what it publishes and corrects."""
    return signer_path(settings).exists()


def make(page: Printed, signer: DocumentSigner, *, location: str) -> bytes:
    """The electronic certificate of ``page``: its PDF, PAdES-signed. Raises ValueError (a character
    no font has), OSError (a font file missing), InvalidInput (as ``sign``)."""
    return sign(certificate.render(page, "pdf"), signer, location=location)


def check(pdf: bytes, settings: Settings) -> SignatureCheck:
    """The signature of ``pdf`` against the published root. Raises ConfigError without a root."""
    return pdf_signature.validate_pdf(pdf, root_path(settings).read_bytes())


@dataclass(frozen=True, slots=True)
class Documents:
    """What a signer needs to make electronic certificates: the document signer, and the service's
    address and query channels the pages print."""

    signer: DocumentSigner
    public_url: str
    channels: Channels

    @classmethod
    def of(cls, settings: Settings, passphrase: bytes) -> Documents | None:
        """The settings' document signer, or None when this machine has no document-signing key.
        Raises ConfigError (wrong passphrase, damaged file)."""
        if not available(settings):
            return None
        return cls(load(settings, passphrase), settings.public_url, settings.channels)

    def make(self, page: Printed) -> bytes:
        return make(page, self.signer, location=self.public_url)

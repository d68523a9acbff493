"""Printed and electronic certificates: the worded pages of published certificates.

The render itself (``verify.render``) is CPU work the caller runs where it fits: the CLI on all
cores, the web workers in a thread. A page with the ID in full is a non-public read of personal
data and is audited before it is returned (rule 60); public copies print it masked (D60).
"""

from __future__ import annotations

from verify.crypto.idprotect import IdProtector
from verify.db import audit, prints
from verify.db.pool import Pool
from verify.domain import codes, payload
from verify.domain.channels import Channels
from verify.domain.errors import NotFound
from verify.domain.printed import Printed, printed


class Printing:
    pool: Pool
    protector: IdProtector

    async def printed_pages(
        self,
        numbers: list[str],
        *,
        public_url: str,
        channels: Channels,
        full_id: bool = False,
        actor: str | None = None,
        role: str | None = None,
        reason: str | None = None,
    ) -> list[Printed]:
        """The pages of the published certificates among ``numbers`` (in their order; the others are
        left out, so a caller compares lengths). ``full_id`` decrypts the ID for the institution's
        print run and needs ``actor``: audited first, one entry for the whole run."""
        wanted = [codes.normalize(n) for n in numbers]
        if full_id:
            await audit.audit(self.pool, actor or "unknown", "certificates.print", None,
                              {"certificates": len(wanted), "first": wanted[0] if wanted else None},
                              role=role, reason=reason)  # fmt: skip
        async with self.pool.acquire() as conn:
            rows = await prints.print_rows(conn, wanted) if wanted else []
        pages = []
        for row in rows:
            cert = row.published.certificate
            id_number = (
                self.protector.decrypt(cert.id_cipher, aad=cert.number.encode())[1] if full_id else None
            )
            pages.append(printed(
                cert, issuer=row.published.issuer.name, parent_issuer=row.parent_name, id_number=id_number,
                qr_url=payload.qr_url(public_url, row.payload), certificate_site=channels.certificate_site,
                institution_site=channels.institution_site, province_site=channels.province_site,
            ))  # fmt: skip
        return pages

    async def printed_page(self, number: str, *, public_url: str, channels: Channels) -> Printed:
        """The public copy of one published certificate's page (ID masked). Raises NotFound."""
        pages = await self.printed_pages([number], public_url=public_url, channels=channels)
        if not pages:
            raise NotFound("该证书未发布或尚未签名", "the certificate is not published or not signed")
        return pages[0]

    async def batch_certificates(self, batch_public_id: str) -> list[str]:
        """The numbers of a published batch's certificates. Raises NotFound."""
        async with self.pool.acquire() as conn:
            numbers = await prints.batch_numbers(conn, batch_public_id)
        if numbers is None:
            raise NotFound(
                f"没有已发布的批次 {batch_public_id[:40]}", f"no published batch {batch_public_id[:40]}"
            )
        return numbers

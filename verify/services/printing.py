"""Printed and electronic certificates: the worded pages of published certificates.

The render itself (``verify.render``) is CPU work the caller runs where it fits: the CLI on all
cores, the web workers in a thread. A page with the ID in full is a non-public read of personal
data and is audited before it is returned (rule 60); public copies print it masked (D60).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date

from verify.crypto.idprotect import IdProtector
from verify.db import audit, prints
from verify.db.batches import BatchRow
from verify.db.pool import Executor, Pool
from verify.domain import codes, payload
from verify.domain.accounts import Action, Principal
from verify.domain.channels import Channels
from verify.domain.errors import InvalidInput, InvalidPhoto, InvalidTransition, NotFound, Problem
from verify.domain.holder_ids import IdType, validate_id
from verify.domain.printed import Printed, printed
from verify.files.photo_archive import read_photo_archive
from verify.render.photo import validate_photo

# Certificates one print-run archive holds: about 15 s of rendering in a web worker's thread; a
# larger batch is fetched in parts (``part``), or rendered on all cores with ``verify render --batch``.
PRINT_PART = 500
# Electronic certificates a signer makes in one transaction: a few seconds of rendering and signing,
# so publications waiting behind them are not held up for long.
ELECTRONIC_ROUND = 100


class Printing:
    pool: Pool
    protector: IdProtector
    today: Callable[[], date]
    _batch_for: Callable[[Principal, str, Action], Awaitable[BatchRow]]  # verify.services.review

    async def printed_pages(
        self,
        numbers: list[str],
        *,
        public_url: str,
        channels: Channels,
        full_id: bool = False,
        with_photo: bool = False,
        actor: str | None = None,
        role: str | None = None,
        reason: str | None = None,
    ) -> list[Printed]:
        """The pages of the published certificates among ``numbers`` (in their order; the others are
        left out, so a caller compares lengths). ``full_id`` decrypts the ID for the institution's
        print run and needs ``actor``: audited first, one entry for the whole run. ``with_photo``
        puts the holder's photo on the page (the print run and the signed electronic copy only)."""
        wanted = [codes.normalize(n) for n in numbers]
        if full_id:
            await audit.audit(self.pool, actor or "unknown", "certificates.print", None,
                              {"certificates": len(wanted), "first": wanted[0] if wanted else None},
                              role=role, reason=reason)  # fmt: skip
        async with self.pool.acquire() as conn:
            return await self._pages(
                conn, wanted, public_url=public_url, channels=channels, full_id=full_id, with_photo=with_photo
            )

    async def _pages(
        self, conn: Executor, wanted: list[str], *, public_url: str, channels: Channels, full_id: bool,
        with_photo: bool, only_active: bool = False,
    ) -> list[Printed]:  # fmt: skip
        rows = await prints.print_rows(conn, wanted) if wanted else []
        if only_active:
            rows = [r for r in rows if r.published.status == "active"]
        photos = await prints.photos_of(conn, wanted) if with_photo and wanted else {}
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
                photo=photos.get(cert.number), payload_sha256=payload.digest(row.payload),
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

    async def add_photos(
        self, batch_public_id: str, archive: bytes, filename: str, *, actor: str
    ) -> dict[str, int]:
        """Store the holder photos of a ZIP for the batch's certificates, all or none: every entry
        is named by a certificate number or ID number of the batch and passes ``validate_photo``.
        Raises BadFile / InvalidPhoto (with every problem, nothing stored), NotFound."""
        files = read_photo_archive(archive, filename)
        async with self.pool.acquire() as conn:
            numbers = set(await prints.batch_numbers(conn, batch_public_id) or ())
            if not numbers:
                raise NotFound(
                    f"没有已发布的批次 {batch_public_id[:40]}", f"no published batch {batch_public_id[:40]}"
                )
            by_index = await prints.id_index_numbers(conn, batch_public_id)
        found: list[tuple[str, bytes, str, int, int]] = []
        problems: list[Problem] = []
        for f in files:
            number = f.key if f.key in numbers else self._number_by_id(f.key, by_index)
            if number is None:
                problems.append(Problem("photo_no_certificate", f"{f.name[:80]}：本批次没有此证书编号或证件号码",
                                        f"{f.name[:80]}: no certificate or ID number of this batch"))  # fmt: skip
                continue
            try:
                photo = validate_photo(f.data, name=f.name)
            except InvalidPhoto as exc:
                problems.extend(exc.problems)
                continue
            found.append((number, photo.jpeg, photo.sha256, photo.width, photo.height))
        if problems or not found:
            raise InvalidPhoto("照片未保存：请改正以下问题后重新上传整个压缩包",
                               "no photo was stored: correct these and upload the whole archive again",
                               problems=problems or [Problem("photo_none", "压缩包中没有照片", "no photo in the archive")])  # fmt: skip
        async with self.pool.acquire() as conn, conn.transaction():
            await prints.put_photos(conn, found, actor)
            # The signed electronic copies are remade with the photo on them (the signer's queue).
            await prints.queue_electronic(conn, [f[0] for f in found])
            await audit.audit(conn, actor, "photos.add", batch_public_id, {"photos": len(found)})
        return {"photos": len(found)}

    async def add_batch_photos(
        self, principal: Principal, batch_public_id: str, archive: bytes, filename: str
    ) -> dict[str, int]:
        """``add_photos`` for an institution's own published batch (the API's photo upload).
        Raises NotFound (not its batch), RoleNotAllowed, InvalidTransition (not published), and
        what ``add_photos`` raises."""
        batch = await self._batch_for(principal, batch_public_id, Action.BATCH_UPLOAD)
        if batch.state != "published":
            raise InvalidTransition(f"批次 {batch.public_id} 尚未发布，发布后再上传照片",
                                    f"batch {batch.public_id} is not published yet: upload its photos after publication",
                                    details={"state": batch.state, "action": "photos"})  # fmt: skip
        return await self.add_photos(batch.public_id, archive, filename, actor=principal.actor)

    def _number_by_id(self, key: str, by_index: dict[bytes, str]) -> str | None:
        for id_type in IdType:
            try:
                canonical = validate_id(key, id_type, today=self.today())
            except InvalidInput:
                continue
            number = by_index.get(self.protector.blind_index(id_type, canonical))
            if number is not None:
                return number
        return None

    async def store_electronic(self, page: Printed, pdf: bytes) -> None:
        """Keep a signed electronic certificate of ``page`` for the web workers to serve on the QR's
        path of the version it shows."""
        async with self.pool.acquire() as conn:
            await prints.put_electronic(conn, page.number, pdf, page.photo_sha256, page.payload_sha256)

    async def electronic_certificate(self, number: str, payload_bytes: bytes) -> bytes | None:
        """The stored electronic certificate made for this signed payload, if any."""
        async with self.pool.acquire() as conn:
            return await prints.electronic(conn, number, payload.digest(payload_bytes))

    async def queue_electronic_batch(self, batch_public_id: str) -> int:
        """Queue a batch's certificates for their electronic certificates; returns how many."""
        async with self.pool.acquire() as conn:
            return await prints.queue_electronic_batch(conn, batch_public_id)

    async def queue_electronic(self, numbers: list[str]) -> None:
        async with self.pool.acquire() as conn:
            await prints.queue_electronic(conn, numbers)

    async def sign_queued_electronic(
        self,
        make: Callable[[Printed], bytes],
        *,
        public_url: str,
        channels: Channels,
        limit: int = ELECTRONIC_ROUND,
    ) -> tuple[int, list[tuple[str, str]]]:
        """Make and store the electronic certificates of up to ``limit`` queued certificates:
        ``make`` turns a page (ID masked, photo on it) into the signed PDF, in a thread. Returns
        (how many were stored, [(number, why)] that could not be made). A certificate no longer
        active leaves the queue unsigned (its QR's path serves no certificate file). All in one
        transaction: a crash leaves the queue as it was."""
        async with self.pool.acquire() as conn, conn.transaction():
            numbers = await prints.take_electronic(conn, limit)
            pages = await self._pages(conn, numbers, public_url=public_url, channels=channels,
                                      full_id=False, with_photo=True, only_active=True)  # fmt: skip
            made = await asyncio.to_thread(_make_all, make, pages)
            failed = []
            for page, pdf, why in made:
                if pdf is None:
                    failed.append((page.number, why))
                    continue
                await prints.put_electronic(conn, page.number, pdf, page.photo_sha256, page.payload_sha256)
        return len(made) - len(failed), failed

    async def print_run_part(
        self,
        principal: Principal,
        batch_public_id: str,
        part: int,
        *,
        public_url: str,
        channels: Channels,
        request_id: str | None = None,
    ) -> tuple[list[Printed], int]:
        """The pages (ID in full, photos) of part ``part`` of the institution's own published batch,
        and the number of parts. Audited. Raises NotFound (not its batch, not published, no such
        part), RoleNotAllowed, InvalidTransition (not published)."""
        batch = await self._batch_for(principal, batch_public_id, Action.BATCH_PRINT)
        if batch.state != "published":
            raise InvalidTransition(f"批次 {batch.public_id} 尚未发布，不能打印", f"batch {batch.public_id} is not published yet",
                                    details={"state": batch.state, "action": "print"})  # fmt: skip
        numbers = await self.batch_certificates(batch_public_id)
        parts = max(1, -(-len(numbers) // PRINT_PART))
        if not 0 <= part < parts:
            raise NotFound(f"没有第 {part} 部分（共 {parts} 部分）", f"no part {part} (there are {parts})")
        chunk = numbers[part * PRINT_PART : (part + 1) * PRINT_PART]
        pages = await self.printed_pages(
            chunk, public_url=public_url, channels=channels, full_id=True, with_photo=True,
            actor=principal.actor, role=principal.role.value, reason=f"print run {batch_public_id} part {part}",
        )  # fmt: skip
        return pages, parts


def _make_all(
    make: Callable[[Printed], bytes], pages: list[Printed]
) -> list[tuple[Printed, bytes | None, str]]:
    """Each page's signed PDF, or None and why: one page that cannot be made never stops the rest."""
    made: list[tuple[Printed, bytes | None, str]] = []
    for page in pages:
        try:
            made.append((page, make(page), ""))
        except (ValueError, OSError, InvalidInput) as exc:
            made.append((page, None, str(exc)))
    return made

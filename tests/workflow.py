"""The review workflow for tests that need published certificates: a reviewer account approves
the batch (rule 32), then it is published, as the signer would."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from verify.crypto.issuance import SignerLike
from verify.db import accounts
from verify.domain.accounts import Principal
from verify.domain.errors import Conflict
from verify.services.registry import Registry

REVIEWER = "t-reviewer"


async def reviewer(registry: Registry, login: str = REVIEWER, jurisdiction: str = "41") -> Principal:
    """A province-wide (or city) reviewer account, created on first use."""
    with contextlib.suppress(Conflict):
        await registry.add_account(
            login,
            "reviewer",
            display_name=f"测试审核 {login}",
            jurisdiction=jurisdiction,
            by=None,
            actor="test",
        )
    return (await accounts.get_account(registry.pool, login)).principal("token")


async def approve(registry: Registry, batch_id: str) -> dict[str, Any]:
    return await registry.approve_batch(await reviewer(registry), batch_id)


async def publish_batch(
    registry: Registry, batch_id: str, *, signer: SignerLike, actor: str = "t"
) -> dict[str, Any]:
    """Approve and publish ``batch_id``: what a reviewer and the signer do."""
    await approve(registry, batch_id)
    return await registry.publish(batch_id, actor=actor, signer=signer)


async def account_token(
    registry: Registry,
    role: str,
    *,
    institution: str | None = None,
    jurisdiction: str | None = None,
    manager: bool = False,
    login: str | None = None,
) -> str:
    """A fresh account of ``role`` and an API token for it."""
    name = login or f"t-{role[:4]}-{secrets.token_hex(4)}"
    await registry.add_account(
        name, role, display_name=name, institution_code=institution, jurisdiction=jurisdiction, manager=manager,
        by=None, actor="test",
    )  # fmt: skip
    issued = await registry.issue_account_token(name, label="test", by=None, actor="test")
    return str(issued["token"])


async def institution_token(registry: Registry, code: str, *, manager: bool = False) -> str:
    """An API token of a new account of institution ``code``."""
    return await account_token(registry, "institution", institution=code, manager=manager)

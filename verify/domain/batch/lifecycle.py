"""The states of a result batch and the moves between them (rules 31, 32).

```
submitted ──approve──► approved ──publish──► published
    ├──────reject────► rejected
    └─────withdraw───► withdrawn
```

A certificate is publicly valid only once its batch is published, and a batch is published only
after a reviewing centre approved it (rule 32). Rejected and withdrawn batches keep their rows
(nothing is deleted, rule 37) but never become public; the institution uploads a corrected file
as a new batch.
"""

from __future__ import annotations

from enum import StrEnum

from verify.domain.errors import InvalidTransition


class BatchState(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    PUBLISHED = "published"


class BatchMove(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    PUBLISH = "publish"


STATE_LABELS: dict[BatchState, tuple[str, str]] = {
    BatchState.SUBMITTED: ("待审核", "awaiting review"),
    BatchState.APPROVED: ("已审核，待发布", "approved, awaiting publication"),
    BatchState.REJECTED: ("已驳回", "rejected"),
    BatchState.WITHDRAWN: ("已撤回", "withdrawn"),
    BatchState.PUBLISHED: ("已发布", "published"),
}

MOVES: dict[tuple[BatchState, BatchMove], BatchState] = {
    (BatchState.SUBMITTED, BatchMove.APPROVE): BatchState.APPROVED,
    (BatchState.SUBMITTED, BatchMove.REJECT): BatchState.REJECTED,
    (BatchState.SUBMITTED, BatchMove.WITHDRAW): BatchState.WITHDRAWN,
    (BatchState.APPROVED, BatchMove.PUBLISH): BatchState.PUBLISHED,
}

_WHY: dict[BatchMove, tuple[str, str]] = {
    BatchMove.APPROVE: ("只有待审核的批次可以审核通过", "only a batch awaiting review can be approved"),
    BatchMove.REJECT: ("只有待审核的批次可以驳回", "only a batch awaiting review can be rejected"),
    BatchMove.WITHDRAW: ("只有尚未审核的批次可以撤回", "only a batch not yet reviewed can be withdrawn"),
    BatchMove.PUBLISH: ("只有审核通过的批次可以发布", "only an approved batch can be published"),
}


def after(state: str, move: BatchMove) -> BatchState:
    """The state ``move`` leads to from ``state``. Raises InvalidTransition (with the state it is
    in, so a re-approval, a publish before approval or a late withdrawal each say what happened)."""
    current = BatchState(state)
    target = MOVES.get((current, move))
    if target is None:
        zh, en = _WHY[move]
        now_zh, now_en = STATE_LABELS[current]
        raise InvalidTransition(
            f"{zh}；该批次当前状态为“{now_zh}”",
            f"{en}; the batch is {now_en}",
            details={"state": current.value, "action": move.value},
        )
    return target

"""The outcomes of verifying a scanned certificate, in one table: every text, tone and icon of each.

The API (``message``), the landing page (``headline``, tone, icon, ``next_step``) and the tests all
read this table; adding an outcome means adding one entry here and its case in
``verify.domain.verification``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Text:
    """One text in Chinese (first) and English."""

    zh: str
    en: str

    def pick(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def to_json(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True, slots=True)
class Outcome:
    slug: str
    message: Text  # the full sentence (API ``message``)
    headline: Text  # the page's large verdict
    tone: str  # ok | warn | bad | info: the page's colour
    icon: str  # name of the icon in web/templates/icons.html
    next_step: Text  # what the person holding the phone should do


# Issued certificates outlive their issuer's status (rule 38), so the issuer outcomes all say the same.
_ISSUER_ONLY = Text(
    "证书本身仍然有效；发证机构的状态变化不影响已颁发的证书，除非另有撤销决定。",
    "The certificate itself stays valid; the issuer's status does not affect issued certificates unless revoked.",
)


def _outcomes(*items: Outcome) -> Mapping[str, Outcome]:
    return MappingProxyType({o.slug: o for o in items})


OUTCOMES: Mapping[str, Outcome] = _outcomes(
    Outcome(
        "valid",
        Text("证书真实有效", "Genuine and valid"),
        Text("证书真实有效", "Genuine and valid"),
        "ok",
        "ok",
        Text(
            "请核对持证人身份证件上的姓名和证件号码后四位与本页一致。",
            "Check that the holder's ID card shows the same name and last 4 ID characters as this page.",
        ),
    ),
    Outcome(
        "revoked",
        Text("证书已被撤销", "This certificate has been revoked"),
        Text("证书已被撤销", "Revoked"),
        "bad",
        "bad",
        Text(
            "该证书已不能作为技能水平证明。如有疑问，请联系发证机构或鉴定中心。",
            "This certificate no longer proves the skill level. Ask the issuing institution or the appraisal centre.",
        ),
    ),
    Outcome(
        "superseded",
        Text("证书已被更正或补发的新证书取代", "Superseded by a corrected or re-issued certificate"),
        Text("证书已被取代", "Superseded"),
        "warn",
        "warn",
        Text(
            "请向持证人索取现行（更正或补发后的）证书并重新查验。",
            "Ask the holder for the current (corrected or re-issued) certificate and verify it.",
        ),
    ),
    Outcome(
        "issuer_suspended",
        Text(
            "证书真实有效；发证机构目前暂停评价活动", "Genuine and valid; the issuer is currently suspended"
        ),
        Text("证书有效 · 发证机构暂停评价", "Valid · issuer suspended"),
        "warn",
        "ok",
        _ISSUER_ONLY,
    ),
    Outcome(
        "issuer_terminated",
        Text(
            "证书真实有效；发证机构已终止备案", "Genuine and valid; the issuer's filing has been terminated"
        ),
        Text("证书有效 · 发证机构已终止备案", "Valid · issuer terminated"),
        "warn",
        "ok",
        _ISSUER_ONLY,
    ),
    Outcome(
        "issuer_merged",
        Text(
            "证书真实有效；发证机构已合并（并入其他机构）",
            "Genuine and valid; the issuer has merged into another institution",
        ),
        Text("证书有效 · 发证机构已合并", "Valid · issuer merged"),
        "warn",
        "ok",
        _ISSUER_ONLY,
    ),
    Outcome(
        "forged",
        Text(
            "无法确认为本系统签发的证书：可能是伪造或被篡改",
            "Not a certificate signed by this service: forged or altered",
        ),
        Text("无法确认：可能伪造或被篡改", "Cannot be confirmed: forged or altered"),
        "bad",
        "bad",
        Text(
            "请勿接受该证书。可拨打全国职业技能鉴定质量监督举报电话，或在官方证书查询网站核对。",
            "Do not accept this certificate. Report it on the national supervision hotline or check the official site.",
        ),
    ),
    Outcome(
        "status_unavailable",
        Text(
            "签名真实，但当前无法查询证书状态，请稍后再试",
            "The signature is genuine, but the current status cannot be checked right now",
        ),
        Text("签名真实 · 状态暂不可查", "Genuine signature · status unavailable"),
        "info",
        "clock",
        Text(
            "签名证明证书由本系统签发，但当前无法确认是否被撤销。请稍后刷新本页。",
            "The signature proves this service issued it, but revocation cannot be checked now. Reload later.",
        ),
    ),
)

# Why an answer is "forged".
FORGED_REASONS: Mapping[str, Text] = MappingProxyType(
    {
        "malformed": Text("二维码内容格式不正确", "the QR content is malformed"),
        "unknown_key": Text("签名密钥未知", "signed with an unknown key"),
        "bad_signature": Text(
            "签名不匹配：内容被改动或伪造", "the signature does not match: altered or forged"
        ),
        "key_compromised": Text("签名密钥已泄露作废（key compromised）", "key compromised"),
    }
)

# The state of each check an answer reports (``checks``: format, signature, status).
CHECK_STATES: Mapping[str, Text] = MappingProxyType(
    {
        "ok": Text("通过", "passed"),
        "failed": Text("未通过", "failed"),
        "not_checked": Text("未检查", "not checked"),
        "unavailable": Text("暂不可查", "unavailable"),
        "unknown_key": Text("签名密钥未知", "unknown key"),
        "key_compromised": Text("密钥已作废", "key compromised"),
    }
)

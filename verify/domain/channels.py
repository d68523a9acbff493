"""Where the public can check and complain (docs/RULES.md rules 62, 63): the national
supervision hotline and the official query sites, shown on every page and answer."""

from __future__ import annotations

NATIONAL_HOTLINE = "010-84661234"  # 全国职业技能鉴定质量监督举报电话 (人社职司便函〔2020〕44号)

OFFICIAL_SITES: dict[str, str] = {
    "certificates": "http://jndj.osta.org.cn",
    "institutions": "http://pjjg.osta.org.cn",
    "henan": "http://ha.osta.org.cn",
}

"""Where the public can check and complain (docs/RULES.md rules 62, 63): the national
supervision hotline and the official query sites, shown on every page and answer.

The values are settings (``verify.config``: ``VERIFY_HOTLINE`` and ``VERIFY_OFFICIAL_*_SITE``),
built once into a ``Channels`` and passed to the pages and answers that show them; the defaults
are defined here and nowhere else. The institution-query host is spelled ``pjgg`` in the 2021
notice text and the 2019 sample and ``pjjg`` in the 2021 sample (人社鉴发〔2021〕1号): the default
is ``pjjg`` (docs/DECISIONS.md D48), and either spelling can be configured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verify.domain.errors import ConfigError

HOTLINE = "010-84661234"  # 全国职业技能鉴定质量监督举报电话 (人社职司便函〔2020〕44号)
CERTIFICATE_HOST = "jndj.osta.org.cn"  # 证书信息查询 (人社鉴发〔2021〕1号 二（一）)
INSTITUTION_HOST = "pjjg.osta.org.cn"  # 机构信息查询; the other spelling is pjgg (D48)
PROVINCE_HOST = "ha.osta.org.cn"  # 河南省职业资格工作网 (豫人社办函〔2020〕41号 四（三）)

# A host (with an optional port and path) or an http(s) URL of one; nothing a link could abuse.
_SITE = re.compile(
    r"(https?://)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:/[A-Za-z0-9._~/-]*)?"
)
_PHONE = re.compile(r"[0-9+][0-9 ()-]{2,29}")


@dataclass(frozen=True, slots=True)
class Channels:
    """The hotline and the official query sites (full URLs) every public page links."""

    hotline: str = HOTLINE
    certificate_site: str = f"http://{CERTIFICATE_HOST}"
    institution_site: str = f"http://{INSTITUTION_HOST}"
    province_site: str = f"http://{PROVINCE_HOST}"

    @property
    def official_sites(self) -> dict[str, str]:
        """The sites by the keys pages and answers use: certificates, institutions, henan."""
        return {
            "certificates": self.certificate_site,
            "institutions": self.institution_site,
            "henan": self.province_site,
        }


DEFAULT_CHANNELS = Channels()
# The default sites, for readers that compare against them (tests/browser); the service itself
# always uses the configured ``Channels``.
OFFICIAL_SITES = DEFAULT_CHANNELS.official_sites


def site_url(setting: str, value: str) -> str:
    """The URL of a configured site: a bare host gets ``http://`` (the official sites' own form).
    Raises ConfigError naming ``setting`` for anything but a host or an http(s) URL of one."""
    value = value.strip()
    if not _SITE.fullmatch(value):
        raise ConfigError(
            f"{setting} 须为主机名（如 {INSTITUTION_HOST}）或 http(s) 网址，实际为 {value!r}",
            f"{setting} must be a host name (e.g. {INSTITUTION_HOST}) or an http(s) URL, got {value!r}",
        )
    return value if value.startswith(("http://", "https://")) else f"http://{value}"


def hotline(setting: str, value: str) -> str:
    """A configured telephone number. Raises ConfigError naming ``setting``."""
    value = value.strip()
    if not _PHONE.fullmatch(value):
        raise ConfigError(
            f"{setting} 须为电话号码（如 {HOTLINE}），实际为 {value!r}",
            f"{setting} must be a telephone number (e.g. {HOTLINE}), got {value!r}",
        )
    return value

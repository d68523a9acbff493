"""Settings, built once from the environment and passed explicitly.

Only ``Settings.from_env`` reads the environment; every other module receives a ``Settings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from verify.domain import channels, qr_budget
from verify.domain.channels import Channels
from verify.domain.errors import ConfigError
from verify.domain.throttle import ThrottlePolicy

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Setting:
    env: str
    default: str
    help_zh: str
    help_en: str


# The single table of VERIFY_* variables; README's configuration table is checked against it.
SETTINGS_TABLE: tuple[Setting, ...] = (
    Setting(
        "VERIFY_HOME",
        "var",
        "运行数据目录（内嵌数据库、密钥文件）",
        "Runtime data directory (embedded database, key files)",
    ),
    Setting(
        "VERIFY_DATABASE_URL",
        "",
        "外部 PostgreSQL 连接串；为空时使用内嵌集群",
        "External PostgreSQL URL; empty = embedded cluster under VERIFY_HOME",
    ),
    Setting(
        "VERIFY_DATABASE_REPLICA_URL",
        "",
        "只读副本（流复制备库）连接串，公开查询从这里读证书；为空时全部读主库",
        "Read-only replica (streaming standby) URL the certificate reads of public lookups use; empty = all reads on the primary",
    ),
    Setting(
        "VERIFY_PG_PORT",
        "",
        "内嵌集群另外监听 127.0.0.1 的端口；为空时只用 Unix 套接字",
        "Also listen on 127.0.0.1:PORT (embedded cluster); empty = Unix socket only",
    ),
    Setting("VERIFY_HOST", "127.0.0.1", "HTTP 监听地址", "HTTP listen address"),
    Setting("VERIFY_PORT", "8000", "HTTP 监听端口", "HTTP listen port"),
    Setting("VERIFY_WORKERS", "1", "HTTP 工作进程数", "Number of HTTP worker processes"),
    Setting(
        "VERIFY_ID_KEYS_FILE",
        "",
        "证件号盲索引与加密密钥文件；为空时为 VERIFY_HOME/secrets/id-keys.json",
        "File with the ID blind-index and encryption keys; empty = VERIFY_HOME/secrets/id-keys.json",
    ),
    Setting(
        "VERIFY_ID_INDEX_KEY",
        "",
        "盲索引 HMAC 密钥（64 位十六进制），优先于密钥文件",
        "Blind-index HMAC key (64 hex chars); overrides the key file",
    ),
    Setting(
        "VERIFY_ID_ENC_KEY",
        "",
        "证件号 AES-GCM 密钥（64 位十六进制），优先于密钥文件",
        "AES-256-GCM key for ID numbers (64 hex chars); overrides the key file",
    ),
    Setting(
        "VERIFY_PUBLIC_URL",
        "http://127.0.0.1:8000",
        f"二维码中的服务地址（对外网址），最长 {qr_budget.MAX_BASE_URL} 个字符（规则 65：二维码不超过 10-M 版本）",
        f"Public base URL printed in QR codes, at most {qr_budget.MAX_BASE_URL} characters (rule 65: the QR stays within version 10-M)",
    ),
    Setting(
        "VERIFY_SIGNING_KEYS_DIR",
        "",
        "签名私钥目录（加密存放，不入 git）；为空时为 VERIFY_HOME/signing-keys",
        "Directory of encrypted signing private keys (never in git); empty = VERIFY_HOME/signing-keys",
    ),
    Setting(
        "VERIFY_KEY_PASSPHRASE",
        "",
        "签名私钥口令；为空时交互输入（开发密钥除外）",
        "Passphrase of the signing private keys; empty = prompt (except the development key)",
    ),
    Setting(
        "VERIFY_PUBLIC_KEYS_DIR",
        "keys",
        "导出公钥（JWK）的目录",
        "Directory the public keys (JWK) are exported to",
    ),
    Setting(
        "VERIFY_STATUS_MAX_AGE",
        "120",
        "状态视图最长陈旧秒数，超过则答“状态暂不可查”",
        "Seconds the status view may be stale before answers say status_unavailable",
    ),
    Setting(
        "VERIFY_WEB_DIR",
        "",
        "页面模板与静态文件目录；为空时为项目的 web/",
        "Directory of page templates and static files; empty = the project's web/",
    ),
    Setting("VERIFY_MAX_UPLOAD_MB", "50", "批次文件大小上限（MB）", "Batch file size limit in MB"),
    Setting(
        "VERIFY_RECEIPT_KEY_FILE",
        "",
        "批量查验回执签名私钥（只能签回执）；为空时为 VERIFY_HOME/secrets/receipt-key.pem，首次启动时生成",
        "Private key that signs batch-verification receipts (and nothing else); empty = "
        "VERIFY_HOME/secrets/receipt-key.pem, created on first start",
    ),
    Setting(
        "VERIFY_RECEIPT_KEY",
        "",
        "回执签名私钥种子（64 位十六进制），优先于密钥文件",
        "Receipt signing key seed (64 hex chars); overrides the key file",
    ),
    Setting(
        "VERIFY_BATCH_MAX_ROWS", "10000", "每次批量查验的行数上限", "Rows per batch-verification request"
    ),
    Setting(
        "VERIFY_BATCH_ROWS_PER_DAY",
        "50000",
        "每个查验账户每天可查验的行数（中国时间）",
        "Rows each verifier account may verify per day (China time)",
    ),
    Setting(
        "VERIFY_LOOKUP_PER_MINUTE", "10", "每个 IP 每分钟公开查询次数", "Public lookups per IP per minute"
    ),
    Setting(
        "VERIFY_LOOKUP_FREE_FAILURES",
        "5",
        "同一证书编号（或证件号码）连续姓名不符多少次后开始限时暂停查询",
        "Wrong names in a row one number (or ID) takes before lookups of it pause",
    ),
    Setting(
        "VERIFY_LOOKUP_MAX_WAIT",
        "900",
        "姓名不符后暂停时间的上限（秒，每次翻倍，从 30 秒起）",
        "Longest pause after wrong names, in seconds (doubling from 30 s)",
    ),
    Setting(
        "VERIFY_TRUST_PROXY",
        "0",
        "为 1 时采用 X-Forwarded-For 的客户端地址",
        "1 = take the client address from X-Forwarded-For",
    ),
    Setting("VERIFY_LOG_LEVEL", "info", "日志级别", "Log level"),
    Setting(
        "VERIFY_ACCESS_LOG",
        "1",
        "为 1 时写访问日志（只记路由模板与路径摘要，不含个人信息）",
        "1 = write the access log (route template and a path hash, no personal data)",
    ),
    Setting(
        "VERIFY_MAX_IN_FLIGHT",
        "256",
        "每个工作进程同时处理的请求上限，超出即答 503（Retry-After）；0 为不限",
        "Requests one worker answers at once; more get 503 with Retry-After at once; 0 = no limit",
    ),
    Setting(
        "VERIFY_MAX_LAG_MS",
        "0",
        "工作进程事件循环落后超过此毫秒数时，新请求即答 503（Retry-After）；0 为关闭（默认：先以演练测定）",
        "When a worker's event loop runs this many ms behind, new requests get 503 with Retry-After; 0 = off (the default until the overload drill has measured it)",
    ),
    Setting(
        "VERIFY_SESSION_HOURS", "8", "管理台登录会话最长小时数", "Longest life of a console sign-in, in hours"
    ),
    Setting(
        "VERIFY_SESSION_IDLE_MINUTES",
        "30",
        "管理台会话闲置多少分钟后失效",
        "Minutes of inactivity after which a console sign-in ends",
    ),
    Setting(
        "VERIFY_TOKEN_DAYS", "90", "API 令牌默认有效天数", "Default validity of a new API token, in days"
    ),
    Setting(
        "VERIFY_LOGIN_PER_MINUTE",
        "20",
        "每个 IP 每分钟登录尝试次数",
        "Console sign-in attempts per IP per minute",
    ),
    Setting(
        "VERIFY_LOGIN_FREE_FAILURES",
        "5",
        "同一账号连续密码错误多少次后开始限时锁定（每次翻倍，从 30 秒起，最长 15 分钟）",
        "Wrong passwords in a row one account takes before sign-ins to it pause (doubling from 30 s, at most 15 min)",
    ),
    # Rule 62: where pages send the public to check and complain (verify.domain.channels).
    Setting(
        "VERIFY_HOTLINE",
        channels.HOTLINE,
        "全国职业技能鉴定质量监督举报电话",
        "National skills-appraisal supervision hotline shown on every page",
    ),
    Setting(
        "VERIFY_OFFICIAL_CERT_SITE",
        channels.CERTIFICATE_HOST,
        "国家证书信息查询网站（主机名或 http(s) 网址）",
        "Official national certificate query site (host or http(s) URL)",
    ),
    Setting(
        "VERIFY_OFFICIAL_INSTITUTION_SITE",
        channels.INSTITUTION_HOST,
        "评价机构信息查询网站；文件中亦写作 pjgg.osta.org.cn",
        "Official institution query site; the policy text also spells it pjgg.osta.org.cn",
    ),
    Setting(
        "VERIFY_OFFICIAL_PROVINCE_SITE",
        channels.PROVINCE_HOST,
        "河南省职业资格工作网（主机名或 http(s) 网址）",
        "Henan's official skills-appraisal site (host or http(s) URL)",
    ),
)


def _int(environ: Mapping[str, str], name: str, default: str, minimum: int = 0) -> int:
    raw = environ.get(name, default) or default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name} 必须是整数，实际为 {raw!r}", f"{name} must be an integer, got {raw!r}"
        ) from None
    if value < minimum:
        raise ConfigError(f"{name} 不能小于 {minimum}", f"{name} must be at least {minimum}")
    return value


def _hex_key(environ: Mapping[str, str], name: str) -> bytes | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError(
            f"{name} 必须是 64 位十六进制字符（32 字节）", f"{name} must be 64 hex characters (32 bytes)"
        )
    return key


def _public_url(environ: Mapping[str, str]) -> str:
    url = (environ.get("VERIFY_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
    # Rule 65: the QR byte budget checked at import assumes a base URL of at most this length, so a
    # longer one could push an accepted certificate's QR past version 10-M (docs/DECISIONS.md D55).
    if len(url) > qr_budget.MAX_BASE_URL:
        raise ConfigError(
            f"VERIFY_PUBLIC_URL 最长 {qr_budget.MAX_BASE_URL} 个字符，实际为 {len(url)} 个：每张证书的二维码须不超过"
            f" {qr_budget.MAX_VERSION}-M 版本，导入时的容量检查按此长度预留",
            f"VERIFY_PUBLIC_URL may have at most {qr_budget.MAX_BASE_URL} characters, got {len(url)}: every "
            f"certificate's QR must stay within version {qr_budget.MAX_VERSION}-M, and the import-time budget "
            "leaves room for no longer an address",
        )
    return url


def _site(environ: Mapping[str, str], name: str, default: str) -> str:
    return channels.site_url(name, environ.get(name) or default)


def _path(raw: str, base: Path) -> Path:
    path = Path(raw)
    return path if path.is_absolute() else base / path


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str | None
    database_replica_url: str | None
    pg_port: int | None
    host: str
    port: int
    workers: int
    id_keys_file: Path
    id_index_key: bytes | None = field(repr=False)
    id_enc_key: bytes | None = field(repr=False)
    public_url: str
    signing_keys_dir: Path
    key_passphrase: bytes | None = field(repr=False)
    public_keys_dir: Path
    status_max_age: float
    web_dir: Path
    max_upload_bytes: int
    throttle: ThrottlePolicy
    trust_proxy: bool
    log_level: str
    access_log: bool
    max_in_flight: int
    max_lag_ms: int
    session_hours: int
    session_idle_minutes: int
    token_days: int
    login_throttle: ThrottlePolicy
    channels: Channels  # rule 62: the hotline and official sites pages link
    receipt_key_file: Path = Path("receipt-key.pem")
    receipt_key: bytes | None = field(default=None, repr=False)
    batch_max_rows: int = 10_000
    batch_rows_per_day: int = 50_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
        """Build settings from an environment mapping. Raises ConfigError for bad values."""
        base = cwd or Path.cwd()
        home = Path(environ.get("VERIFY_HOME") or "var")
        if not home.is_absolute():
            home = base / home
        keys_file = environ.get("VERIFY_ID_KEYS_FILE") or str(home / "secrets" / "id-keys.json")
        pg_port_raw = environ.get("VERIFY_PG_PORT", "")
        return cls(
            home=home,
            database_url=environ.get("VERIFY_DATABASE_URL") or None,
            database_replica_url=environ.get("VERIFY_DATABASE_REPLICA_URL") or None,
            pg_port=_int(environ, "VERIFY_PG_PORT", pg_port_raw, 1) if pg_port_raw else None,
            host=environ.get("VERIFY_HOST") or "127.0.0.1",
            port=_int(environ, "VERIFY_PORT", "8000", 1),
            workers=_int(environ, "VERIFY_WORKERS", "1", 1),
            id_keys_file=Path(keys_file),
            id_index_key=_hex_key(environ, "VERIFY_ID_INDEX_KEY"),
            id_enc_key=_hex_key(environ, "VERIFY_ID_ENC_KEY"),
            public_url=_public_url(environ),
            signing_keys_dir=_path(
                environ.get("VERIFY_SIGNING_KEYS_DIR") or str(home / "signing-keys"), base
            ),
            key_passphrase=(environ.get("VERIFY_KEY_PASSPHRASE") or "").encode() or None,
            public_keys_dir=_path(environ.get("VERIFY_PUBLIC_KEYS_DIR") or "keys", base),
            status_max_age=float(_int(environ, "VERIFY_STATUS_MAX_AGE", "120", 5)),
            web_dir=_path(
                environ.get("VERIFY_WEB_DIR") or str(Path(__file__).resolve().parent.parent / "web"), base
            ),
            max_upload_bytes=_int(environ, "VERIFY_MAX_UPLOAD_MB", "50", 1) * MiB,
            receipt_key_file=_path(
                environ.get("VERIFY_RECEIPT_KEY_FILE") or str(home / "secrets" / "receipt-key.pem"), base
            ),
            receipt_key=_hex_key(environ, "VERIFY_RECEIPT_KEY"),
            batch_max_rows=_int(environ, "VERIFY_BATCH_MAX_ROWS", "10000", 1),
            batch_rows_per_day=_int(environ, "VERIFY_BATCH_ROWS_PER_DAY", "50000", 1),
            throttle=ThrottlePolicy(
                per_address=_int(environ, "VERIFY_LOOKUP_PER_MINUTE", "10", 1),
                window=60,
                free_failures=_int(environ, "VERIFY_LOOKUP_FREE_FAILURES", "5", 1),
                max_seconds=_int(environ, "VERIFY_LOOKUP_MAX_WAIT", "900", 30),
            ),
            trust_proxy=(environ.get("VERIFY_TRUST_PROXY", "0") == "1"),
            log_level=(environ.get("VERIFY_LOG_LEVEL") or "info").lower(),
            access_log=(environ.get("VERIFY_ACCESS_LOG", "1") or "1") == "1",
            max_in_flight=_int(environ, "VERIFY_MAX_IN_FLIGHT", "256", 0),
            max_lag_ms=_int(environ, "VERIFY_MAX_LAG_MS", "0", 0),
            session_hours=_int(environ, "VERIFY_SESSION_HOURS", "8", 1),
            session_idle_minutes=_int(environ, "VERIFY_SESSION_IDLE_MINUTES", "30", 1),
            token_days=_int(environ, "VERIFY_TOKEN_DAYS", "90", 1),
            login_throttle=ThrottlePolicy(
                per_address=_int(environ, "VERIFY_LOGIN_PER_MINUTE", "20", 1),
                window=60,
                free_failures=_int(environ, "VERIFY_LOGIN_FREE_FAILURES", "5", 1),
                max_seconds=900,
            ),
            channels=Channels(
                hotline=channels.hotline("VERIFY_HOTLINE", environ.get("VERIFY_HOTLINE") or channels.HOTLINE),
                certificate_site=_site(environ, "VERIFY_OFFICIAL_CERT_SITE", channels.CERTIFICATE_HOST),
                institution_site=_site(
                    environ, "VERIFY_OFFICIAL_INSTITUTION_SITE", channels.INSTITUTION_HOST
                ),
                province_site=_site(environ, "VERIFY_OFFICIAL_PROVINCE_SITE", channels.PROVINCE_HOST),
            ),
        )

    @property
    def pg_root(self) -> Path:
        return self.home / "pg"

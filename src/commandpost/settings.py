"""One Settings object, read from ``COMMANDPOST_*`` environment variables.

Nothing else in commandpost reads ``os.environ``: adapters build a Settings
(or take the one the app was created with) and pass what services need.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMMANDPOST_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/commandpost.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db",
    )
    ops_dir: Path | None = Field(default=None, description="ops/ folder applied by `serve` at start")
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field(default="", description="base URL used in links (pages, intake URLs)")
    max_body_bytes: int = 512 * 1024
    sqlite_busy_timeout_ms: int = 5000
    engine_enabled: bool = True
    engine_lease_seconds: float = 30.0
    engine_max_sleep_seconds: float = 5.0
    log_level: str = "INFO"
    sns_cert_dir: Path | None = Field(
        default=None,
        description="air-gapped SNS: read signing certificates from this folder (by the file name of "
        "SigningCertURL) instead of fetching them",
    )
    sns_auto_confirm: bool = Field(
        default=True,
        description="confirm SNS subscriptions by fetching SubscribeURL; off: record them for an operator",
    )
    alert_start_max_age_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="an alert's start time (startsAt, timestamp, StateChangeTime, starts_at) older than its "
        "receipt minus this is taken as receipt minus this, and the incident's timeline says so",
    )
    alert_clock_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        description="an alert time later than its receipt plus this is taken as the receipt time (noted on "
        "the timeline); a time in the future within it is kept as the source gave it",
    )

    # Notifications (notify/): SMTP, webhook signing, the outbound address guard, delivery policy.
    smtp_host: str = Field(default="", description="SMTP server for the email channel; empty: email is off")
    smtp_port: int = 25
    smtp_from: str = "commandpost@localhost"
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    webhook_signing_secret: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC-SHA256 key for the Commandpost-Signature header of generic webhooks",
    )
    outbound_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="hosts or CIDRs webhooks may reach despite the SSRF guard (comma-separated in env)",
    )
    notify_max_attempts: int = Field(default=10, ge=1, description="attempts before a message is dead")
    notify_backoff_base_seconds: float = Field(default=5.0, gt=0)
    notify_backoff_cap_seconds: float = Field(default=300.0, gt=0)
    notify_timeout_seconds: float = Field(default=5.0, gt=0, description="per HTTP send; SMTP gets 2x")
    notify_concurrency: int = Field(default=4, ge=1, description="sending threads per process")
    notify_batch_size: int = Field(default=256, ge=1, description="messages claimed per engine pass")
    notify_per_destination_limit: int = Field(
        default=2, ge=1, description="sends in flight to one destination at once"
    )
    notify_pass_wait_seconds: float = Field(
        default=1.0, ge=0, description="how long a pass waits for sends; slower ones finish on their own"
    )
    notify_claim_seconds: float = Field(
        default=30.0, gt=0, description="a claimed message not finished by then is sent again"
    )
    notify_late_after_seconds: float = Field(default=30.0, ge=0, description="sent later than this: late")
    slack_min_interval_seconds: float = Field(
        default=1.0, ge=0, description="pacing per Slack webhook URL (Slack allows about 1 message/s)"
    )

    @field_validator("outbound_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    # CLI client side: where the server is and who we are.
    url: str = "http://127.0.0.1:8080"
    token: str = ""
    config_file: Path = Path.home() / ".config" / "commandpost" / "config.toml"

    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

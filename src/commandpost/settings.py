"""One Settings object, read from ``COMMANDPOST_*`` environment variables.

Nothing else in commandpost reads ``os.environ``: adapters build a Settings
(or take the one the app was created with) and pass what services need.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    handover_offer_ttl_seconds: int = 15 * 60
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

    # CLI client side: where the server is and who we are.
    url: str = "http://127.0.0.1:8080"
    token: str = ""
    config_file: Path = Path.home() / ".config" / "commandpost" / "config.toml"

    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""One Settings object, read from ``COMMANDPOST_*`` environment variables.

Nothing else in commandpost reads ``os.environ``: adapters build a Settings
(or take the one the app was created with) and pass what services need.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMMANDPOST_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/commandpost.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db",
    )
    database_password_file: Path | None = Field(
        default=None,
        description="a file holding the database password (a Compose or Kubernetes secret), put into "
        "database_url: the password is then on no command line and in no environment",
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
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="serve's log lines: text (uvicorn's access line, 'time LEVEL logger: message') or "
        "json (one object per line, with the request's request_id)",
    )
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
    link_secret: SecretStr = Field(
        default=SecretStr(""),
        description="key of the one-tap ack/escalate links; empty: a random key kept in the database",
    )
    link_ttl_seconds: float = Field(
        default=86_400.0, gt=0, description="how long a page's ack/escalate link works after it is sent"
    )
    slack_min_interval_seconds: float = Field(
        default=1.0, ge=0, description="pacing per Slack webhook URL (Slack allows about 1 message/s)"
    )

    # SMS and voice (notify/phones/): the providers, in the org's order, and per-country choices. A
    # provider is used only when configured (its credentials and sender set). The API URLs are settings
    # so tests point the real clients at local stand-ins.
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = Field(
        default=SecretStr(""), description="signs Twilio's webhooks too (X-Twilio-Signature)"
    )
    twilio_from: str = Field(default="", description="the Twilio number pages come from (E.164)")
    twilio_api_url: str = "https://api.twilio.com"
    vonage_api_key: str = ""
    vonage_api_secret: SecretStr = SecretStr("")
    vonage_from: str = Field(default="", description="the Vonage number or sender ID pages come from")
    vonage_signature_secret: SecretStr = Field(
        default=SecretStr(""), description="verifies Vonage's webhooks: SMS `sig` and the voice JWT (HS256)"
    )
    vonage_signature_method: Literal["md5", "sha1", "sha256", "sha512"] = Field(
        default="md5", description="the HMAC digest chosen in the Vonage dashboard for signed SMS webhooks"
    )
    vonage_application_id: str = Field(default="", description="the Vonage application placing calls")
    vonage_private_key: SecretStr = Field(
        default=SecretStr(""), description="that application's private key (PEM text), signs the RS256 JWT"
    )
    vonage_rest_url: str = "https://rest.nexmo.com"
    vonage_api_url: str = "https://api.nexmo.com"
    sms_providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["twilio", "vonage"],
        description="providers in the order tried (comma-separated in env); only configured ones are used",
    )
    sms_provider_by_country: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="the provider tried first per country of the number, e.g. JP=vonage,US=twilio",
    )

    @field_validator("database_password_file")
    @classmethod
    def _password_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        """Refused here, where an error names only the file (a model-level error would quote every
        setting): unreadable, empty, or beside a URL with another password (the same one is what a
        child process, given the URL this made, finds: the schema upgrade's)."""
        if path is None:
            return None
        password = _file_password(path)
        url = _url(info.data.get("database_url", ""))
        if url is not None and url.get_backend_name() != "postgresql":
            raise ValueError("a password file is for a postgresql+psycopg:// COMMANDPOST_DATABASE_URL")
        if url is not None and url.password not in (None, password):
            raise ValueError("COMMANDPOST_DATABASE_URL has another password: give it in one place only")
        return path

    @model_validator(mode="after")
    def _password_into_url(self) -> Settings:
        url = _url(self.database_url) if self.database_password_file is not None else None
        if url is not None and self.database_password_file is not None:
            password = _file_password(self.database_password_file)
            self.database_url = url.set(password=password).render_as_string(hide_password=False)
        return self

    @field_validator("sms_providers", mode="before")
    @classmethod
    def _split_providers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("sms_provider_by_country", mode="before")
    @classmethod
    def _split_countries(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = (part.partition("=") for part in value.split(",") if part.strip())
            return {code.strip().upper(): name.strip().lower() for code, _, name in pairs}
        return value

    # Push (ntfy) and email identity (notify/channels/ntfy.py, email.py). The ntfy server is reached
    # through the outbound guard like a webhook: a self-hosted one on a private address must be in
    # outbound_allowlist.
    ntfy_url: str = Field(
        default="", description="the org's ntfy server (e.g. https://ntfy.sh); empty: push is off"
    )
    ntfy_token: SecretStr = Field(
        default=SecretStr(""), description="ntfy access token (tk_…) for protected topics, sent as Bearer"
    )
    email_domain: str = Field(
        default="",
        pattern=r"^$|^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$",
        description="the domain of email Message-IDs and incident thread ids; empty: smtp_from's domain "
        "(unless localhost), else the public URL's host",
    )

    # Slack as the command post (commandpost/slack/): the app's bot token and signing secret, and
    # where its Web API is (tests point slack_sdk's WebClient at a local stand-in).
    slack_bot_token: SecretStr = Field(default=SecretStr(""), description="xoxb-…; empty: Slack is off")
    slack_signing_secret: SecretStr = Field(
        default=SecretStr(""), description="verifies X-Slack-Signature on commands, interactions and events"
    )
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack's Web API base URL")

    # Action items' tickets in the team's tracker (postmortems/trackers.py): each tracker's API token
    # and the secret its webhooks are verified with. Where each tracker is: ops' commandpost.yaml.
    github_token: SecretStr = Field(default=SecretStr(""), description="GitHub token (issues: write)")
    github_webhook_secret: SecretStr = Field(default=SecretStr(""), description="X-Hub-Signature-256 key")
    gitlab_token: SecretStr = Field(default=SecretStr(""), description="GitLab token (api scope)")
    gitlab_webhook_token: SecretStr = Field(default=SecretStr(""), description="the X-Gitlab-Token value")
    jira_token: SecretStr = Field(default=SecretStr(""), description="Atlassian API token (Basic with email)")
    jira_webhook_secret: SecretStr = Field(default=SecretStr(""), description="X-Hub-Signature key")
    linear_token: SecretStr = Field(default=SecretStr(""), description="Linear personal API key")
    linear_webhook_secret: SecretStr = Field(default=SecretStr(""), description="Linear-Signature key")
    tracker_sync_seconds: float = Field(default=900.0, gt=0, description="how often a ticket's state is read")
    tracker_timeout_seconds: float = Field(default=10.0, gt=0, description="per tracker HTTP request")

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
    config_file: Path = Field(
        default_factory=lambda: config_home() / "commandpost" / "config.toml",
        description="the CLI's url and token when the environment has none",
    )

    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


def _url(text: str) -> URL | None:
    """``text`` as a SQLAlchemy URL; None when it is none (create_db_engine says what is wrong)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(text)
    except ArgumentError:
        return None


def _file_password(path: Path) -> str:
    """The password in ``path``: its text without the line break ``echo`` or ``openssl`` end it with."""
    try:
        password = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"cannot read the database password from {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the database password file {path} is not UTF-8 text") from None
    if not password:
        raise ValueError(f"the database password file {path} is empty")
    return password


def config_home() -> Path:
    """``$XDG_CONFIG_HOME``, else ``~/.config``: the XDG Base Directory spec ignores an empty or
    relative value, so a stray ``XDG_CONFIG_HOME=.`` never scatters config files per working folder."""
    value = os.environ.get("XDG_CONFIG_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".config"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""One typed Settings object, read once from the environment (``INBOXCRM_*``) and ``.env``.

Nothing else in the package reads environment variables; the settings are passed in.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_FERNET_KEY = "aW5ib3hjcm0tZGV2ZWxvcG1lbnQtb25seS1rZXkhISE="
DEV_SECRET_KEY = "development-secret-key-not-for-production"

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    """Every tunable of inboxcrm. Field names map to ``INBOXCRM_<NAME>`` env vars."""

    model_config = SettingsConfigDict(
        env_prefix="INBOXCRM_", env_file=".env", extra="ignore", populate_by_name=True
    )

    environment: Environment = "development"
    data_dir: Path = Path("var")

    # Databases: the control plane, and a template for each tenant's own database.
    database_url: str = ""
    tenant_database_url: str = ""
    tenant_engine_cache_size: int = 64
    tenant_pool_size: int = 2
    tenant_max_overflow: int = 3
    tenant_connections_total: int = 20
    """Open connections to tenant databases one process may hold, over all tenants."""
    tenant_connection_idle_seconds: float = 60.0
    """A tenant's pooled connections are closed after this long without use."""

    # Jobs: empty means the embedded broker (no server); redis://... at scale.
    broker_url: str = ""
    result_backend_url: str = ""
    redis_url: str = ""
    job_key_prefix: str = ""
    """Namespaces the job queues (and, on Redis, the broker's keys), so that several
    deployments can share one broker server."""

    # Secrets.
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    fernet_keys: SecretStr = SecretStr(DEV_FERNET_KEY)

    # Google.
    google_client_id: str = "inboxcrm-local-client"
    google_client_secret: SecretStr = SecretStr("inboxcrm-local-secret")
    google_api_base: str = "https://www.googleapis.com"
    google_oauth_base: str = ""
    gmail_push_topic: str = "projects/inboxcrm/topics/gmail"
    push_audience: str = ""
    push_jwks_url: str = ""
    push_service_account: str = ""

    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000

    # Sync.
    sync_lookback_days: int = 365
    sync_whole_threads: bool = True
    """Fetch a thread whole (threads.get, 10 units) when two or more of its messages are to be
    stored: about half the quota of message-by-message, but the other messages of such a
    thread are read (never stored). False: only mail with a record is ever fetched."""
    poll_interval_seconds: int = 600
    quota_units_per_second: float = 250.0
    """Gmail's per-user quota (units/s, a moving one-second average); 0 disables pacing."""
    quota_units_per_minute: float = 15000.0
    """Gmail's per-user quota per minute (Google has published 15,000 and 6,000)."""
    project_quota_units_per_minute: float = 1_200_000.0
    """The Google Cloud project's Gmail quota per minute, shared by every mailbox."""
    quota_headroom: float = 0.97
    """Share of each quota the shared (Redis) and project buckets pace to (the rest absorbs
    clock and network jitter); the in-process per-mailbox window gate needs none."""
    quota_key_prefix: str = "inboxcrm:quota"
    """Redis keys of the shared quota buckets (``<prefix>:<provider>:<mailbox>``, and
    ``<prefix>:project:<provider>``)."""

    # Privacy.
    record_deletion_grace_days: int = 90
    account_purge_days: int = 30

    # Image proxy ("Load images" on a mail): caps per fetch, lifetime of a signed image URL, and
    # ip:port endpoints on private addresses it may fetch from anyway (comma-separated; for
    # tests against a local image server only, refused in production).
    image_proxy_max_bytes: int = Field(default=5_000_000, ge=1)
    image_proxy_timeout_seconds: float = Field(default=10.0, gt=0)
    image_proxy_max_redirects: int = Field(default=3, ge=0, le=10)
    image_proxy_url_ttl_seconds: int = Field(default=3600, ge=1)
    image_proxy_allowed_endpoints: str = ""

    log_level: str = "INFO"
    log_json: bool = False

    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")

    # AI drafts (services.drafts): the model, how much context, and how long to wait.
    ai_model: str = "claude-sonnet-4-6"
    ai_context_messages: int = Field(default=5, ge=1, le=50)
    ai_body_chars: int = Field(default=2000, ge=100, le=20000)
    ai_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    ai_max_retries: int = Field(default=2, ge=0, le=10)

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("image_proxy_allowed_endpoints")
    @classmethod
    def _ip_port_endpoints(cls, value: str) -> str:
        for entry in filter(None, (e.strip() for e in value.split(","))):
            if not re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[0-9.]+):[0-9]{1,5}", entry):
                raise ValueError(f"not an ip:port endpoint: {entry!r}")
        return value

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'control.sqlite3'}"
        if not self.tenant_database_url:
            self.tenant_database_url = f"sqlite:///{self.data_dir / 'tenants' / '{tenant}.sqlite3'}"
        if "{tenant}" not in self.tenant_database_url:
            raise ValueError("INBOXCRM_TENANT_DATABASE_URL must contain the {tenant} placeholder")
        if self.environment == "production":
            if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
                raise ValueError("INBOXCRM_SECRET_KEY must be set in production")
            if DEV_FERNET_KEY in self.fernet_key_list:
                raise ValueError("INBOXCRM_FERNET_KEYS must be set in production")
            if self.image_proxy_allowed_endpoints.strip():
                raise ValueError("INBOXCRM_IMAGE_PROXY_ALLOWED_ENDPOINTS is for tests only")
            if self.push_enabled and not self.push_service_account.strip():
                raise ValueError(
                    "INBOXCRM_PUSH_SERVICE_ACCOUNT must be set in production when push is enabled "
                    "(INBOXCRM_PUSH_AUDIENCE): it is the only account whose Pub/Sub tokens are "
                    "accepted at /hooks/gmail/push"
                )
        return self

    @property
    def fernet_key_list(self) -> list[str]:
        """Fernet keys, newest first."""
        return [k.strip() for k in self.fernet_keys.get_secret_value().split(",") if k.strip()]

    @property
    def push_enabled(self) -> bool:
        """True when Gmail push notifications are accepted at ``/hooks/gmail/push``."""
        return bool(self.push_audience.strip())

    @property
    def embedded_jobs(self) -> bool:
        """True when no broker server is configured: jobs run on the embedded broker."""
        return not self.broker_url or self.broker_url.startswith("sqla+")

    @property
    def oauth_base(self) -> str:
        """Where OAuth endpoints live: Google's, or the emulator's (same base as the APIs)."""
        if self.google_oauth_base:
            return self.google_oauth_base.rstrip("/")
        if self.google_api_base.rstrip("/") == "https://www.googleapis.com":
            return ""
        return self.google_api_base.rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests build their own ``Settings(...)`` instead."""
    return Settings()

"""Configuration of an emulator instance.

:class:`EmulatorConfig` mirrors the ``inboxcrm emulator`` command-line flags and is fixed at start.
:class:`RuntimeSettings` is the part the control API may change while the emulator runs
(quota, faults, latency, push, consent, token lifetime).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

DEFAULT_ACCESS_TOKEN_TTL_S = 3599


@dataclass(frozen=True)
class EmulatorConfig:
    """Start-up configuration; each field has a CLI flag of the same name (``--auto-consent``)."""

    host: str = "127.0.0.1"
    port: int = 0
    mailboxes: tuple[str, ...] = ()
    """``.eml`` directories or mbox files loaded into :attr:`user` (or :attr:`auto_consent`)."""
    generate: int = 0
    """Number of messages generated into the user's mailbox at start."""
    seed: int = 0
    customer_fraction: float = 0.2
    auto_consent: str | None = None
    """Account that the consent screen approves at once (no HTML page)."""
    user: str | None = None
    """Mailbox owner for --mailbox/--generate; defaults to auto_consent or demo@example.com."""
    quota_units_per_s: float | None = None
    """Per-user quota in Google's units per second; None means unlimited."""
    quota_units_per_minute: float | None = None
    """Per-user quota in units per minute (Google: 15,000, lately also 6,000); None: unlimited."""
    project_quota_units_per_minute: float | None = None
    """Project-wide quota in units per minute over all users (Google: 1,200,000)."""
    max_concurrent_per_user: int | None = None
    """Calls of one user processed at once (inner calls of a batch count one by one)."""
    fault_rate: float = 0.0
    latency_ms: float = 0.0
    push_endpoint: str | None = None
    push_audience: str | None = None
    clients: tuple[tuple[str, str], ...] = ()
    """Registered OAuth clients (id, secret); when empty any client id is accepted."""
    state_file: str | None = None
    access_token_ttl_s: int = DEFAULT_ACCESS_TOKEN_TTL_S
    fault_seed: int | None = None

    def mailbox_owner(self) -> str:
        return (self.user or self.auto_consent or "demo@example.com").lower()


@dataclass
class RuntimeSettings:
    """Settings the control API can read (GET) and change (PATCH) at run time."""

    quota_units_per_s: float | None = None
    quota_window_s: float = 1.0
    quota_error_status: int = 429
    quota_units_per_minute: float | None = None
    project_quota_units_per_minute: float | None = None
    quota_minute_s: float = 60.0
    """Length of the "per minute" windows (shorter in tests)."""
    max_concurrent_per_user: int | None = None
    fault_rate: float = 0.0
    fault_statuses: list[int] = field(default_factory=lambda: [429, 500, 503])
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 0.0
    latency_ms: float = 0.0
    batch_parts_parallel: bool = False
    """How ``latency_ms`` (and ``slow_ms``) apply to the parts of a batch request. False: each
    part waits in turn, so a batch of n parts waits n times (a pessimistic model that keeps
    batched syncs slow enough for fault tests to interrupt). True: the parts wait together and
    the batch answers after its slowest part, as Google runs a batch's parts in parallel."""
    fault_seed: int | None = None
    push_endpoint: str | None = None
    push_endpoints: dict[str, str] = field(default_factory=dict)
    push_audience: str | None = None
    push_min_interval_s: float = 1.0
    push_max_attempts: int = 8
    auto_consent: str | None = None
    access_token_ttl_s: int = DEFAULT_ACCESS_TOKEN_TTL_S
    sync_token_ttl_s: int = 7 * 24 * 3600
    testing_mode: bool = False
    """The OAuth app is in Testing mode: refresh tokens die 7 days after they were issued."""
    refresh_unused_ttl_s: int | None = 182 * 24 * 3600
    """Refresh tokens unused this long die (Google: six months)."""
    max_refresh_tokens: int = 100
    """Live refresh tokens per account and client; issuing one more ends the oldest."""
    history_retention_s: int | None = 7 * 24 * 3600
    """History older than this (emulator clock) is forgotten: older start ids answer 404."""
    push_denied_topics: list[str] = field(default_factory=list)
    """Topics Gmail may not publish to: users.watch on them answers 403 (missing Pub/Sub grant)."""
    query_max_terms: int | None = None
    """Search queries with more terms answer nothing (as Gmail does for some long OR queries)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply known keys from ``changes``; returns the unknown keys (ignored)."""
        known = {f.name for f in fields(self)}
        unknown = [k for k in changes if k not in known]
        for key, value in changes.items():
            if key in known:
                setattr(self, key, value)
        return unknown

    @classmethod
    def from_config(cls, config: EmulatorConfig) -> RuntimeSettings:
        return cls(
            quota_units_per_s=config.quota_units_per_s,
            quota_units_per_minute=config.quota_units_per_minute,
            project_quota_units_per_minute=config.project_quota_units_per_minute,
            max_concurrent_per_user=config.max_concurrent_per_user,
            fault_rate=config.fault_rate,
            latency_ms=config.latency_ms,
            fault_seed=config.fault_seed,
            push_endpoint=config.push_endpoint,
            push_audience=config.push_audience,
            auto_consent=config.auto_consent,
            access_token_ttl_s=config.access_token_ttl_s,
        )

"""The drafting provider interface and what crosses it.

A provider gets one :class:`DraftContext` — everything it may know, built in one place by
:mod:`inboxcrm.services.drafts_context` — and returns a :class:`DraftText`. Providers are
stateless: nothing of a conversation is kept between calls, here or at the provider.

Errors (see :mod:`inboxcrm.domain.errors`): :class:`DraftingKeyRefused` (the provider refused the
configured key: tell the user, do not retry), :class:`DraftingUnavailable` (timeouts, 429/5xx
after retries), both ``ProviderError``\\s, so the API answers a problem document, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from inboxcrm.domain.errors import ProviderError, ProviderTransientError

__all__ = [
    "ContextMessage",
    "DraftContext",
    "DraftText",
    "DraftingKeyRefused",
    "DraftingProvider",
    "DraftingUnavailable",
]


class DraftingKeyRefused(ProviderError):
    code = "ai_key_refused"
    status = 502


class DraftingUnavailable(ProviderTransientError):
    code = "ai_unavailable"


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """One message of the thread, as the provider may see it (body already cut)."""

    provider_message_id: str
    direction: Literal["inbound", "outbound"]
    sender: str
    sent_at: datetime
    subject: str
    body: str


@dataclass(frozen=True)
class DraftContext:
    record_kind: str
    record_name: str
    record_fields: dict[str, str]
    open_deals: list[dict[str, str]]
    messages: list[ContextMessage]
    sender_name: str
    instructions: str = ""
    reply_subject: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DraftText:
    subject: str
    body_text: str
    provider: Literal["anthropic", "offline"]
    model: str | None


class DraftingProvider(Protocol):
    name: str

    def draft(self, context: DraftContext) -> DraftText: ...

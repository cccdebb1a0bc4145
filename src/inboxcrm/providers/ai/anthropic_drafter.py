"""Drafts by Anthropic Claude through the official ``anthropic`` SDK.

Key from ``ANTHROPIC_API_KEY``, model from ``INBOXCRM_AI_MODEL``, endpoint from
``ANTHROPIC_BASE_URL`` (passed to the SDK as ``base_url``; tests point it at a local double).
The SDK retries 429 and 5xx answers itself (``max_retries``) within ``timeout``. Each call is
one stateless Messages API request: the system prompt, and one user message holding the context.
A refused key becomes :class:`DraftingKeyRefused`; anything else that fails,
:class:`DraftingUnavailable`. The context (mail bodies) is never logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anthropic

from inboxcrm.providers.ai.anthropic_client import anthropic_client
from inboxcrm.providers.ai.base import (
    DraftContext,
    DraftingKeyRefused,
    DraftingUnavailable,
    DraftText,
)

__all__ = ["SYSTEM_PROMPT", "AnthropicDrafter"]

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You write short, friendly, professional sales and support emails for a CRM user. "
    "Use only the facts in the context you are given; never invent prices, dates or commitments. "
    'Answer with a JSON object {"subject": ..., "body": ...} and nothing else; the body is '
    "plain text signed with the sender's name. A human reviews the draft before it is sent."
)
MAX_TOKENS = 1024


def _user_message(context: DraftContext) -> str:
    payload: dict[str, Any] = {
        "record": {
            "kind": context.record_kind,
            "name": context.record_name,
            **context.record_fields,
        },
        "open_deals": context.open_deals,
        "thread": [
            {
                "from": m.sender,
                "direction": m.direction,
                "sent_at": m.sent_at.isoformat(),
                "subject": m.subject,
                "body": m.body,
            }
            for m in context.messages
        ],
        "sender_name": context.sender_name,
        "reply_subject": context.reply_subject,
        "instructions": context.instructions,
    }
    return "Context of the email to draft:\n" + json.dumps(payload, ensure_ascii=False, indent=1)


def _parse(text: str, context: DraftContext) -> tuple[str, str]:
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        try:
            data = json.loads(text[start : end + 1])
            subject = str(data.get("subject") or context.reply_subject or "")
            body = str(data.get("body") or "")
            if body:
                return subject, body
        except (ValueError, AttributeError):
            pass
    return context.reply_subject, text.strip()


class AnthropicDrafter:
    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        *,
        model: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self._client = anthropic_client(
            api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    def draft(self, context: DraftContext) -> DraftText:
        try:
            response = self._client.messages.create(
                model=self.model,
                max_tokens=MAX_TOKENS,
                system=SYSTEM_PROMPT,
                messages=[{"role": "user", "content": _user_message(context)}],
            )
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            raise DraftingKeyRefused(
                "Anthropic refused the configured API key (ANTHROPIC_API_KEY); "
                "ask your administrator to check it"
            ) from exc
        except anthropic.APIStatusError as exc:
            logger.warning("Anthropic answered HTTP %s to a draft request", exc.status_code)
            raise DraftingUnavailable(
                f"the AI provider could not write a draft now (HTTP {exc.status_code}); "
                "try again later"
            ) from exc
        except anthropic.APIError as exc:
            logger.warning("Anthropic draft request failed: %s", type(exc).__name__)
            raise DraftingUnavailable(
                "the AI provider could not be reached; try again later"
            ) from exc
        text = "".join(
            getattr(block, "text", "") for block in response.content if block.type == "text"
        )
        subject, body = _parse(text, context)
        return DraftText(subject=subject, body_text=body, provider="anthropic", model=self.model)

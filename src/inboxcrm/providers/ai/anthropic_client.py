"""The one place an Anthropic SDK client is made (drafts and talking points share it)."""

from __future__ import annotations

import anthropic


def anthropic_client(
    api_key: str, *, base_url: str | None, timeout: float, max_retries: int
) -> anthropic.Anthropic:
    """A client with the product's timeout and retry bounds (``base_url`` None: the SDK's own)."""
    return anthropic.Anthropic(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
    )

"""The offline, rule-based drafter: no AI, no network. Used when no Anthropic key is set, and
labelled "not AI" wherever its drafts are shown.

It greets the record by first name, quotes the last inbound question (or the last inbound
message's first sentence) and answers it from a few templates, and signs with the sender's name.
"""

from __future__ import annotations

import re

from inboxcrm.providers.ai.base import DraftContext, DraftText

__all__ = ["OfflineDrafter"]

_TEMPLATES = (
    (
        re.compile(r"\b(price|pricing|cost|quote|offer|angebot|preis)", re.I),
        "I will send you our current pricing and an offer that fits your needs.",
    ),
    (
        re.compile(r"\b(meet|meeting|call|demo|time|when|available)", re.I),
        "I would be glad to set up a call. Which times this week work for you?",
    ),
    (
        re.compile(r"\b(contract|terms|agreement|sign)", re.I),
        "I will check the terms with our team and come back to you with the details.",
    ),
)
_DEFAULT = "Thank you for your message. I will look into it and get back to you shortly."


def _question(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(">")]
    joined = " ".join(lines)
    questions: list[str] = re.findall(r"[^.!?]*\?", joined)
    if questions:
        return questions[-1].strip()
    first = re.split(r"(?<=[.!])\s", joined, maxsplit=1)[0]
    return first.strip()[:300]


class OfflineDrafter:
    name = "offline"

    def draft(self, context: DraftContext) -> DraftText:
        first_name = context.record_fields.get("first_name") or context.record_name
        inbound = [m for m in context.messages if m.direction == "inbound"]
        lines = [f"Hello {first_name},".strip(), ""]
        if inbound:
            asked = _question(inbound[-1].body)
            if asked:
                lines += [f"> {asked}", ""]
            answer = next((text for rx, text in _TEMPLATES if rx.search(asked)), _DEFAULT)
            lines.append(answer)
        else:
            lines.append("I hope you are well. I wanted to follow up on our conversation.")
        if context.instructions:
            lines += ["", context.instructions.strip()]
        lines += ["", "Best regards,", context.sender_name]
        subject = context.reply_subject or f"Following up, {first_name}"
        return DraftText(
            subject=subject, body_text="\n".join(lines), provider="offline", model=None
        )

"""Talking points for a meeting prep brief, from Claude or from the offline rules.

A provider gets one :class:`MeetingContext` (built by :mod:`inboxcrm.services.prep_briefs`:
the meeting, each attendee's profile and strength, recent interactions, open deals) and
returns 3-5 :class:`TalkingPoints`. :class:`AnthropicTalkingPoints` asks the Messages API for
``{"points": [...]}`` (the SDK retries 429/5xx; a refused key or an outage falls back to the
offline points, labelled as such, so a brief is never lost to the AI provider);
:class:`OfflineTalkingPoints` derives them from the context without AI or network, and its
points are labelled "not AI" wherever they are shown. The context is never logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "MAX_POINTS",
    "MIN_POINTS",
    "AnthropicTalkingPoints",
    "AttendeeProfile",
    "MeetingContext",
    "OfflineTalkingPoints",
    "TalkingPoints",
    "TalkingPointsProvider",
]

logger = logging.getLogger(__name__)

MIN_POINTS = 3
MAX_POINTS = 5


@dataclass(frozen=True)
class AttendeeProfile:
    email: str
    name: str
    title: str
    company: str
    strength: str


@dataclass(frozen=True)
class MeetingContext:
    title: str
    starts: str
    attendees: list[AttendeeProfile]
    interactions: list[str]
    open_deals: list[str] = field(default_factory=list)
    description: str = ""


@dataclass(frozen=True)
class TalkingPoints:
    points: list[str]
    provider: Literal["anthropic", "offline"]
    model: str | None


class TalkingPointsProvider(Protocol):
    name: str

    def talking_points(self, context: MeetingContext) -> TalkingPoints: ...


class OfflineTalkingPoints:
    """Rule-based points from the context (no AI)."""

    name = "offline"

    def talking_points(self, context: MeetingContext) -> TalkingPoints:
        points: list[str] = []
        for deal in context.open_deals[:2]:
            points.append(f"Check the status and next step of the open deal {deal}.")
        if context.interactions:
            points.append(f"Follow up on the latest exchange: {context.interactions[0]}.")
        cold = [a.name or a.email for a in context.attendees if a.strength == "Cold"]
        if cold:
            points.append(f"Reconnect with {', '.join(cold[:3])}: little contact lately.")
        strong = [a.name or a.email for a in context.attendees if a.strength == "Strong"]
        if strong:
            points.append(f"Build on the regular contact with {', '.join(strong[:3])}.")
        companies = sorted({a.company for a in context.attendees if a.company})
        if companies:
            points.append(f"Ask about current priorities at {', '.join(companies[:3])}.")
        fillers = [
            f"Confirm the goal of “{context.title}” at the start.",
            "Agree on concrete next steps and who owns them.",
            "Close with a date for the follow-up.",
        ]
        for filler in fillers:
            if len(points) >= MIN_POINTS:
                break
            points.append(filler)
        return TalkingPoints(points[:MAX_POINTS], "offline", None)


SYSTEM_PROMPT = (
    "You prepare a CRM user for a customer meeting. From the context you are given, write 3 to 5 "
    "short, concrete talking points. Use only the facts in the context; never invent prices, "
    'dates or commitments. Answer with a JSON object {"points": ["...", ...]} and nothing else.'
)


def _user_message(context: MeetingContext) -> str:
    payload = {
        "meeting": {
            "title": context.title,
            "starts": context.starts,
            "description": context.description,
        },
        "attendees": [a.__dict__ for a in context.attendees],
        "recent_interactions": context.interactions,
        "open_deals": context.open_deals,
    }
    return "Context of the meeting:\n" + json.dumps(payload, ensure_ascii=False, indent=1)


def _parse(text: str) -> list[str]:
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        try:
            data = json.loads(text[start : end + 1])
            raw = data.get("points") if isinstance(data, dict) else None
            if isinstance(raw, list):
                return [str(p).strip() for p in raw if str(p).strip()]
        except ValueError:
            pass
    return [ln.strip(" -*•\t") for ln in text.splitlines() if ln.strip(" -*•\t")]


class AnthropicTalkingPoints:
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
        from inboxcrm.providers.ai.anthropic_client import anthropic_client

        self.model = model
        self._client = anthropic_client(
            api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    def talking_points(self, context: MeetingContext) -> TalkingPoints:
        import anthropic

        try:
            response = self._client.messages.create(
                model=self.model,
                max_tokens=600,
                system=SYSTEM_PROMPT,
                messages=[{"role": "user", "content": _user_message(context)}],
            )
        except anthropic.APIError as exc:
            logger.warning("talking points from Anthropic failed (%s)", type(exc).__name__)
            return OfflineTalkingPoints().talking_points(context)
        text = "".join(
            getattr(block, "text", "") for block in response.content if block.type == "text"
        )
        points = _parse(text)[:MAX_POINTS]
        if len(points) < MIN_POINTS:
            return OfflineTalkingPoints().talking_points(context)
        return TalkingPoints(points, "anthropic", self.model)

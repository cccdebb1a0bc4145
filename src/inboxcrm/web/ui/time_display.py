"""How the UI shows a moment: in the viewer's time zone, relative when it is recent.

Storage is UTC (STYLE 10). A page shows times in the zone the user chose under Preferences, or
else the browser's zone (``app.js`` puts it in the ``inboxcrm_tz`` cookie), or else UTC. Past
moments of the last week read "just now", "5 min ago", "2 h ago", "3 days ago"; older and future
ones are absolute ("12 Mar 2025, 14:03"). Every rendered time is a ``<time>`` element whose
``datetime`` is the exact UTC instant and whose tooltip is the absolute time with its zone, so
nothing is lost by the short form.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from markupsafe import Markup, escape

__all__ = [
    "TZ_COOKIE",
    "absolute_time",
    "is_time_zone",
    "relative_time",
    "resolve_zone",
    "time_element",
    "time_zone_choices",
]

TZ_COOKIE = "inboxcrm_tz"
RELATIVE_FOR = timedelta(days=7)


@lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo | None:
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_time_zone(name: str) -> bool:
    """True for an IANA zone name this machine knows (``Europe/Istanbul``, ``UTC``)."""
    return _zone(name) is not None


def resolve_zone(*candidates: str | None) -> tzinfo:
    """The first valid zone among ``candidates`` (preference, browser cookie), else UTC."""
    for name in candidates:
        zone = _zone(name or "")
        if zone is not None:
            return zone
    return UTC


@lru_cache(maxsize=1)
def time_zone_choices() -> tuple[str, ...]:
    """Every IANA zone name, sorted, for the preference select (UTC first)."""
    names = sorted(n for n in available_timezones() if "/" in n and not n.startswith("Etc/"))
    return ("UTC", *names)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _offset_name(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"GMT{sign}{hours}" + (f":{rest:02d}" if rest else "")


def absolute_time(value: datetime | date, zone: tzinfo = UTC, *, with_zone: bool = False) -> str:
    """``12 Mar 2025, 14:03`` in ``zone`` (``… GMT+3`` with ``with_zone``); a date alone:
    ``12 Mar 2025``."""
    if not isinstance(value, datetime):
        return value.strftime("%d %b %Y").lstrip("0")
    moment = _aware(value).astimezone(zone)
    text = moment.strftime("%d %b %Y, %H:%M").lstrip("0")
    return f"{text} {_offset_name(moment)}" if with_zone else text


def relative_time(value: datetime, now: datetime) -> str | None:
    """ "just now", "5 min ago", "2 h ago", "3 days ago" for the past week; None otherwise."""
    delta = now - _aware(value)
    if delta < timedelta(0) or delta >= RELATIVE_FOR:
        return None
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86_400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86_400
    return "yesterday" if days == 1 else f"{days} days ago"


def time_element(
    value: datetime | date | None, zone: tzinfo = UTC, now: datetime | None = None
) -> Markup:
    """A ``<time>`` element for ``value`` (see the module docstring); empty for None."""
    if value is None:
        return Markup("")
    if not isinstance(value, datetime):
        text = absolute_time(value)
        return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), text)
    moment = _aware(value)
    exact = absolute_time(moment, zone, with_zone=True)
    shown = relative_time(moment, now or datetime.now(UTC)) or absolute_time(moment, zone)
    iso = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, exact, escape(shown))

"""Recurring Calendar v3 events: expanding an ``RRULE`` into instances, as Google names them.

An instance of recurring event ``E`` starting at ``2030-05-01T10:00:00Z`` has the id
``E_20300501T100000Z``, ``recurringEventId: E``, ``originalStartTime`` and no ``recurrence``.
Supported: ``FREQ=DAILY|WEEKLY|MONTHLY`` with ``INTERVAL``, ``COUNT``, ``UNTIL`` and (weekly)
``BYDAY``; ``EXDATE`` lines remove instances. Unbounded rules stop after :data:`MAX_INSTANCES`.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["MAX_INSTANCES", "expand", "instance_id", "parse_time", "split_instance_id"]

MAX_INSTANCES = 730
_DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


def parse_time(value: Any) -> datetime | None:
    """An event time (``{"dateTime"}`` or ``{"date"}``) as an aware datetime."""
    if not isinstance(value, dict):
        return None
    text = value.get("dateTime") or value.get("date")
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instance_id(base_id: str, start: datetime) -> str:
    return f"{base_id}_{_stamp(start)}"


def split_instance_id(event_id: str) -> tuple[str, datetime] | None:
    """``(base id, original start)`` of an instance id, or None."""
    base, sep, stamp = event_id.rpartition("_")
    if not sep or not base:
        return None
    try:
        moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return base, moment


def _rule(recurrence: list[Any]) -> tuple[dict[str, str], set[str]]:
    rule: dict[str, str] = {}
    exdates: set[str] = set()
    for line in recurrence:
        text = str(line)
        if text.startswith("RRULE:"):
            for part in text[6:].split(";"):
                key, _, value = part.partition("=")
                rule[key.upper()] = value
        elif text.startswith("EXDATE"):
            for value in text.partition(":")[2].split(","):
                exdates.add(value.strip().rstrip("Z") + "Z")
    return rule, exdates


def _until(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in ("%Y%m%dT%H%M%SZ", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _starts(first: datetime, rule: dict[str, str]) -> Iterator[datetime]:
    freq = rule.get("FREQ", "DAILY").upper()
    interval = max(1, int(rule.get("INTERVAL", "1") or 1))
    if freq == "WEEKLY":
        days = sorted({_DAYS[d[-2:]] for d in rule.get("BYDAY", "").split(",") if d[-2:] in _DAYS})
        if not days:
            days = [first.weekday()]
        week = first - timedelta(days=first.weekday())
        while True:
            for day in days:
                moment = week + timedelta(days=day)
                if moment >= first:
                    yield moment
            week += timedelta(weeks=interval)
    elif freq == "MONTHLY":
        index = 0
        while True:
            month0 = first.month - 1 + index * interval
            year, month = first.year + month0 // 12, month0 % 12 + 1
            # The 31st in a shorter month is skipped, as RFC 5545 says.
            with contextlib.suppress(ValueError):
                yield first.replace(year=year, month=month)
            index += 1
    else:
        step = timedelta(days=interval)
        moment = first
        while True:
            yield moment
            moment += step


def expand(
    master: dict[str, Any], time_min: datetime | None, time_max: datetime | None
) -> list[dict[str, Any]]:
    """The instances of recurring event ``master`` overlapping ``[time_min, time_max)``."""
    first = parse_time(master.get("start"))
    end = parse_time(master.get("end"))
    if first is None or end is None:
        return []
    rule, exdates = _rule(list(master.get("recurrence") or []))
    if not rule:
        return []
    duration = end - first
    count = int(rule["COUNT"]) if rule.get("COUNT", "").isdigit() else None
    until = _until(rule.get("UNTIL"))
    all_day = "date" in (master.get("start") or {})
    out: list[dict[str, Any]] = []
    for number, start in enumerate(_starts(first, rule)):
        if count is not None and number >= count:
            break
        if until is not None and start > until:
            break
        if number >= MAX_INSTANCES or (time_max is not None and start >= time_max):
            break
        if _stamp(start) in exdates:
            continue
        if time_min is not None and start + duration <= time_min:
            continue
        instance = copy.deepcopy(master)
        instance.pop("recurrence", None)
        instance["id"] = instance_id(str(master["id"]), start)
        instance["recurringEventId"] = master["id"]
        if all_day:
            instance["start"] = {"date": start.date().isoformat()}
            instance["end"] = {"date": (start + duration).date().isoformat()}
            instance["originalStartTime"] = {"date": start.date().isoformat()}
        else:
            zone = (master.get("start") or {}).get("timeZone")
            instance["start"] = {"dateTime": _iso(start), **({"timeZone": zone} if zone else {})}
            instance["end"] = {
                "dateTime": _iso(start + duration),
                **({"timeZone": zone} if zone else {}),
            }
            instance["originalStartTime"] = dict(instance["start"])
        out.append(instance)
    return out

"""The emulator's RRULE expansion (instances named as Google names them)."""

from __future__ import annotations

from datetime import UTC, datetime

from inboxcrm.emulator.calendar_recurrence import expand, split_instance_id


def _master(rule: str, **extra: object) -> dict[str, object]:
    return {
        "id": "abc",
        "start": {"dateTime": "2030-01-31T09:00:00Z"},
        "end": {"dateTime": "2030-01-31T10:00:00Z"},
        "recurrence": [rule],
        **extra,
    }


def test_weekly_byday_with_count() -> None:
    got = expand(_master("RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=4"), None, None)
    assert [i["start"]["dateTime"] for i in got] == [  # type: ignore[index]
        "2030-01-31T09:00:00Z",
        "2030-02-04T09:00:00Z",
        "2030-02-07T09:00:00Z",
        "2030-02-11T09:00:00Z",
    ]
    assert got[0]["id"] == "abc_20300131T090000Z"
    assert split_instance_id(str(got[1]["id"])) == ("abc", datetime(2030, 2, 4, 9, tzinfo=UTC))


def test_monthly_skips_short_months_and_until_and_exdate_apply() -> None:
    master = _master("RRULE:FREQ=MONTHLY;UNTIL=20300601T000000Z")
    master["recurrence"] = ["RRULE:FREQ=MONTHLY;UNTIL=20300601T000000Z", "EXDATE:20300331T090000Z"]
    got = expand(master, None, None)
    starts = [i["start"]["dateTime"][:10] for i in got]  # type: ignore[index]
    assert starts == ["2030-01-31", "2030-05-31"]  # no Feb/Apr 31st, March excluded


def test_window_bounds_and_unbounded_rules_stop() -> None:
    window = (datetime(2030, 2, 1, tzinfo=UTC), datetime(2030, 2, 4, tzinfo=UTC))
    got = expand(_master("RRULE:FREQ=DAILY"), *window)
    assert [i["start"]["dateTime"][:10] for i in got] == [  # type: ignore[index]
        "2030-02-01",
        "2030-02-02",
        "2030-02-03",
    ]
    assert len(expand(_master("RRULE:FREQ=DAILY"), None, None)) == 730

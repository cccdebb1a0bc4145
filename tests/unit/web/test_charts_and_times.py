"""The inline-SVG bar chart and the time display, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from inboxcrm.web.ui.charts import BarChart, Series, nice_ceiling, render_bar_chart, tick_count
from inboxcrm.web.ui.time_display import (
    absolute_time,
    relative_time,
    resolve_zone,
    time_element,
)

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)


def test_nice_ceilings_and_ticks_are_round() -> None:
    tops = [nice_ceiling(v) for v in (0, 0.7, 2, 3, 7, 11, 240, 26_000)]
    assert tops == [1, 1, 2, 5, 10, 20, 250, 50_000]
    assert [tick_count(t) for t in tops] == [1, 1, 2, 5, 5, 4, 5, 5]  # steps 1, 1, 1, 1, 2, 5, 50…


def test_a_bar_chart_draws_one_bar_per_value_scaled_to_the_axis_and_escapes_labels() -> None:
    chart = BarChart(
        label="Mail <b>per</b> week",
        categories=["1 Mar", "8 Mar", "<script>"],
        series=[Series("Received", [4, 0, 10]), Series("Sent & co", [2, 5, 1])],
    )
    svg = str(render_bar_chart(chart))
    assert svg.count('<rect class="bar') == 6
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Sent &amp; co" in svg
    assert 'aria-label="Mail &lt;b&gt;per&lt;/b&gt; week"' in svg
    heights = [float(h) for h in __import__("re").findall(r'height="([0-9.]+)"><title>', svg)]
    assert max(heights) == 176.0  # 10 of an axis up to 10 fills the plot (220 - 10 - 34)
    assert "<table" in svg and "<td>10</td>" in svg  # the numbers for screen readers
    assert not chart.empty and BarChart("x", ["a"], [Series("s", [0])]).empty


def test_times_are_relative_for_a_week_then_absolute_in_the_zone() -> None:
    assert relative_time(NOW - timedelta(seconds=20), NOW) == "just now"
    assert relative_time(NOW - timedelta(minutes=5), NOW) == "5 min ago"
    assert relative_time(NOW - timedelta(hours=2, minutes=59), NOW) == "2 h ago"
    assert relative_time(NOW - timedelta(days=1, hours=2), NOW) == "yesterday"
    assert relative_time(NOW - timedelta(days=3), NOW) == "3 days ago"
    assert relative_time(NOW - timedelta(days=8), NOW) is None
    assert relative_time(NOW + timedelta(hours=1), NOW) is None  # the future stays absolute
    istanbul = ZoneInfo("Europe/Istanbul")
    moment = datetime(2025, 3, 12, 11, 3, tzinfo=UTC)
    assert absolute_time(moment, istanbul) == "12 Mar 2025, 14:03"
    assert absolute_time(moment, istanbul, with_zone=True) == "12 Mar 2025, 14:03 GMT+3"
    assert absolute_time(date(2025, 3, 1)) == "1 Mar 2025"
    html = str(time_element(moment, ZoneInfo("Asia/Kolkata"), NOW))
    assert html == (
        '<time datetime="2025-03-12T11:03:00Z" title="12 Mar 2025, 16:33 GMT+5:30">'
        "12 Mar 2025, 16:33</time>"
    )


def test_unknown_or_hostile_zone_names_fall_back_to_utc() -> None:
    assert resolve_zone("Not/AZone", "../../etc/passwd", "") is UTC
    assert resolve_zone(None, "America/New_York") == ZoneInfo("America/New_York")
    assert resolve_zone("Europe/Berlin", "America/New_York") == ZoneInfo("Europe/Berlin")

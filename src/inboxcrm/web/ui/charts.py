"""Charts drawn on the server as inline SVG: no script, no CDN, no build step, readable offline.

A :class:`BarChart` has categories along the x axis (weeks, pipeline stages) and one or more
:class:`Series` (sent and received mail, one currency each); :func:`render_bar_chart` draws the
series side by side per category, with a y axis scaled to round numbers, a legend, and a
``<table>`` of the same numbers for screen readers and for anyone who would rather read.
Colours come from the stylesheet (``.series-0`` …), so charts follow the page's theme. The same
component serves mail volume (record and account pages), pipeline value (deals) and, when
tracking exists, open and click rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from markupsafe import Markup, escape

__all__ = ["BarChart", "Series", "nice_ceiling", "render_bar_chart", "tick_count"]

Number = int | float | Decimal

WIDTH = 640
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 8, 10, 34


@dataclass(frozen=True)
class Series:
    """One set of values, one per category."""

    name: str
    values: Sequence[Number]


@dataclass(frozen=True)
class BarChart:
    """What a chart shows; ``label`` names it for assistive technology."""

    label: str
    categories: Sequence[str]
    series: Sequence[Series]
    format_value: Callable[[Number], str] = field(default=lambda v: f"{v:,.0f}")

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    steps = (1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)  # small counts stay whole
    for step in steps:
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def tick_count(top: float) -> int:
    """How many steps the y axis has up to ``top`` (a :func:`nice_ceiling`), each a round number."""
    lead = top / 10 ** math.floor(math.log10(top))
    count = 4 if math.isclose(lead, 2) else 5
    return min(count, int(top)) if top <= 5 and top == int(top) else count


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def render_bar_chart(chart: BarChart) -> Markup:
    """The chart as a ``<figure>`` with an inline SVG and its data table."""
    top = nice_ceiling(max((float(v) for s in chart.series for v in s.values), default=0.0))
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    count = max(len(chart.categories), 1)
    slot = plot_w / count
    group = slot * 0.78
    bar_w = group / max(len(chart.series), 1)
    label_every = max(1, math.ceil(count / 12))
    parts: list[str] = []
    ticks = tick_count(top)
    for i in range(ticks + 1):  # grid lines and y labels at round steps
        y = _TOP + plot_h - plot_h * i / ticks
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{_fmt(y)}" y2="{_fmt(y)}"/>'
        )
        tick = escape(chart.format_value(top * i / ticks))
        parts.append(
            f'<text class="axis" x="{_LEFT - 6}" y="{_fmt(y + 4)}" text-anchor="end">{tick}</text>'
        )
    for c, category in enumerate(chart.categories):
        x0 = _LEFT + c * slot + (slot - group) / 2
        for s, series in enumerate(chart.series):
            value = float(series.values[c]) if c < len(series.values) else 0.0
            h = plot_h * value / top
            x = x0 + s * bar_w
            tip = escape(f"{series.name}, {category}: {chart.format_value(value)}")
            parts.append(
                f'<rect class="bar series-{s}" x="{_fmt(x)}" y="{_fmt(_TOP + plot_h - h)}" '
                f'width="{_fmt(max(bar_w - 1.5, 1))}" height="{_fmt(h)}">'
                f"<title>{tip}</title></rect>"
            )
        if c % label_every == 0:
            cx = _LEFT + c * slot + slot / 2
            odd = " every-other" if (c // label_every) % 2 else ""  # hidden on narrow screens
            parts.append(
                f'<text class="axis x-label{odd}" x="{_fmt(cx)}" y="{HEIGHT - _BOTTOM + 16}" '
                f'text-anchor="middle">{escape(category)}</text>'
            )
    legend = "".join(
        f'<li><span class="swatch series-{s}" aria-hidden="true"></span>{escape(series.name)}</li>'
        for s, series in enumerate(chart.series)
    )
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in chart.series)
    rows = "".join(
        f'<tr><th scope="row">{escape(category)}</th>'
        + "".join(
            f"<td>{escape(chart.format_value(s.values[c] if c < len(s.values) else 0))}</td>"
            for s in chart.series
        )
        + "</tr>"
        for c, category in enumerate(chart.categories)
    )
    label = escape(chart.label)
    svg = (
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" '
        f'preserveAspectRatio="xMinYMid meet" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + "</svg>"
    )
    table = (  # in a hidden box: a table ignores the 1 px width of .visually-hidden itself
        f'<div class="visually-hidden"><table class="chart-data"><caption>{label}</caption>'
        f"<thead><tr><td></td>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )
    return Markup(  # noqa: S704  # nosec B704 - every text above is escaped; the rest is ours
        f'<figure class="chart"><ul class="chart-legend">{legend}</ul>{svg}{table}</figure>'
    )

"""The charts of record and deal pages, built from the services' numbers (see ``charts``)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup

from inboxcrm.services.mail_volume import WeekVolume
from inboxcrm.web.ui.charts import BarChart, Number, Series, render_bar_chart

__all__ = ["mail_volume_chart", "pipeline_chart"]


def mail_volume_chart(weeks: Sequence[WeekVolume], name: str) -> Markup | None:
    """Sent and received mail per week; None when there was none in the period."""
    chart = BarChart(
        label=f"Mail per week with {name}, received and sent",
        categories=[w.week.strftime("%d %b").lstrip("0") for w in weeks],
        series=[
            Series("Received", [w.received for w in weeks]),
            Series("Sent", [w.sent for w in weeks]),
        ],
    )
    return None if chart.empty else render_bar_chart(chart)


def _money(value: Number) -> str:
    amount = float(value)
    if amount >= 1_000_000:
        return f"{amount / 1_000_000:.1f}M".replace(".0M", "M")
    if amount >= 10_000:
        return f"{amount / 1000:.1f}k".replace(".0k", "k")
    return f"{amount:,.0f}"


def pipeline_chart(stages: Sequence[str], sums: dict[str, dict[str, Decimal]]) -> Markup | None:
    """Open deal value per stage, one series per currency; None without amounts."""
    currencies = sorted({cur for per_stage in sums.values() for cur in per_stage})
    chart = BarChart(
        label="Pipeline value by stage",
        categories=[s.capitalize() for s in stages],
        series=[
            Series(cur, [sums.get(stage, {}).get(cur, Decimal(0)) for stage in stages])
            for cur in currencies
        ],
        format_value=_money,
    )
    return None if not currencies or chart.empty else render_bar_chart(chart)

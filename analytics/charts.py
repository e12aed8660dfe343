"""Server-drawn SVG bar charts for the Analytics page, in integers (the values are
micro-credits and token counts; no float comes near them). Nothing is loaded from
anywhere: the page carries the SVG inline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#3b5bdb", "#f08c00", "#2b8a3e", "#c2255c", "#1098ad", "#7048e8", "#e8590c")
OTHER_COLOR = "#adb5bd"
LEFT, RIGHT, TOP, BOTTOM = 76, 8, 10, 26
PLOT_WIDTH, PLOT_HEIGHT = 680, 180
MAX_TICKS = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: dict  # bucket -> int
    color: str = PALETTE[0]


@dataclass(frozen=True)
class Segment:
    x: int
    y: int
    width: int
    height: int
    color: str
    title: str


@dataclass(frozen=True)
class Mark:
    at: int  # x for a tick, y for a gridline
    label: str


@dataclass
class Chart:
    chart_id: str
    title: str
    width: int
    height: int
    segments: list[Segment] = field(default_factory=list)
    gridlines: list[Mark] = field(default_factory=list)
    ticks: list[Mark] = field(default_factory=list)
    legend: list[Series] = field(default_factory=list)
    top: int = TOP
    left: int = LEFT
    baseline: int = TOP + PLOT_HEIGHT
    plot_right: int = 0

    def svg(self) -> SafeString:
        """The chart as inline SVG, built here rather than in a template loop (a 90-day
        chart has hundreds of bars). Numbers are ints, colors our constants, and every
        text is escaped, so the markup is safe."""
        parts = [
            f'<svg class="chart-svg" viewBox="0 0 {self.width} {self.height}" role="img" '
            f'aria-label="{escape(self.title)}" preserveAspectRatio="xMinYMin meet">'
        ]
        for g in self.gridlines:
            parts.append(
                f'<line class="gridline" x1="{self.left}" x2="{self.plot_right}" y1="{g.at}" '
                f'y2="{g.at}"/><text class="ylabel" x="{self.left - 6}" y="{g.at + 4}">'
                f"{escape(g.label)}</text>"
            )
        for b in self.segments:
            parts.append(
                f'<rect x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}" '
                f'fill="{b.color}"><title>{escape(b.title)}</title></rect>'
            )
        for t in self.ticks:
            parts.append(
                f'<text class="xlabel" x="{t.at}" y="{self.baseline + 17}">{escape(t.label)}</text>'
            )
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 -- every text escaped above


def nice_ceiling(value: int) -> tuple[int, int]:
    """The smallest 1, 2 or 5 × 10^k (k ≥ 0) that is at least `value` (1 for nothing),
    and how many gridline steps divide it evenly (0.2, 0.5 or 1 × 10^k each)."""
    step = 1
    while True:
        for factor, lines in ((1, 5), (2, 4), (5, 5)):
            if factor * step >= value:
                top = factor * step
                while top % lines:  # small tops: no fractional steps
                    lines -= 1
                return top, lines
        step *= 10


def bucket_label(bucket: date | datetime, *, long: bool = False) -> str:
    if isinstance(bucket, datetime):
        return bucket.strftime("%a %-d %b %H:%M" if long else "%H:%M")
    return bucket.strftime("%a %-d %b %Y" if long else "%-d %b")


def stacked_bars(
    *,
    chart_id: str,
    title: str,
    buckets: list,
    series: list[Series],
    fmt: Callable[[int], str],
) -> Chart:
    """Bars per bucket, each stacked from the series in order (first at the bottom).
    `buckets` are dates or (local) datetimes; `fmt` labels a value."""
    n = max(len(buckets), 1)
    slot = max(PLOT_WIDTH // n, 3)
    gap = max(slot // 5, 1)
    chart = Chart(chart_id, title, LEFT + slot * n + RIGHT, TOP + PLOT_HEIGHT + BOTTOM)
    chart.plot_right = LEFT + slot * n
    chart.legend = [s for s in series if any(s.values.values())]
    totals = [sum(s.values.get(b, 0) for s in series) for b in buckets]
    top, lines = nice_ceiling(max(totals, default=0))
    for i in range(lines + 1):
        y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * i // lines
        chart.gridlines.append(Mark(y, fmt(top * i // lines)))
    every = -(-n // MAX_TICKS)
    for i, bucket in enumerate(buckets):
        x = LEFT + i * slot
        if i % every == 0:
            chart.ticks.append(Mark(x + (slot - gap) // 2, bucket_label(bucket)))
        below = 0
        for s in series:
            value = s.values.get(bucket, 0)
            if not value:
                continue
            y0 = PLOT_HEIGHT * below // top
            below += value
            y1 = PLOT_HEIGHT * below // top
            chart.segments.append(
                Segment(
                    x=x,
                    y=TOP + PLOT_HEIGHT - y1,
                    width=slot - gap,
                    height=max(y1 - y0, 1),
                    color=s.color,
                    title=f"{bucket_label(bucket, long=True)} · {s.name}: {fmt(value)}",
                )
            )
    return chart


def compact(value: int) -> str:
    """12_345_678 -> "12.3M" (counts on chart axes)."""
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if value >= size - size // 20:  # 999_999 is "1.0M", not "1000k"
            tenths = (value * 10 + size // 2) // size
            whole, frac = divmod(tenths, 10)
            return f"{whole}.{frac}{suffix}" if frac and whole < 100 else f"{whole}{suffix}"
    return str(value)

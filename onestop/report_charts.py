"""Inline SVG charts for the HTML report: no script, no font, no network.

Bars start at zero, so a tenth of a point looks like a tenth of a point; every bar carries its
value. The trend chart's vertical axis may start above zero (rates of 99.9 % would otherwise be
flat lines on the top edge); when it does, the axis is drawn broken and says where it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from onestop.presentation import percent

#: Candidate starts of the trend chart's vertical axis, highest first.
_AXIS_FLOORS = (0.999, 0.998, 0.995, 0.99, 0.98, 0.95, 0.9, 0.8, 0.5)
#: One colour per series of the trend chart (levels top-down), readable side by side.
_SERIES_COLOURS = ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f")
#: Dash pattern per series, so lines that coincide (two levels at 100 %) both stay visible.
_SERIES_DASHES = ("", "8 4", "2 3", "12 3 2 3", "4 4")
_WIDTH, _BAR_H, _LEFT = 760, 26, 260
#: Longest bar label drawn in full (12 px text in the 260 px margin); longer ones are cut.
_LABEL_CHARS = 34


def short(label: str) -> str:
    """``label`` cut to fit the bar charts' margin, with an ellipsis.

    Example:
        >>> short("Cấp giấy phép xây dựng")
        'Cấp giấy phép xây dựng'
        >>> short("x" * 40)
        'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'
    """
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _svg_open(css_class: str, height: int, title: str, width: int = _WIDTH) -> str:
    return (
        f'<svg class="chart {css_class}" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )


def axis(left: int, span: int, y: int, low: str, high: str) -> str:
    """A horizontal axis line from ``left`` over ``span`` pixels, labelled at both ends."""
    return (
        f'<line x1="{left}" y1="{y - 12}" x2="{left + span}" y2="{y - 12}" stroke="#757575"/>'
        f'<text x="{left}" y="{y}" class="axis">{low}</text>'
        f'<text x="{left + span}" y="{y}" class="axis" text-anchor="end">{high}</text>'
    )


def bar_chart(
    bars: Sequence[tuple[str, float, str]],
    *,
    top: float,
    title: str,
    low: str,
    high: str,
    css_class: str,
    colour: str = "#1565c0",
    track: str | None = None,
) -> str:
    """Horizontal bars from zero.

    Args:
        bars: ``(label, value, value as text)`` per bar, drawn top-down.
        top: The value at the right end of the axis (at least every value).
        title: The chart's accessible title.
        low: The axis label at zero.
        high: The axis label at ``top``.
        css_class: Extra class of the ``<svg>`` element.
        colour: Fill of the bars.
        track: Fill of a full-length track behind each bar, for bars that are shares of
            ``top`` (the value's text then follows the track, not the bar).
    """
    span = _WIDTH - _LEFT - 90
    height = 40 + _BAR_H * len(bars)
    parts = [_svg_open(css_class, height, title)]
    for i, (label, value, text) in enumerate(bars):
        w = max(1.0, value / top * span) if top else 1.0
        y = 10 + i * _BAR_H
        parts.append(
            f'<text x="{_LEFT - 8}" y="{y + 15}" text-anchor="end">{escape(short(label))}'
            f"<title>{escape(label)}</title></text>"
        )
        if track is not None:
            parts.append(
                f'<rect x="{_LEFT}" y="{y}" width="{span}" height="{_BAR_H - 6}" fill="{track}"/>'
            )
        end = _LEFT + (span if track is not None else w)
        parts.append(
            f'<rect x="{_LEFT}" y="{y}" width="{w:.1f}" height="{_BAR_H - 6}" fill="{colour}"/>'
            f'<text x="{end + 6:.1f}" y="{y + 15}">{escape(text)}</text>'
        )
    parts.append(axis(_LEFT, span, height - 6, low, high))
    parts.append("</svg>")
    return "".join(parts)


def stacked_chart(
    rows: Sequence[tuple[str, Sequence[tuple[str, float, str]], str]],
    *,
    top: float,
    title: str,
    high: str,
    legend: Sequence[tuple[str, str]],
) -> str:
    """Horizontal stacked bars from zero, with the total at the end of each bar.

    Args:
        rows: ``(label, [(colour, value, tooltip), ...], total as text)`` per bar.
        top: The largest total (the right end of the axis).
        title: The chart's accessible title.
        high: The axis label at ``top``.
        legend: ``(colour, text)`` per part.
    """
    span = _WIDTH - _LEFT - 60
    height = 64 + _BAR_H * len(rows)
    parts = [_svg_open("counts", height, title)]
    for i, (label, pieces, total) in enumerate(rows):
        y = 10 + i * _BAR_H
        x = float(_LEFT)
        parts.append(
            f'<text x="{_LEFT - 8}" y="{y + 15}" text-anchor="end">{escape(short(label))}'
            f"<title>{escape(label)}</title></text>"
        )
        for colour, value, tip in pieces:
            w = value / top * span if top else 0.0
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{_BAR_H - 6}" '
                    f'fill="{colour}"><title>{escape(tip)}</title></rect>'
                )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{escape(total)}</text>')
    parts.append(axis(_LEFT, span, 24 + _BAR_H * len(rows), "0", high))
    legend_y = height - 12
    for j, (colour, text) in enumerate(legend):
        lx = _LEFT + j * 160
        parts.append(
            f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{legend_y}">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def axis_floor(lowest: float) -> float:
    """Where the trend chart's vertical axis starts: the highest of a few round values below
    the lowest rate, or zero when rates go below one half.

    Example:
        >>> axis_floor(0.9996), axis_floor(0.9990), axis_floor(0.97), axis_floor(0.3)
        (0.999, 0.998, 0.95, 0.0)
    """
    return next((f for f in _AXIS_FLOORS if f < lowest), 0.0)


def trend_chart(months: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]]) -> str:
    """On-time rate per month, one line per series; gaps where a month had no resolution.

    Args:
        months: The x-axis labels, one per month.
        series: ``(name, rate per month)`` per line.
    """
    values = [v for _, rates in series for v in rates if v is not None]
    if not values or not months:
        return ""
    floor = axis_floor(min(values))
    width, height, left, right, top, bottom = _WIDTH, 310, 70, 20, 20, 250
    step = (width - left - right) / max(1, len(months) - 1)

    def y_of(rate: float) -> float:
        return bottom - (rate - floor) / (1 - floor) * (bottom - top)

    parts = [_svg_open("trend", height, "Tỷ lệ đúng hạn theo tháng / On-time rate by month")]
    for frac in (0.0, 0.5, 1.0):
        rate = floor + frac * (1 - floor)
        y = y_of(rate)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e0e0e0"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{percent(rate, 'vi', 1 if floor < 0.99 else 2)}</text>"
        )
    if floor > 0:
        # A broken axis, drawn as a zigzag on the vertical axis just above its foot.
        zig = (
            f"{left},{bottom} {left - 5},{bottom - 4} {left + 5},{bottom - 8} {left},{bottom - 12}"
        )
        parts.append(
            f'<polyline class="axis-break" points="{zig}" fill="none" stroke="#c62828"/>'
            f'<text x="{left}" y="{height - 6}" class="axis-note">'
            f"Trục tung bắt đầu từ {percent(floor, 'vi', 1)} (trục bị ngắt) / "
            f"Vertical axis starts at {percent(floor, 'en', 1)} (broken axis)</text>"
        )
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#757575"/>')
    for i, label in enumerate(months):
        x = left + i * step
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" class="axis" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    for k, (name, rates) in enumerate(series):
        colour = _SERIES_COLOURS[k % len(_SERIES_COLOURS)]
        dash = _SERIES_DASHES[k % len(_SERIES_DASHES)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        points = [(left + i * step, y_of(r)) for i, r in enumerate(rates) if r is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dashed}/>'
            )
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points
        )
        lx = left + k * 170
        parts.append(
            f'<line x1="{lx}" y1="{bottom + 32}" x2="{lx + 24}" y2="{bottom + 32}" '
            f'stroke="{colour}" stroke-width="3"{dashed}/>'
            f'<text x="{lx + 30}" y="{bottom + 36}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)

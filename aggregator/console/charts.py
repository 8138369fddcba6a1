"""Server-rendered SVG charts: real pictures with no JavaScript, no CDN and
no third-party code in the repository. Every text is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (may be empty to thin out the axis)
    value: int
    tooltip: str  # shown on hover; says what the bar is in full


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^n at or above value, so the axis reads well."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    width: int = 560,
    height: int = 180,
    colour: str = "#ba2121",
) -> SafeString:
    """A bar chart with a labelled y axis (0 and the rounded maximum), a
    mid grid line, and a hover title on every bar."""
    left, right, top, bottom = 44, 8, 12, 24
    plot_width = width - left - right
    plot_height = height - top - bottom
    ceiling = _nice_ceiling(max((bar.value for bar in bars), default=0))
    slot = plot_width / max(len(bars), 1)
    bar_width = max(slot * 0.72, 1.0)
    rects = []
    labels = []
    for index, bar in enumerate(bars):
        bar_height = plot_height * bar.value / ceiling
        x = left + index * slot + (slot - bar_width) / 2
        y = top + plot_height - bar_height
        rects.append(
            (f"{x:.1f}", f"{y:.1f}", f"{bar_width:.1f}", f"{bar_height:.1f}", colour, f"{bar.tooltip}: {bar.value}")
        )
        if bar.label:
            labels.append((f"{left + index * slot + slot / 2:.1f}", f"{height - 8}", bar.label))
    grid_y = top + plot_height / 2
    return format_html(
        '<svg class="console-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
        'width="100%" role="img" aria-label="{title}"><title>{title}</title>'
        '<line x1="{l}" y1="{base}" x2="{r}" y2="{base}" stroke="#888" stroke-width="1"/>'
        '<line x1="{l}" y1="{grid}" x2="{r}" y2="{grid}" stroke="#ddd" stroke-dasharray="3,3"/>'
        '<line x1="{l}" y1="{top}" x2="{r}" y2="{top}" stroke="#ddd" stroke-dasharray="3,3"/>'
        '<text x="{ylab}" y="{top_text}" text-anchor="end" font-size="11" fill="#666">{ceiling}</text>'
        '<text x="{ylab}" y="{grid_text}" text-anchor="end" font-size="11" fill="#666">{half}</text>'
        '<text x="{ylab}" y="{base_text}" text-anchor="end" font-size="11" fill="#666">0</text>'
        "{rects}{labels}</svg>",
        w=width,
        h=height,
        title=title,
        l=left,
        r=width - right,
        base=top + plot_height,
        grid=f"{grid_y:.1f}",
        top=top,
        ylab=left - 6,
        top_text=top + 4,
        grid_text=f"{grid_y + 4:.1f}",
        base_text=top + plot_height + 4,
        ceiling=ceiling,
        half=f"{ceiling / 2:g}",
        rects=format_html_join(
            "",
            '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
            rects,
        ),
        labels=format_html_join(
            "", '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#444">{}</text>', labels
        ),
    )

"""Small pieces the admins use to show a row at a glance: coloured badges,
human sizes and durations, and links across the graph. Pure functions of
their arguments (no queries), so a list page stays one query per page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

COLOURS = {
    "green": "#2e7d32",
    "amber": "#c18a00",
    "red": "#ba2121",
    "darkred": "#8b0000",
    "blue": "#417690",
    "grey": "#777",
}

# Status and severity words used across the apps, by the colour an operator
# expects: green is fine, amber is in progress or needs a look, red is broken.
TONES = {
    "active": "green",
    "completed": "green",
    "complete": "green",
    "clean": "green",
    "pass": "green",
    "resolved": "green",
    "draft": "grey",
    "inactive": "grey",
    "archived": "grey",
    "deleted": "grey",
    "closed": "grey",
    "paused": "amber",
    "pending": "amber",
    "running": "amber",
    "validating": "amber",
    "processing": "amber",
    "writing": "amber",
    "acknowledged": "amber",
    "warn": "amber",
    "warning": "amber",
    "medium": "amber",
    "uploading": "blue",
    "uploaded": "blue",
    "low": "blue",
    "info": "blue",
    "debug": "grey",
    "failed": "red",
    "error": "red",
    "fail": "red",
    "infected": "red",
    "high": "red",
    "critical": "darkred",
}


def badge(value: Any, label: str | None = None) -> SafeString:
    """A coloured pill for a status or severity value."""
    text = label if label is not None else str(value)
    colour = COLOURS[TONES.get(str(value).lower(), "grey")]
    return format_html(
        '<span style="display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;'
        'background:{};font-size:11px;font-weight:600">{}</span>',
        colour,
        text,
    )


def human_size(size: int | None) -> str:
    """1536 → '1.5 KiB'."""
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def human_duration(value: timedelta | float | None) -> str:
    """A timedelta (or seconds) as '850 ms', '12.3 s', '4 min 5 s', '2 h 3 min', '3 d 4 h'."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def change_link(obj: Model | None, text: Any | None = None) -> SafeString | str:
    """A link to the object's admin page (plain text if it has none)."""
    if obj is None:
        return "—"
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(text if text is not None else obj)
    return format_html('<a href="{}">{}</a>', url, text if text is not None else obj)


def changelist_link(label: str, text: Any, **filters: Any) -> SafeString | str:
    """A link to the admin list of `label` ("app.model"), filtered."""
    app_label, model_name = label.lower().split(".")
    try:
        url = reverse(f"admin:{app_label}_{model_name}_changelist")
    except NoReverseMatch:
        return str(text)
    query = f"?{urlencode(filters)}" if filters else ""
    return format_html('<a href="{}{}">{}</a>', url, query, text)

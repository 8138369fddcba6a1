"""The operator console: the dashboard at the top of the Django admin.

Like `search` and `health`, the console may read every app, but only through
their selectors (and, where an app has no selector for a figure yet, through
one aggregate query on its models, looked up by label so a missing app only
blanks its panel). Nothing here writes: admin actions call each app's
services from that app's own admin.

- data.py    — the figures the dashboard shows, each one cheap and indexed
- charts.py  — server-rendered SVG charts (no JavaScript, no CDN)
- views.py   — the dashboard page and the cached snapshot behind it
- groups.py  — the "operators" and "read-only operators" permission groups
"""

"""Stand-ins for the files and monitoring selectors, with their shapes.

The health app reads those apps only through the dotted paths in
health/sources.py; tests point the paths here to check the wiring.
"""


def file_counts_by_status() -> dict[str, int]:
    return {"completed": 3, "failed": 1}


def bytes_stored() -> int:
    return 12345


def alert_counts_by_severity_and_status() -> dict[tuple[str, str], int]:
    return {("critical", "active"): 2, ("low", "resolved"): 5}


def dropped_total() -> int:
    return 7

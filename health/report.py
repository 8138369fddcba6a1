"""Renders check results as `application/health+json`.

The format is the IETF draft "Health Check Response Format for HTTP APIs"
(draft-inadarei-api-health-check): a top-level `status` of pass/warn/fail
and a `checks` map keyed `<component>:<measurement>`, each holding a list of
`{componentId, componentType, observedValue, observedUnit, status, time,
output}` objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from health import conf
from health.checks import CheckResult, Status

CONTENT_TYPE = "application/health+json"
SERVICE_ID = "aggregator"


def _entry(result: CheckResult, **fields: Any) -> dict[str, Any]:
    entry = {"componentType": result.component_type, **fields, "time": result.time}
    return {key: value for key, value in entry.items() if value is not None}


def health_document(results: Iterable[CheckResult], *, description: str) -> dict[str, Any]:
    results = list(results)
    status = Status.worst(result.status for result in results)
    checks: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    for result in results:
        # Every component reports how long its check took; the entry carries
        # the component's own status, so a check that raised or timed out
        # (and so observed nothing) still shows as failed.
        checks[f"{result.name}:responseTime"] = [
            _entry(
                result,
                observedValue=result.duration_ms,
                observedUnit="ms",
                status=result.status.value,
                output=result.output,
            )
        ]
        if result.output:
            problems.append(f"{result.name}: {result.output}")
        for item in result.observations:
            checks.setdefault(f"{result.name}:{item.measurement}", []).append(
                _entry(
                    result,
                    componentId=item.component_id,
                    observedValue=item.value,
                    observedUnit=item.unit,
                    status=item.status.value,
                    output=item.output,
                )
            )
            if item.output and item.status is not Status.PASS:
                problems.append(f"{result.name}: {item.output}")
    document: dict[str, Any] = {
        "status": status.value,
        "version": "1",
        "releaseId": conf.RELEASE_ID or None,
        "serviceId": SERVICE_ID,
        "description": description,
        "output": "; ".join(problems) if status is not Status.PASS else None,
        "checks": checks,
    }
    return {key: value for key, value in document.items() if value is not None}

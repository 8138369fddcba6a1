"""Application: what the platform holds and is doing right now."""

from __future__ import annotations

from health import conf, sources
from health.checks.base import Check, Observation, Status


class ApplicationCheck(Check):
    name = "application"
    component_type = "component"

    @property
    def cache_seconds(self) -> float:  # type: ignore[override]
        # Counting big tables is the costliest check; the figures move slowly.
        return max(conf.CACHE_SECONDS, conf.APPLICATION_CACHE_SECONDS)

    def run(self) -> list[Observation]:
        observations = [
            Observation("pipelinesActive", Status.PASS, sources.pipelines_active(), "pipelines"),
            Observation("users", Status.PASS, sources.users_active(), "users"),
        ]
        files = sources.files_by_status()
        if files is not None:
            observations += [
                Observation("files", Status.PASS, count, "files", component_id=status)
                for status, count in sorted(files.items())
            ]
        stored = sources.bytes_stored()
        if stored is not None:
            observations.append(Observation("bytesStored", Status.PASS, stored, "bytes"))
        alerts = sources.alerts_by_severity_and_status()
        if alerts is not None:
            observations += [
                Observation("alertsBySeverityStatus", Status.PASS, count, "alerts", component_id=f"{severity}/{status}")
                for (severity, status), count in sorted(alerts.items())
            ]
            open_by_severity: dict[str, int] = {}
            for (severity, status), count in alerts.items():
                if status in sources.OPEN_ALERT_STATUSES:
                    open_by_severity[severity] = open_by_severity.get(severity, 0) + count
            # Open critical alerts are someone's emergency: show it here too.
            observations += [
                Observation(
                    "alertsOpen",
                    Status.WARN if severity == "critical" and count else Status.PASS,
                    count,
                    "alerts",
                    component_id=severity,
                )
                for severity, count in sorted(open_by_severity.items())
            ]
        drops = sources.log_capture_drops()
        if drops is not None:
            observations.append(Observation("logCaptureDropped", Status.PASS, drops, "lines"))
        return observations

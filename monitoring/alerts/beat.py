"""Beat jobs of the alerts half, installed after migrate (editable in the admin)."""

from aggregator.beat import Schedule
from monitoring.alerts import conf

SCHEDULES = [
    Schedule(
        name="alerts: evaluate rules",
        task="monitoring.alerts.tasks.alert_rules_evaluate_task",
        every_seconds=conf.EVALUATION_INTERVAL_SECONDS,
    ),
    Schedule(
        name="alerts: escalate",
        task="monitoring.alerts.tasks.alert_escalations_run_task",
        every_seconds=conf.ESCALATION_INTERVAL_SECONDS,
    ),
    Schedule(
        name="alerts: close resolved",
        task="monitoring.alerts.tasks.alerts_close_resolved_task",
        every_seconds=conf.CLOSE_INTERVAL_SECONDS,
    ),
]

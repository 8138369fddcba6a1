"""Writes and side effects of the alerts half, one module per subject."""

from monitoring.alerts.services.audit import action_record
from monitoring.alerts.services.config import (
    channel_create,
    channel_update,
    policy_create,
    policy_update,
    rule_create,
    rule_set_active,
    rule_update,
    silence_create,
    silence_update,
)
from monitoring.alerts.services.escalation import alert_escalate, alert_escalate_due, escalations_run
from monitoring.alerts.services.evaluation import (
    Evaluation,
    fingerprint_for,
    rule_evaluate,
    rules_evaluate,
    rules_evaluate_all,
    rules_measure,
)
from monitoring.alerts.services.lifecycle import (
    alert_acknowledge,
    alert_resolve,
    alerts_ack_timeout,
    alerts_close_resolved,
)
from monitoring.alerts.services.notifications import channel_test_send, notification_deliver

__all__ = [
    "Evaluation",
    "action_record",
    "alert_acknowledge",
    "alert_escalate",
    "alert_escalate_due",
    "alert_resolve",
    "alerts_ack_timeout",
    "alerts_close_resolved",
    "channel_create",
    "channel_test_send",
    "channel_update",
    "escalations_run",
    "fingerprint_for",
    "notification_deliver",
    "policy_create",
    "policy_update",
    "rule_create",
    "rule_evaluate",
    "rule_set_active",
    "rule_update",
    "rules_evaluate",
    "rules_evaluate_all",
    "rules_measure",
    "silence_create",
    "silence_update",
]

"""Alert rules, alerts and everything that happens to them.

An AlertRule watches one metric; when its condition holds for the pending
period it opens an Alert. At most one alert per rule and label fingerprint is
open at a time, which the database enforces with a conditional unique
constraint, so two workers evaluating the same rule at once cannot open two.
Every transition, notification and escalation is appended to AlertAction.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

__all__ = [
    "AlertAction",
    "AlertActionType",
    "Alert",
    "AlertEscalationLevel",
    "AlertEscalationPolicy",
    "AlertRule",
    "AlertSeverity",
    "AlertSilence",
    "AlertStatus",
    "ChannelKind",
    "Comparison",
    "NoDataBehaviour",
    "NotificationAttempt",
    "NotificationChannel",
    "NotificationEvent",
    "NotificationStatus",
    "RuleState",
]


class AlertSeverity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"

    @classmethod
    def rank(cls, value: str) -> int:
        return [choice.value for choice in cls].index(value)


class AlertStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)


class Comparison(models.TextChoices):
    GT = ">", "greater than"
    GE = ">=", "greater than or equal"
    LT = "<", "less than"
    LE = "<=", "less than or equal"
    EQ = "==", "equal"
    NE = "!=", "not equal"


class NoDataBehaviour(models.TextChoices):
    ALERT = "alert", "Fire an alert"
    OK = "ok", "Treat as OK"
    KEEP = "keep", "Keep the last state"


class RuleState(models.TextChoices):
    INACTIVE = "inactive", "Inactive"
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"


class NotificationChannel(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    config = models.JSONField(default=dict)
    # Flagged when deliveries keep failing or fail permanently (404/410,
    # revoked Slack token). Flagged channels are skipped until an operator
    # clears the flag or a test send succeeds.
    disabled = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=1000, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class AlertEscalationPolicy(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    # How many times the whole ladder runs again after its last level
    # (PagerDuty's num_loops, capped the same way).
    repeat = models.PositiveSmallIntegerField(default=0)
    # An acknowledgement older than this falls back to ACTIVE and escalation
    # resumes; null means acknowledgements never time out.
    ack_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "alert escalation policies"

    def __str__(self) -> str:
        return self.name


class AlertEscalationLevel(models.Model):
    policy = models.ForeignKey(AlertEscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField()
    # Wait after the previous level (after the alert fired, for the first).
    delay_seconds = models.PositiveIntegerField(default=0)
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="+")

    class Meta:
        ordering = ["policy", "position"]
        constraints = [models.UniqueConstraint(fields=["policy", "position"], name="monitoring_level_position_unique")]

    def __str__(self) -> str:
        return f"{self.policy} level {self.position + 1}"


class AlertRule(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    metric = models.CharField(max_length=64)
    metric_params = models.JSONField(default=dict, blank=True)
    comparison = models.CharField(max_length=2, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.FloatField()
    window_seconds = models.PositiveIntegerField(default=300)
    pending_seconds = models.PositiveIntegerField(default=0)
    keep_firing_seconds = models.PositiveIntegerField(default=0)
    severity = models.CharField(max_length=16, choices=AlertSeverity.choices, default=AlertSeverity.MEDIUM)
    labels = models.JSONField(default=dict, blank=True)
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="rules")
    # Re-notify a still-firing, unacknowledged alert this often; 0 = never.
    cooldown_seconds = models.PositiveIntegerField(default=3600)
    escalation_policy = models.ForeignKey(
        AlertEscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="rules"
    )
    no_data = models.CharField(max_length=8, choices=NoDataBehaviour.choices, default=NoDataBehaviour.KEEP)
    is_active = models.BooleanField(default=True)

    # Evaluation state, written only by the evaluation service.
    state = models.CharField(max_length=16, choices=RuleState.choices, default=RuleState.INACTIVE)
    pending_since = models.DateTimeField(null=True, blank=True)
    last_breach_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # What operators edit (API and admin form alike), and what only the
    # evaluation service writes; both forms list these, so a new field is
    # added here once.
    EDITABLE_FIELDS = (
        "name",
        "description",
        "metric",
        "metric_params",
        "comparison",
        "threshold",
        "window_seconds",
        "pending_seconds",
        "keep_firing_seconds",
        "severity",
        "labels",
        "channels",
        "cooldown_seconds",
        "escalation_policy",
        "no_data",
        "is_active",
    )
    EVALUATION_FIELDS = ("state", "pending_since", "last_breach_at", "last_evaluated_at", "last_value", "last_error")

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["is_active"], name="monitoring_rule_active_idx")]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=64)
    labels = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=16, choices=AlertSeverity.choices)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.ACTIVE)
    message = models.CharField(max_length=1000, blank=True)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    triggered_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    occurrence_count = models.PositiveIntegerField(default=1)

    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ack_expires_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_automatically = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    silenced = models.BooleanField(default=False)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    last_notified_severity = models.CharField(max_length=16, choices=AlertSeverity.choices, blank=True)

    # The policy as it was when the alert fired: {"id","name","repeat",
    # "ack_timeout_seconds","levels":[{"delay_seconds","channels":[ids]}]}.
    escalation_policy_snapshot = models.JSONField(null=True, blank=True)
    # Levels notified so far in the current pass (0 = none yet).
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalation_repeats_done = models.PositiveSmallIntegerField(default=0)
    # Bumped on every escalation step; a queued task carrying an older value
    # is stale and does nothing.
    escalation_step = models.PositiveIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-triggered_at", "-id"]
        constraints = [
            # One open alert per rule and label set: a second concurrent
            # evaluation gets an IntegrityError and re-reads instead.
            models.UniqueConstraint(
                fields=["rule", "fingerprint"],
                condition=Q(status__in=["active", "acknowledged"]),
                name="monitoring_alert_one_open_per_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity"], name="monitoring_alert_status_idx"),
            models.Index(fields=["triggered_at"], name="monitoring_alert_triggered_idx"),
            models.Index(
                fields=["next_escalation_at"],
                name="monitoring_alert_escalate_idx",
                condition=Q(next_escalation_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.rule_id} {self.severity} {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class AlertActionType(models.TextChoices):
    FIRED = "fired", "Fired"
    SILENCED = "silenced", "Fired while silenced"
    REPEATED = "repeated", "Still firing"
    SEVERITY_RAISED = "severity_raised", "Severity raised"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ACK_TIMEOUT = "ack_timeout", "Acknowledgement timed out"
    RESOLVED = "resolved", "Resolved"
    AUTO_RESOLVED = "auto_resolved", "Resolved automatically"
    CLOSED = "closed", "Closed"
    ESCALATED = "escalated", "Escalated"
    ESCALATION_FINISHED = "escalation_finished", "Escalation finished"
    NOTIFIED = "notified", "Notification sent"
    NOTIFICATION_FAILED = "notification_failed", "Notification failed"
    NOTIFICATION_SKIPPED = "notification_skipped", "Notification skipped"


class AlertAction(models.Model):
    """The audit trail: append-only, one row per thing that happened."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=32, choices=AlertActionType.choices)
    # Null for the system (evaluation, beat jobs, workers).
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=16, default="system")  # api, admin, system
    old_status = models.CharField(max_length=16, blank=True)
    new_status = models.CharField(max_length=16, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["alert", "created_at"], name="monitoring_action_alert_idx")]

    def __str__(self) -> str:
        return f"{self.action} on alert {self.alert_id}"


class AlertSilence(models.Model):
    """Mutes notifications of matching alerts in a time window; alerts still
    open and are recorded, they are only not sent."""

    comment = models.CharField(max_length=500, blank=True)
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.CASCADE, related_name="silences")
    # Every key/value here must equal the alert's label for a match.
    matchers = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="monitoring_silence_window"),
        ]
        indexes = [models.Index(fields=["ends_at"], name="monitoring_silence_ends_idx")]

    def __str__(self) -> str:
        return self.comment or f"silence {self.pk}"


class NotificationEvent(models.TextChoices):
    FIRING = "firing", "Firing"
    REPEAT = "repeat", "Repeat"
    ESCALATION = "escalation", "Escalation"
    RESOLVED = "resolved", "Resolved"
    TEST = "test", "Test"


class NotificationStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class NotificationAttempt(models.Model):
    """One try at delivering one notification to one channel."""

    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="attempts")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="attempts")
    event = models.CharField(max_length=16, choices=NotificationEvent.choices)
    # Stable across retries of the same notification (the webhook-id).
    delivery_id = models.CharField(max_length=64, db_index=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.SENDING)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    permanent = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["alert", "event", "status"], name="monitoring_attempt_alert_idx")]

    def __str__(self) -> str:
        return f"{self.event} to {self.channel_id}: {self.status}"

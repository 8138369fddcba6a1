"""Evaluating a rule: measure, compare, and move the rule and its alert.

Like Prometheus, a rule is inactive, pending (the condition holds but not yet
for `pending_seconds`) or firing. The metric is measured outside any
transaction (it may be a slow count); the state change then happens under a
row lock on the rule, and the alert itself is protected by the database's
one-open-alert-per-fingerprint constraint, so two workers evaluating the
same rule at once open one alert, never two.
"""

import hashlib
import json
import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from aggregator.exceptions import Conflict, DomainError
from monitoring.alerts.metrics import MetricError, get_metric, window_for
from monitoring.alerts.services.audit import action_record
from monitoring.alerts.services.escalation import escalation_start, policy_snapshot
from monitoring.alerts.services.lifecycle import alert_resolve
from monitoring.alerts.services.notifications import notifications_enqueue
from monitoring.alerts.services.silences import silence_matching
from monitoring.models import (
    Alert,
    AlertActionType,
    AlertRule,
    AlertSeverity,
    AlertStatus,
    NoDataBehaviour,
    NotificationEvent,
    RuleState,
)

logger = structlog.get_logger(__name__)

COMPARE = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass
class Evaluation:
    value: float | None
    fired: bool
    alert: Alert | None
    state: str
    error: str = ""


def fingerprint_for(*, rule_id: int, labels: dict[str, Any]) -> str:
    """Stable identity of an alert: the rule and its sorted label set."""
    canonical = json.dumps({"rule": rule_id, "labels": labels}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def rule_measure(*, rule: AlertRule, now: datetime, memo: dict | None = None) -> tuple[float | None, str]:
    """The metric's value now, or (None, why) when there is no data."""
    key = (rule.metric, json.dumps(rule.metric_params, sort_keys=True), rule.window_seconds)
    if memo is not None and key in memo:
        return memo[key]
    try:
        metric = get_metric(rule.metric)
        value = metric.measure(
            params=rule.metric_params or {}, window=window_for(now=now, window_seconds=rule.window_seconds)
        )
        result = (value, "" if value is not None else "no data")
    except (MetricError, DomainError) as exc:
        result = (None, str(getattr(exc, "detail", exc)))
    except Exception as exc:  # A broken metric is no data for its rule, not a failed round.
        logger.exception("alert_metric_failed", rule=rule.pk, metric=rule.metric)
        result = (None, f"{type(exc).__name__}: {exc}")
    if memo is not None:
        memo[key] = result
    return result


def _breached(rule: AlertRule, value: float | None) -> bool | None:
    """True/False, or None for "keep the last state" on no data."""
    if value is None:
        if rule.no_data == NoDataBehaviour.ALERT:
            return True
        if rule.no_data == NoDataBehaviour.OK:
            return False
        return None
    return COMPARE[rule.comparison](value, rule.threshold)


def _message(rule: AlertRule, value: float | None, error: str) -> str:
    if value is None:
        return f"No data for {rule.metric}: {error}"[:1000]
    return f"{rule.metric} is {value:g}, {rule.comparison} {rule.threshold:g}"[:1000]


def _notify_firing(*, alert: Alert, rule: AlertRule, event: str, reason: str) -> None:
    notifications_enqueue(alert=alert, channels=list(rule.channels.all()), event=event, reason=reason)


def _alert_open(*, rule: AlertRule, value: float | None, error: str, now: datetime) -> Alert:
    """Creates the open alert for the rule, or touches the one already open."""
    fingerprint = fingerprint_for(rule_id=rule.pk, labels=rule.labels)
    existing = (
        Alert.objects.select_for_update()
        .filter(rule=rule, fingerprint=fingerprint, status__in=[AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED])
        .first()
    )
    if existing is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    rule=rule,
                    fingerprint=fingerprint,
                    labels=rule.labels,
                    severity=rule.severity,
                    status=AlertStatus.ACTIVE,
                    message=_message(rule, value, error),
                    value=value,
                    threshold=rule.threshold,
                    triggered_at=now,
                    last_seen_at=now,
                    escalation_policy_snapshot=policy_snapshot(rule.escalation_policy),
                )
        except IntegrityError:
            # Another evaluation opened it first; the constraint said no.
            existing = Alert.objects.select_for_update().get(
                rule=rule, fingerprint=fingerprint, status__in=[AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED]
            )
        else:
            _alert_fired(alert=alert, rule=rule, now=now)
            return alert
    _alert_touch(alert=existing, rule=rule, value=value, error=error, now=now)
    return existing


def _alert_fired(*, alert: Alert, rule: AlertRule, now: datetime) -> None:
    details = {"value": alert.value, "threshold": alert.threshold, "severity": alert.severity}
    action_record(alert=alert, action=AlertActionType.FIRED, new_status=AlertStatus.ACTIVE, details=details)
    silence = silence_matching(rule=rule, labels=alert.labels, now=now)
    if silence is not None:
        alert.silenced = True
        alert.save(update_fields=["silenced"])
        action_record(alert=alert, action=AlertActionType.SILENCED, details={"silence": silence.pk})
        return
    _notify_firing(alert=alert, rule=rule, event=NotificationEvent.FIRING, reason="first")
    escalation_start(alert=alert, now=now)


def _alert_touch(*, alert: Alert, rule: AlertRule, value: float | None, error: str, now: datetime) -> None:
    alert.last_seen_at = now
    alert.occurrence_count += 1
    alert.value = value
    alert.message = _message(rule, value, error)
    fields = ["last_seen_at", "occurrence_count", "value", "message"]
    raised = AlertSeverity.rank(rule.severity) > AlertSeverity.rank(alert.severity)
    if raised:
        action_record(
            alert=alert, action=AlertActionType.SEVERITY_RAISED, details={"from": alert.severity, "to": rule.severity}
        )
        alert.severity = rule.severity
        fields.append("severity")
    if alert.silenced:
        if silence_matching(rule=rule, labels=alert.labels, now=now) is not None:
            alert.save(update_fields=fields)
            return
        # The silence ended while the alert was still firing: say so now.
        alert.silenced = False
        alert.save(update_fields=[*fields, "silenced"])
        _notify_firing(alert=alert, rule=rule, event=NotificationEvent.FIRING, reason="silence_ended")
        if alert.status == AlertStatus.ACTIVE:
            escalation_start(alert=alert, now=now)
        return
    alert.save(update_fields=fields)
    if raised:
        # A rise in severity is news even inside the cooldown.
        _notify_firing(alert=alert, rule=rule, event=NotificationEvent.FIRING, reason="severity_raised")
        return
    cooldown_over = (
        rule.cooldown_seconds > 0
        and alert.last_notified_at is not None
        and now - alert.last_notified_at >= timedelta(seconds=rule.cooldown_seconds)
    )
    if alert.status == AlertStatus.ACTIVE and cooldown_over:
        action_record(alert=alert, action=AlertActionType.REPEATED, details={"value": value})
        _notify_firing(alert=alert, rule=rule, event=NotificationEvent.REPEAT, reason="cooldown_elapsed")


def _open_alert(rule: AlertRule) -> Alert | None:
    fingerprint = fingerprint_for(rule_id=rule.pk, labels=rule.labels)
    return Alert.objects.filter(
        rule=rule, fingerprint=fingerprint, status__in=[AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED]
    ).first()


def rule_evaluate(
    *,
    rule: AlertRule,
    now: datetime | None = None,
    memo: dict | None = None,
    require_active: bool = True,
    quiet: list[AlertRule] | None = None,
) -> Evaluation:
    if require_active and not rule.is_active:
        raise Conflict("Rule is disabled; enable it before evaluating it.")
    now = now or timezone.now()
    value, error = rule_measure(rule=rule, now=now, memo=memo)
    error = error[:1000] if value is None else ""
    if rule.state == RuleState.INACTIVE and rule.pending_since is None and not _breached(rule, value):
        # The common case: quiet before, quiet now. Nothing moves, so no lock
        # and no transaction; only the last reading is stored (batched by a
        # round, which saves a commit per rule).
        rule.last_evaluated_at, rule.last_value, rule.last_error = now, value, error
        if quiet is not None:
            quiet.append(rule)
        else:
            AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now, last_value=value, last_error=error)
        return Evaluation(value=value, fired=False, alert=None, state=RuleState.INACTIVE, error=error)
    to_resolve: list[Alert] = []
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update(of=("self",)).select_related("escalation_policy").get(pk=rule.pk)
        if not rule.is_active:
            return Evaluation(value=value, fired=False, alert=None, state=rule.state, error="rule disabled")
        rule.last_evaluated_at = now
        rule.last_value = value
        rule.last_error = error
        breached = _breached(rule, value)
        alert = None
        if breached is None:
            # No data and "keep": nothing moves, the open alert stays open.
            alert = _open_alert(rule) if rule.state == RuleState.FIRING else None
        elif breached:
            # Concurrent evaluations may reach the lock out of order; the
            # earliest breach starts the pending period, the latest ends it.
            rule.last_breach_at = max(filter(None, [rule.last_breach_at, now]))
            rule.pending_since = min(filter(None, [rule.pending_since, now]))
            if now - rule.pending_since >= timedelta(seconds=rule.pending_seconds):
                rule.state = RuleState.FIRING
                alert = _alert_open(rule=rule, value=value, error=error, now=now)
            else:
                rule.state = RuleState.PENDING
        else:
            rule.pending_since = None
            keep_firing = (
                rule.state == RuleState.FIRING
                and rule.keep_firing_seconds > 0
                and rule.last_breach_at is not None
                and now - rule.last_breach_at < timedelta(seconds=rule.keep_firing_seconds)
            )
            if keep_firing:
                alert = _open_alert(rule)
            else:
                rule.state = RuleState.INACTIVE
                # Every open alert of the rule, including one left under an
                # older label set (its labels were edited since it fired).
                to_resolve = list(
                    Alert.objects.filter(rule=rule, status__in=[AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED])
                )
        rule.save(
            update_fields=[
                "last_evaluated_at",
                "last_value",
                "last_error",
                "last_breach_at",
                "pending_since",
                "state",
            ]
        )
        for stale in to_resolve:
            try:
                alert_resolve(alert=stale, automatic=True)
            except Conflict:
                pass  # An operator resolved it a moment ago; nothing left to do.
    return Evaluation(value=value, fired=alert is not None, alert=alert, state=rule.state, error=rule.last_error)


def rules_evaluate_all(*, now: datetime | None = None) -> dict[str, int]:
    """One round over every active rule. A rule that fails is logged and
    skipped; rules sharing a metric, params and window measure it once."""
    now = now or timezone.now()
    memo: dict = {}
    quiet: list[AlertRule] = []
    counts = {"evaluated": 0, "firing": 0, "failed": 0}
    for rule in AlertRule.objects.filter(is_active=True).order_by("pk").iterator(chunk_size=500):
        try:
            result = rule_evaluate(rule=rule, now=now, memo=memo, require_active=False, quiet=quiet)
        except Exception:
            logger.exception("alert_rule_evaluation_failed", rule=rule.pk)
            counts["failed"] += 1
            continue
        counts["evaluated"] += 1
        counts["firing"] += int(result.fired)
        if len(quiet) >= 500:
            _quiet_flush(quiet)
    _quiet_flush(quiet)
    return counts


def _quiet_flush(quiet: list[AlertRule]) -> None:
    # Only the last reading: never the state, which the locked path owns.
    AlertRule.objects.bulk_update(quiet, ["last_evaluated_at", "last_value", "last_error"])
    quiet.clear()

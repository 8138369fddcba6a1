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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from aggregator.exceptions import Conflict, DomainError
from monitoring.alerts import conf
from monitoring.alerts.metrics import MetricError, Window, get_metric, window_for
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


def _guarded(measure, *, metric: str) -> tuple[Any, str | None]:
    """(result, None), or (None, why) when the metric could not be measured."""
    try:
        return measure(), None
    except (MetricError, DomainError) as exc:
        return None, str(getattr(exc, "detail", exc))
    except Exception as exc:  # A broken metric is no data for its rules, not a failed round.
        logger.exception("alert_metric_failed", metric=metric)
        return None, f"{type(exc).__name__}: {exc}"


def _reading(value: float | None, error: str | None) -> tuple[float | None, str]:
    if error is not None:
        return None, error
    return value, "" if value is not None else "no data"


def rule_measure(*, rule: AlertRule, now: datetime) -> tuple[float | None, str]:
    """The metric's value now, or (None, why) when there is no data."""
    try:
        metric = get_metric(rule.metric)
    except DomainError as exc:
        return None, str(exc.detail)
    window = window_for(now=now, window_seconds=rule.window_seconds)
    value, error = _guarded(partial(metric.measure, params=rule.metric_params or {}, window=window), metric=rule.metric)
    return _reading(value, error)


def rules_measure(*, rules: Sequence[AlertRule], now: datetime) -> dict[int, tuple[float | None, str]]:
    """Every rule's reading for one round, as rule_measure() gives it.

    Each distinct (metric, params, window) is measured once, and a grouped
    metric (the log metrics) answers all of its questions with a few
    grouped queries, so the queries grow with the metrics in use, not with
    the rules.
    """
    questions: dict[str, dict[tuple[str, int], tuple[dict, Window]]] = {}
    rule_keys: dict[int, tuple[str, tuple[str, int]]] = {}
    for rule in rules:
        params = rule.metric_params or {}
        key = (json.dumps(params, sort_keys=True), rule.window_seconds)
        questions.setdefault(rule.metric, {}).setdefault(
            key, (params, window_for(now=now, window_seconds=rule.window_seconds))
        )
        rule_keys[rule.pk] = (rule.metric, key)
    readings: dict[tuple[str, tuple[str, int]], tuple[float | None, str]] = {}
    for name, asked in questions.items():
        try:
            metric = get_metric(name)
        except DomainError as exc:
            readings.update({(name, key): (None, str(exc.detail)) for key in asked})
            continue
        if metric.grouped:
            values, error = _guarded(partial(metric.measure_many, requests=list(asked.values())), metric=name)
            for index, key in enumerate(asked):
                readings[(name, key)] = _reading(None if error else values[index], error)
            continue
        for key, (params, window) in asked.items():
            value, error = _guarded(partial(metric.measure, params=params, window=window), metric=name)
            readings[(name, key)] = _reading(value, error)
    return {pk: readings[key] for pk, key in rule_keys.items()}


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
    reading: tuple[float | None, str] | None = None,
    require_active: bool = True,
) -> Evaluation:
    """Evaluates one rule: measures it (unless a round passes its `reading`)
    and moves it and its alert under a row lock on the rule."""
    if require_active and not rule.is_active:
        raise Conflict("Rule is disabled; enable it before evaluating it.")
    now = now or timezone.now()
    value, error = reading if reading is not None else rule_measure(rule=rule, now=now)
    error = error[:1000] if value is None else ""
    if rule.state == RuleState.INACTIVE and rule.pending_since is None and not _breached(rule, value):
        # The common case: quiet before, quiet now. Nothing moves, so no lock
        # and no transaction; only the last reading is stored.
        rule.last_evaluated_at, rule.last_value, rule.last_error = now, value, error
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
        # An UPDATE, not save(): the evaluation state is in no search entry,
        # and save()'s signal would re-index the rule after every commit.
        AlertRule.objects.filter(pk=rule.pk).update(
            last_evaluated_at=rule.last_evaluated_at,
            last_value=rule.last_value,
            last_error=rule.last_error,
            last_breach_at=rule.last_breach_at,
            pending_since=rule.pending_since,
            state=rule.state,
        )
        for stale in to_resolve:
            try:
                alert_resolve(alert=stale, automatic=True)
            except Conflict:
                pass  # An operator resolved it a moment ago; nothing left to do.
    return Evaluation(value=value, fired=alert is not None, alert=alert, state=rule.state, error=rule.last_error)


def rules_evaluate_all(*, now: datetime | None = None) -> dict[str, int]:
    """One round over every active rule (the beat job). A rule that fails is
    logged, counted and skipped."""
    now = now or timezone.now()
    rules = list(AlertRule.objects.filter(is_active=True).order_by("pk"))
    results = rules_evaluate(rules=rules, now=now)
    return {
        "evaluated": len(results),
        "firing": sum(result.fired for result in results.values()),
        "failed": len(rules) - len(results),
    }


def rules_evaluate(*, rules: Sequence[AlertRule], now: datetime) -> dict[int, Evaluation]:
    """Evaluates the rules as one round; the result of each rule that did
    not fail, by rule id. The same outcome as rule_evaluate() on each rule,
    at a cost that does not grow with the number of rules:

    1. rules_measure(): a few grouped queries read every rule's value.
    2. Rules whose state does not move (quiet ones, and firing ones still
       breached with nothing to notify) are written in one transaction:
       their rows are locked in id order, then one bulk UPDATE per table.
    3. The rest (a rule starting to pend, firing, resolving, re-notifying,
       a silence ending) take rule_evaluate()'s locked path, one by one,
       over threads when there are many on PostgreSQL.
    """
    readings = rules_measure(rules=rules, now=now)
    quiet, held, moving = [], [], []
    for rule in rules:
        value, error = readings[rule.pk]
        breached = _breached(rule, value)
        if rule.state == RuleState.INACTIVE and rule.pending_since is None and not breached:
            quiet.append(rule)
        elif rule.state == RuleState.FIRING and breached is not False:
            held.append(rule)
        else:
            moving.append(rule)
    results: dict[int, Evaluation] = {}
    if quiet or held:
        try:
            with transaction.atomic():
                deferred = _store_unmoved(quiet=quiet, held=held, readings=readings, now=now, results=results)
        except Exception:
            # The batch is all or nothing; its rules still get evaluated,
            # each on its own, so one bad row costs one rule, not the round.
            logger.exception("alert_round_batch_failed", rules=len(quiet) + len(held))
            results.clear()
            deferred = [*quiet, *held]
        moving.extend(deferred)
    results.update(_evaluate_each(moving, readings=readings, now=now))
    return results


def _store_unmoved(
    *,
    quiet: list[AlertRule],
    held: list[AlertRule],
    readings: dict[int, tuple[float | None, str]],
    now: datetime,
    results: dict[int, Evaluation],
) -> list[AlertRule]:
    """Writes the rules whose state stays put, in the caller's transaction.
    Returns the held rules that turn out to need rule_evaluate() after all."""
    # Locking every row written, in id order, keeps two overlapping rounds
    # from deadlocking; held rules are re-read under the lock.
    locked = {
        rule.pk: rule
        for rule in AlertRule.objects.select_for_update(of=("self",))
        .filter(pk__in=[rule.pk for rule in [*quiet, *held]])
        .order_by("pk")
    }
    deferred, changed, unchanged = [], [], []
    for snapshot in quiet:
        rule = locked.get(snapshot.pk)
        if rule is None or not rule.is_active or rule.state != RuleState.INACTIVE or rule.pending_since is not None:
            deferred.append(snapshot)  # Moved since the round read it.
            continue
        value, error = readings[rule.pk]
        error = error[:1000] if value is None else ""
        results[rule.pk] = Evaluation(value=value, fired=False, alert=None, state=RuleState.INACTIVE, error=error)
        if (rule.last_value, rule.last_error) == (value, error):
            unchanged.append(rule.pk)
        else:
            rule.last_evaluated_at, rule.last_value, rule.last_error = now, value, error
            changed.append(rule)
    # An unchanged reading only moves the evaluation time: one statement.
    if unchanged:
        AlertRule.objects.filter(pk__in=unchanged).update(last_evaluated_at=now)
    held_deferred, touched_rules, touched_alerts = _hold(
        held=held, locked=locked, readings=readings, now=now, results=results
    )
    deferred.extend(held_deferred)
    _bulk_set(
        [*changed, *touched_rules],
        ["last_evaluated_at", "last_value", "last_error", "last_breach_at", "pending_since", "state"],
    )
    alert_fields = ["last_seen_at", "occurrence_count", "value", "message"]
    _bulk_set(touched_alerts, alert_fields)
    # An alert's message is its search title: tell the listeners that
    # save() would have told, for the alerts whose message changed.
    for alert in touched_alerts:
        if alert.message != alert._message_before:
            post_save.send(
                sender=Alert, instance=alert, created=False, update_fields=alert_fields, raw=False, using="default"
            )
    return deferred


def _bulk_set(objects: list, fields: list[str]) -> None:
    """Writes `fields` of each object by primary key in one statement.

    On PostgreSQL, an UPDATE joined to a VALUES list: linear in the rows,
    where bulk_update()'s CASE per field compares every row with every id
    (a second and more for 1,000 rules). Elsewhere, bulk_update()."""
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objects, fields)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    casts = [f"%s::{meta.pk.db_type(connection)}"] + [f"%s::{field.db_type(connection)}" for field in columns]
    row = f"({', '.join(casts)})"
    params = []
    for obj in objects:
        params.append(obj.pk)
        params.extend(field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns)
    quote = connection.ops.quote_name
    names = [quote(field.column) for field in columns]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {', '.join(f'{name} = v.{name}' for name in names)} "
        f"FROM (VALUES {', '.join([row] * len(objects))}) AS v({quote(meta.pk.column)}, {', '.join(names)}) "
        f"WHERE t.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _hold(
    *,
    held: list[AlertRule],
    locked: dict[int, AlertRule],
    readings: dict[int, tuple[float | None, str]],
    now: datetime,
    results: dict[int, Evaluation],
) -> tuple[list[AlertRule], list[AlertRule], list[Alert]]:
    """Firing rules that stay firing: the rule and its open alert take the
    new reading, as rule_evaluate() would write them. A rule with anything
    more to do (no open alert, a silence, a severity rise, a cooldown
    over, or a state that moved since the round read it) is deferred."""
    if not held:
        return [], [], []
    open_alerts = {
        (alert.rule_id, alert.fingerprint): alert
        for alert in Alert.objects.select_for_update().filter(
            rule_id__in=[rule.pk for rule in held], status__in=[AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED]
        )
    }
    deferred, rules, alerts = [], [], []
    for snapshot in held:
        rule = locked.get(snapshot.pk)
        value, error = readings[snapshot.pk]
        error = error[:1000] if value is None else ""
        breached = None if rule is None else _breached(rule, value)
        if rule is None or not rule.is_active or rule.state != RuleState.FIRING or breached is False:
            deferred.append(snapshot)
            continue
        alert = open_alerts.get((rule.pk, fingerprint_for(rule_id=rule.pk, labels=rule.labels)))
        if breached and not _touch_in_place(alert=alert, rule=rule, value=value, error=error, now=now):
            deferred.append(snapshot)
            continue
        rule.last_evaluated_at, rule.last_value, rule.last_error = now, value, error
        if breached:
            rule.last_breach_at = max(filter(None, [rule.last_breach_at, now]))
            rule.pending_since = min(filter(None, [rule.pending_since, now]))
            alerts.append(alert)
        rules.append(rule)
        results[rule.pk] = Evaluation(
            value=value, fired=alert is not None, alert=alert, state=RuleState.FIRING, error=error
        )
    return deferred, rules, alerts


def _touch_in_place(*, alert: Alert | None, rule: AlertRule, value: float | None, error: str, now: datetime) -> bool:
    """_alert_touch() for the case with nothing to record or send: sets the
    fields and returns True, or returns False (and changes nothing) when
    the alert needs the full path."""
    if alert is None or alert.silenced:
        return False
    if AlertSeverity.rank(rule.severity) > AlertSeverity.rank(alert.severity):
        return False
    cooldown_over = (
        rule.cooldown_seconds > 0
        and alert.last_notified_at is not None
        and now - alert.last_notified_at >= timedelta(seconds=rule.cooldown_seconds)
    )
    if alert.status == AlertStatus.ACTIVE and cooldown_over:
        return False
    alert.last_seen_at = now
    alert.occurrence_count += 1
    alert.value = value
    alert._message_before = alert.message
    alert.message = _message(rule, value, error)
    return True


def _evaluate_each(
    rules: list[AlertRule], *, readings: dict[int, tuple[float | None, str]], now: datetime
) -> dict[int, Evaluation]:
    """rule_evaluate() on each rule with its reading. Most of it is waiting
    on the database, so on PostgreSQL (outside a transaction) many rules are
    split over `conf.EVALUATION_THREADS` threads, each with its own
    connection; on SQLite, whose writers queue anyway, or inside a
    transaction (tests), they run on the caller's connection."""
    threads = conf.EVALUATION_THREADS
    if connection.vendor != "postgresql" or connection.in_atomic_block or len(rules) < 2 * threads:
        return _evaluate_part(rules, readings=readings, now=now, own_connection=False)
    results: dict[int, Evaluation] = {}
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="alert-eval") as pool:
        parts = [rules[index::threads] for index in range(threads)]
        for part in pool.map(lambda part: _evaluate_part(part, readings=readings, now=now, own_connection=True), parts):
            results.update(part)
    return results


def _evaluate_part(
    rules: list[AlertRule], *, readings: dict[int, tuple[float | None, str]], now: datetime, own_connection: bool
) -> dict[int, Evaluation]:
    results: dict[int, Evaluation] = {}
    try:
        for rule in rules:
            try:
                results[rule.pk] = rule_evaluate(rule=rule, now=now, reading=readings[rule.pk], require_active=False)
            except Exception:
                logger.exception("alert_rule_evaluation_failed", rule=rule.pk)
    finally:
        if own_connection:
            connection.close()
    return results

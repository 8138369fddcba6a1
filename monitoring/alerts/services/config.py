"""Writes of the configuration: rules, channels, escalation policies, silences.

Serializers check shapes; the business rules (a known metric and its params,
a threshold that means something, a channel config that can be delivered
to) are checked here, so the admin and the API enforce the same things.
"""

from typing import Any

from django.db import IntegrityError, transaction

from aggregator.exceptions import Conflict, InvalidInput
from monitoring.alerts.metrics import get_metric
from monitoring.alerts.notifiers import validate_config
from monitoring.alerts.services.escalation import MAX_REPEAT
from monitoring.models import (
    AlertEscalationLevel,
    AlertEscalationPolicy,
    AlertRule,
    AlertSilence,
    NotificationChannel,
)

MAX_LEVELS = 10
MAX_LABELS = 32


def _labels_check(labels: Any, field: str) -> dict[str, str]:
    if not isinstance(labels, dict):
        raise InvalidInput(f"{field} must be an object of string values.")
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"{field} holds more than {MAX_LABELS} labels.")
    for key, value in labels.items():
        if not isinstance(value, str) or not key or len(key) > 100 or len(value) > 500:
            raise InvalidInput(f"{field}.{key} must be a string of at most 500 characters.")
    return labels


def rule_check(rule: AlertRule) -> None:
    metric = get_metric(rule.metric)
    rule.metric_params = metric.validate_params(rule.metric_params or {})
    if rule.threshold < 0 and not metric.allows_negative:
        raise InvalidInput(f"threshold: {rule.metric} is never negative, so a negative threshold means nothing.")
    if rule.threshold != rule.threshold or rule.threshold in (float("inf"), float("-inf")):
        raise InvalidInput("threshold must be a finite number.")
    if rule.window_seconds < 1:
        raise InvalidInput("window_seconds must be at least 1.")
    rule.labels = _labels_check(rule.labels or {}, "labels")


def _save(instance, many: dict[str, Any], what: str):
    try:
        with transaction.atomic():
            instance.save()
            for field, values in many.items():
                getattr(instance, field).set(values)
    except IntegrityError:
        raise Conflict(f"A {what} with this name already exists.") from None
    return instance


def rule_create(*, data: dict[str, Any], actor=None) -> AlertRule:
    data = dict(data)
    channels = data.pop("channels", [])
    rule = AlertRule(**data, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    rule_check(rule)
    return _save(rule, {"channels": channels}, "rule")


def rule_update(*, rule: AlertRule, data: dict[str, Any]) -> AlertRule:
    data = dict(data)
    many = {"channels": data.pop("channels")} if "channels" in data else {}
    for field, value in data.items():
        setattr(rule, field, value)
    rule_check(rule)
    return _save(rule, many, "rule")


def rule_set_active(*, rule: AlertRule, active: bool) -> AlertRule:
    rule.is_active = active
    if not active:
        # A disabled rule starts from scratch when it comes back.
        rule.pending_since = None
    rule.save(update_fields=["is_active", "pending_since", "updated_at"])
    return rule


def _channel_config(kind: str, config: Any) -> dict[str, Any]:
    try:
        return validate_config(kind, config)
    except ValueError as exc:
        raise InvalidInput(f"config: {exc}") from None


def channel_create(*, data: dict[str, Any]) -> NotificationChannel:
    channel = NotificationChannel(**data)
    channel.config = _channel_config(channel.kind, channel.config)
    return _save(channel, {}, "channel")


def channel_update(*, channel: NotificationChannel, data: dict[str, Any]) -> NotificationChannel:
    data = dict(data)
    if "kind" in data and data["kind"] != channel.kind and "config" not in data:
        raise InvalidInput("config: changing kind needs a config for the new kind.")
    for field, value in data.items():
        setattr(channel, field, value)
    if "config" in data or "kind" in data:
        channel.config = _channel_config(channel.kind, channel.config)
    if data.get("disabled") is False:
        # An operator clearing the flag gives the channel a clean slate.
        channel.disabled_reason = ""
        channel.consecutive_failures = 0
    return _save(channel, {}, "channel")


def _levels_check(levels: Any) -> list[dict[str, Any]]:
    if not isinstance(levels, list) or not levels:
        raise InvalidInput("levels must be a non-empty list.")
    if len(levels) > MAX_LEVELS:
        raise InvalidInput(f"levels: at most {MAX_LEVELS}.")
    known = set(
        NotificationChannel.objects.filter(
            pk__in=[pk for level in levels for pk in level.get("channels", [])]
        ).values_list("pk", flat=True)
    )
    for index, level in enumerate(levels):
        missing = [pk for pk in level.get("channels", []) if pk not in known]
        if missing:
            raise InvalidInput(f"levels.{index}.channels: unknown channel ids {missing}.")
        if not level.get("channels"):
            raise InvalidInput(f"levels.{index}.channels: a level must notify at least one channel.")
    return levels


def _levels_write(policy: AlertEscalationPolicy, levels: list[dict[str, Any]]) -> None:
    policy.levels.all().delete()
    for position, level in enumerate(levels):
        row = AlertEscalationLevel.objects.create(
            policy=policy, position=position, delay_seconds=level.get("delay_seconds", 0)
        )
        row.channels.set(level["channels"])


def _policy_check(policy: AlertEscalationPolicy) -> None:
    if policy.repeat > MAX_REPEAT:
        raise InvalidInput(f"repeat: at most {MAX_REPEAT}.")


def policy_create(*, data: dict[str, Any]) -> AlertEscalationPolicy:
    data = dict(data)
    levels = _levels_check(data.pop("levels", None))
    policy = AlertEscalationPolicy(**data)
    _policy_check(policy)
    try:
        with transaction.atomic():
            policy.save()
            _levels_write(policy, levels)
    except IntegrityError:
        raise Conflict("An escalation policy with this name already exists.") from None
    return policy


def policy_update(*, policy: AlertEscalationPolicy, data: dict[str, Any]) -> AlertEscalationPolicy:
    """Open alerts keep the snapshot they fired with; this changes future ones."""
    data = dict(data)
    levels = _levels_check(data.pop("levels")) if "levels" in data else None
    for field, value in data.items():
        setattr(policy, field, value)
    _policy_check(policy)
    try:
        with transaction.atomic():
            policy.save()
            if levels is not None:
                _levels_write(policy, levels)
    except IntegrityError:
        raise Conflict("An escalation policy with this name already exists.") from None
    return policy


def _silence_check(silence: AlertSilence) -> None:
    silence.matchers = _labels_check(silence.matchers or {}, "matchers")
    if silence.rule_id is None and not silence.matchers:
        raise InvalidInput("A silence needs a rule, label matchers, or both; it would silence everything.")
    if silence.ends_at <= silence.starts_at:
        raise InvalidInput("ends_at must be after starts_at.")


def silence_create(*, data: dict[str, Any], actor=None) -> AlertSilence:
    silence = AlertSilence(**data, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    _silence_check(silence)
    silence.save()
    return silence


def silence_update(*, silence: AlertSilence, data: dict[str, Any]) -> AlertSilence:
    for field, value in data.items():
        setattr(silence, field, value)
    _silence_check(silence)
    silence.save()
    return silence

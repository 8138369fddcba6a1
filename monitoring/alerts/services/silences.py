"""Silences: which alerts are muted right now."""

from datetime import datetime
from typing import Any

from django.db.models import Q

from monitoring.models import AlertRule, AlertSilence


def silence_matching(*, rule: AlertRule, labels: dict[str, Any], now: datetime) -> AlertSilence | None:
    """The first silence in force now whose rule (if any) and label
    matchers (all of them) match."""
    candidates = AlertSilence.objects.filter(starts_at__lte=now, ends_at__gt=now).filter(
        Q(rule=rule) | Q(rule__isnull=True)
    )
    for silence in candidates:
        if all(labels.get(key) == value for key, value in (silence.matchers or {}).items()):
            return silence
    return None

"""The audit trail: every transition, notification and escalation."""

from typing import Any

from monitoring.models import Alert, AlertAction


def action_record(
    *,
    alert: Alert,
    action: str,
    actor=None,
    source: str = "system",
    old_status: str = "",
    new_status: str = "",
    details: dict[str, Any] | None = None,
) -> AlertAction:
    return AlertAction.objects.create(
        alert=alert,
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        source=source,
        old_status=old_status,
        new_status=new_status,
        details=details or {},
    )

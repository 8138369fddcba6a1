"""Adapters for the outside world: email, Slack, generic webhook.

Each module has `validate_config(config) -> config` (raises ValueError) and
`send(config, notification) -> Delivered` (raises DeliveryError).
"""

from types import ModuleType
from typing import Any

from monitoring.alerts.notifiers import email, slack, webhook
from monitoring.alerts.notifiers.base import Delivered, DeliveryError, Notification

ADAPTERS: dict[str, ModuleType] = {"email": email, "slack": slack, "webhook": webhook}


def adapter_for(kind: str) -> ModuleType:
    return ADAPTERS[kind]


def validate_config(kind: str, config: Any) -> dict[str, Any]:
    if kind not in ADAPTERS:
        raise ValueError(f"unknown channel kind {kind!r}.")
    if not isinstance(config, dict):
        raise ValueError("config must be an object.")
    return ADAPTERS[kind].validate_config(config)


__all__ = ["ADAPTERS", "Delivered", "DeliveryError", "Notification", "adapter_for", "validate_config"]

"""Slack incoming webhook: JSON with `text` (the fallback) and `blocks`.

Slack answers 200 "ok". 404, 410 and 400/403 with invalid_token,
no_service or channel_is_archived mean the webhook is gone for good
(healthchecks treats them the same way), so they are permanent.
"""

import json
from typing import Any

from monitoring.alerts.notifiers import http
from monitoring.alerts.notifiers.base import Delivered, DeliveryError, Notification

PERMANENT_ERRORS = ("invalid_token", "no_service", "channel_is_archived", "channel_not_found", "no_active_hooks")
EMOJI = {"low": ":information_source:", "medium": ":warning:", "high": ":rotating_light:", "critical": ":fire:"}


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - {"url"})
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)}.")
    return {"url": http.url_validate(config.get("url"))}


def _escape(text: str) -> str:
    # Slack's mrkdwn reserves only these three characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload_for(notification: Notification) -> dict[str, Any]:
    icon = ":white_check_mark:" if notification.event == "resolved" else EMOJI.get(notification.severity, "")
    title = f"{icon} *{_escape(notification.subject)}*".strip()
    fields = [
        {"type": "mrkdwn", "text": f"*{_escape(str(key)).capitalize()}:*\n{_escape(str(value))}"}
        for key, value in (
            ("severity", notification.severity),
            ("status", notification.data.get("alert", {}).get("status", "")),
            ("value", notification.data.get("alert", {}).get("value")),
            ("threshold", notification.data.get("alert", {}).get("threshold")),
        )
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{title}\n{_escape(notification.text)}"}},
        {"type": "section", "fields": fields},
    ]
    if notification.link:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{notification.link}|Open the alert>"}]}
        )
    return {"text": f"{notification.subject}: {notification.text}", "blocks": blocks}


def send(config: dict[str, Any], notification: Notification) -> Delivered:
    body = json.dumps(payload_for(notification)).encode()
    response = http.post(config["url"], body=body, headers={})
    if response.status_code in (400, 403) and any(err in response.text for err in PERMANENT_ERRORS):
        raise DeliveryError(
            f"HTTP {response.status_code}: {response.text[:200]}", status_code=response.status_code, permanent=True
        )
    http.raise_for_status(response)
    return Delivered(status_code=response.status_code)

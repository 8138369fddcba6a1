"""Generic webhook, signed per Standard Webhooks.

Headers: webhook-id (stable across retries: the consumer's idempotency key),
webhook-timestamp (unix seconds) and webhook-signature
`v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))>`. A `whsec_`
secret is base64 of the key, as the spec serialises it; any other string is
used as the key bytes. The body is serialised once and those exact bytes are
signed and sent.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from monitoring.alerts.notifiers import http
from monitoring.alerts.notifiers.base import Delivered, DeliveryError, Notification

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    return secret.encode()


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(*, secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a consumer does; used by our tests and documented for users."""
    msg_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in headers["webhook-signature"].split())


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - {"url", "secret"})
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)}.")
    url = http.url_validate(config.get("url"))
    secret = config.get("secret") or generate_secret()
    if not isinstance(secret, str) or len(secret) < 16 or len(secret) > 200:
        raise ValueError("secret must be a string of 16 to 200 characters.")
    try:
        key = secret_key(secret)
    except (binascii.Error, ValueError):
        raise ValueError("secret starts with whsec_ but is not valid base64.") from None
    if len(key) < 16:
        raise ValueError("secret must hold at least 16 bytes of key.")
    return {"url": url, "secret": secret}


def body_for(notification: Notification) -> bytes:
    envelope = {
        "type": f"alert.{notification.event}",
        "timestamp": notification.data.get("timestamp"),
        "data": notification.data,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def send(config: dict[str, Any], notification: Notification) -> Delivered:
    body = body_for(notification)
    timestamp = int(time.time())
    headers = {
        "webhook-id": notification.delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(
            secret=config["secret"], msg_id=notification.delivery_id, timestamp=timestamp, body=body
        ),
    }
    response = http.post(config["url"], body=body, headers=headers)
    http.raise_for_status(response)
    return Delivered(status_code=response.status_code)


__all__ = ["DeliveryError", "generate_secret", "send", "sign", "validate_config", "verify"]

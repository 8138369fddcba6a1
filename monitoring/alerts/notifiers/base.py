"""What every notifier takes and raises. No ORM in here."""

from dataclasses import dataclass, field
from typing import Any


class DeliveryError(Exception):
    """A delivery failed. `retryable` failures (timeouts, 429, 5xx) are tried
    again with backoff; others (a 400, a redirect) are not. `permanent` ones
    (a 404 or 410 endpoint, a revoked Slack token, a refused address) also
    flag the channel."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status_code: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after = retry_after
        self.retryable = (not permanent) if retryable is None else retryable


@dataclass(frozen=True)
class Notification:
    """One notification, rendered once and sent the same way on every retry."""

    event: str  # firing, repeat, escalation, resolved, test
    delivery_id: str  # stable across retries; the webhook-id
    subject: str
    text: str
    severity: str
    data: dict[str, Any] = field(default_factory=dict)  # the webhook payload's "data"
    link: str = ""


@dataclass(frozen=True)
class Delivered:
    status_code: int | None = None

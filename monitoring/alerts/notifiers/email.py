"""Email through Django's configured email backend (EMAIL_* settings)."""

import smtplib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from monitoring.alerts import conf
from monitoring.alerts.notifiers.base import Delivered, DeliveryError, Notification

MAX_RECIPIENTS = 50


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - {"to"})
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)}.")
    recipients = config.get("to")
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(recipients, list) or not recipients:
        raise ValueError("to must be a non-empty list of email addresses.")
    if len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"to holds more than {MAX_RECIPIENTS} addresses.")
    for address in recipients:
        try:
            if not isinstance(address, str):
                raise ValidationError("not a string")
            validate_email(address)
        except ValidationError:
            raise ValueError(f"{address!r} is not a valid email address.") from None
    return {"to": recipients}


def send(config: dict[str, Any], notification: Notification) -> Delivered:
    body = notification.text
    if notification.link:
        body += f"\n\n{notification.link}"
    message = EmailMessage(
        subject=f"[{notification.severity.upper()}] {notification.subject}"[:250],
        body=body,
        from_email=conf.EMAIL_FROM or settings.DEFAULT_FROM_EMAIL,
        to=config["to"],
        headers={"Message-ID": f"<{notification.delivery_id}@aggregator.alerts>"},
        connection=get_connection(fail_silently=False, timeout=conf.NOTIFY_TIMEOUT_SECONDS),
    )
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"recipients refused: {', '.join(exc.recipients)}", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        # 5xx replies are permanent in SMTP; 4xx are "try again later".
        raise DeliveryError(
            f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500], permanent=500 <= exc.smtp_code < 600
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP failed: {type(exc).__name__}: {exc}"[:500]) from None
    return Delivered()

"""Domain errors and the one place that turns any error into JSON.

Services raise the small set of exceptions below; the DRF exception handler
maps them (and Django's own) to a 4xx response whose body always has a
human-readable `detail`. Field-level problems are also listed in `errors`.
"""

from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError, connection, transaction
from django.http import Http404
from kombu.exceptions import OperationalError as BrokerUnavailable
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = structlog.get_logger(__name__)


class DomainError(Exception):
    """A business rule said no. Subclasses pick the HTTP status."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT


class Gone(DomainError):
    status_code = status.HTTP_410_GONE


class PayloadTooLarge(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class ServiceUnavailable(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        out: list[str] = []
        for key, value in errors.items():
            name = key if key != "non_field_errors" else ""
            out.extend(_flatten(value, f"{prefix}{name}." if name else prefix))
        return out
    if isinstance(errors, list):
        out = []
        for index, value in enumerate(errors):
            sub_prefix = f"{prefix}{index}." if isinstance(value, dict | list) else prefix
            out.extend(_flatten(value, sub_prefix))
        return out
    label = prefix.rstrip(".")
    return [f"{label}: {errors}" if label else str(errors)]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response({"detail": exc.detail, **exc.extra}, status=exc.status_code)
    if isinstance(exc, DataError | OverflowError):
        # The database refused a value the parsers let through (a date with
        # a time-zone offset PostgreSQL cannot represent, a number out of
        # range), or converting it overflowed (year 1 moved to UTC on
        # SQLite): the client's input, so a 400 rather than a 500. PostgreSQL
        # has aborted the transaction, so an enclosing atomic block must roll
        # back rather than carry on.
        if isinstance(exc, DataError) and connection.in_atomic_block:
            transaction.set_rollback(True)
        return Response({"detail": f"A value is out of range: {str(exc).splitlines()[0]}"}, status=400)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is down, restarting, out of pool connections or (on
        # SQLite) locked: nothing the client did, and worth a retry. The
        # connection is closed so the next request starts on a fresh one.
        if connection.in_atomic_block:
            transaction.set_rollback(True)
        else:
            connection.close_if_unusable_or_obsolete()
        # Its message names hosts and ports: logged, not shown.
        log.warning("database_unavailable", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        response = Response({"detail": "The database is unavailable; retry shortly."}, status=503)
        response["Retry-After"] = "5"
        return response
    if isinstance(exc, BrokerUnavailable):
        # Queueing a background task failed: the broker is down. What the
        # request wrote is committed; the work itself was not queued.
        log.warning("broker_unavailable", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        response = Response({"detail": "The task queue is unavailable; retry shortly."}, status=503)
        response["Retry-After"] = "5"
        return response
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": f"Request body is larger than the {limit} byte limit."}, status=413)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data
        messages = _flatten(errors)
        response.data = {"detail": "; ".join(messages) or "Invalid input.", "errors": errors}
    elif not (isinstance(response.data, dict) and "detail" in response.data):
        response.data = {"detail": str(response.data)}
    return response

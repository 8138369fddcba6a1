"""The access line: django-structlog logs `request_finished` (or
`request_failed`) once per request with its status and the bound
correlation ID, request ID and user; these receivers add the duration."""

import time
from typing import Any

from django.http import HttpRequest
from django_structlog import signals

_STARTED = "_systemlog_started"


def _request_started(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    setattr(request, _STARTED, time.perf_counter())


def _request_finished(sender: Any, request: HttpRequest, log_kwargs: dict[str, Any], **kwargs: Any) -> None:
    started = getattr(request, _STARTED, None)
    if started is not None:
        log_kwargs["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)


def connect() -> None:
    signals.bind_extra_request_metadata.connect(_request_started, dispatch_uid="systemlog-request-started")
    signals.bind_extra_request_finished_metadata.connect(_request_finished, dispatch_uid="systemlog-request-finished")
    signals.bind_extra_request_failed_metadata.connect(_request_finished, dispatch_uid="systemlog-request-failed")

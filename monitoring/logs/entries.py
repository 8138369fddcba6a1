"""Turning a posted log entry (a JSON object) into SystemLog field values.

Hand-written rather than a DRF serializer: an ingest request carries tens of
thousands of entries and a field-by-field serializer costs more than the
INSERT. Each function returns the cleaned fields or a dict of errors per
field, so a batch can report every bad item with its index.
"""

import ipaddress
import json
import math
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from monitoring.logs import conf
from monitoring.models import LogLevel

LEVELS = {choice.value for choice in LogLevel}
# Common spellings from other logging libraries.
LEVEL_ALIASES = {"warn": "warning", "fatal": "critical", "err": "error", "trace": "debug"}

# Identifiers are never truncated: a cut ID would silently join the wrong chain.
_ID_FIELDS = {"correlation_id": 128, "request_id": 128, "trace_id": 64, "span_id": 64}
_SHORT_FIELDS = {"source": 100, "logger": 200, "http_method": 10, "exception_type": 255, "http_path": 2048}
_LONG_FIELDS = {"exception_message": "MESSAGE_MAX_CHARS", "stack_trace": "STACK_TRACE_MAX_CHARS"}
FIELDS = frozenset(
    {"message", "level", "timestamp", "duration_ms", "memory_bytes", "http_status", "client_ip", "user", "context"}
    | set(_ID_FIELDS)
    | set(_SHORT_FIELDS)
    | set(_LONG_FIELDS)
)


def clean_text(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL; it would be a 500 on insert.
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def truncate(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    marker = f"… [truncated {len(value) - limit} characters]"
    return value[:limit] + marker


def parse_level(value: Any) -> str:
    """A level name in any case ("ERROR", "warn"...) → LogLevel value; ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    level = value.strip().lower()
    level = LEVEL_ALIASES.get(level, level)
    if level not in LEVELS:
        raise ValueError(f"Unknown level {value[:40]!r}; use one of {', '.join(LogLevel.values)}.")
    return level


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (a naive time is UTC) or a Unix epoch number → aware datetime."""
    if isinstance(value, bool):
        raise ValueError("Must be an ISO 8601 time.")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("Must be a finite number.")
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("Epoch time out of range.") from None
    if not isinstance(value, str):
        raise ValueError("Must be an ISO 8601 time.")
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"Not an ISO 8601 time: {value[:40]!r}.")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _context(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError("Must be a JSON object.")
    if not value:
        return value
    encoded = json.dumps(value, ensure_ascii=False, default=str)
    if "\\u0000" in encoded or "\x00" in encoded:
        value = json.loads(encoded.replace("\\u0000", "\\ufffd").replace("\x00", "\ufffd"))
    size = len(encoded.encode())
    if size > conf.CONTEXT_MAX_BYTES:
        return {"_truncated": True, "_original_bytes": size, "_keys": [clean_text(str(k))[:100] for k in value][:50]}
    return value


def _number(value: Any, *, integer: bool, minimum: float, maximum: float) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise ValueError("Must be an integer." if integer else "Must be a number.")
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise ValueError(f"Must be between {minimum:g} and {maximum:g}.")
    return value


def clean_entry(raw: Any, *, default_source: str, now: datetime) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """(fields, {}) for a good entry, (None, {field: problem}) for a bad one."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": "Each entry must be a JSON object."}
    errors: dict[str, str] = {}
    for key in raw:
        if key not in FIELDS:
            errors[str(key)[:100]] = "Unknown field."
    fields: dict[str, Any] = {"timestamp": now, "level": LogLevel.INFO, "source": default_source}

    message = raw.get("message")
    if not isinstance(message, str):
        errors["message"] = "This field is required and must be a string."
    else:
        fields["message"] = truncate(clean_text(message), conf.MESSAGE_MAX_CHARS)

    for name, value in raw.items():
        if name == "message" or name in errors or value is None:
            continue
        try:
            if name == "level":
                fields["level"] = parse_level(value)
            elif name == "timestamp":
                fields["timestamp"] = parse_timestamp(value)
            elif name in _ID_FIELDS or name in _SHORT_FIELDS:
                if not isinstance(value, str):
                    raise ValueError("Must be a string.")
                limit = _ID_FIELDS.get(name) or _SHORT_FIELDS[name]
                if len(value) > limit:
                    raise ValueError(f"At most {limit} characters.")
                fields[name] = clean_text(value)
            elif name in _LONG_FIELDS:
                if not isinstance(value, str):
                    raise ValueError("Must be a string.")
                fields[name] = truncate(clean_text(value), getattr(conf, _LONG_FIELDS[name]))
            elif name == "duration_ms":
                fields[name] = float(_number(value, integer=False, minimum=0, maximum=1e12))
            elif name == "memory_bytes":
                fields[name] = _number(value, integer=True, minimum=0, maximum=2**63 - 1)
            elif name == "http_status":
                fields[name] = _number(value, integer=True, minimum=100, maximum=599)
            elif name == "user":
                fields["user_id"] = _number(value, integer=True, minimum=1, maximum=2**63 - 1)
            elif name == "client_ip":
                if not isinstance(value, str):
                    raise ValueError("Must be a string.")
                fields[name] = str(ipaddress.ip_address(value.strip()))
            elif name == "context":
                fields[name] = _context(value)
        except ValueError as exc:
            message_text = str(exc)
            if name == "client_ip":
                message_text = "Not an IP address."
            errors[name] = message_text
    if errors:
        return None, errors
    return fields, {}

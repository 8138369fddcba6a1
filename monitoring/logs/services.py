"""Writes of the logs half: ingesting entries.

Archiving, restoring and retention live in monitoring.logs.archives.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from aggregator.exceptions import InvalidInput, PayloadTooLarge
from monitoring.logs import conf
from monitoring.logs.entries import clean_entry
from monitoring.models import SystemLog

# How many bad items a rejected batch lists; the count covers all of them.
MAX_REPORTED_ERRORS = 100


def log_ingest(*, entries: Any, default_source: str) -> list[int]:
    """Store one entry (a dict) or a batch (a list) all or nothing; returns the ids.

    Every item is validated before anything is written, and the batch is
    inserted in one transaction, so a bad item or a failed insert leaves
    nothing behind.
    """
    items = [entries] if isinstance(entries, dict) else entries
    if not isinstance(items, list):
        raise InvalidInput("Send one log entry (a JSON object) or a list of them.")
    if not items:
        raise InvalidInput("The list of log entries is empty.")
    if len(items) > conf.INGEST_MAX_ITEMS:
        raise PayloadTooLarge(f"At most {conf.INGEST_MAX_ITEMS} log entries per request; got {len(items)}.")

    now = timezone.now()
    rows: list[SystemLog] = []
    errors: list[dict[str, Any]] = []
    bad = 0
    for index, raw in enumerate(items):
        fields, problems = clean_entry(raw, default_source=default_source, now=now)
        if problems:
            bad += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append({"index": index, "errors": problems})
        elif not errors:
            rows.append(SystemLog(**fields))
    if bad:
        raise InvalidInput(
            f"{bad} of {len(items)} log entries are invalid; nothing was stored.", errors=errors, invalid_count=bad
        )

    with transaction.atomic():
        created = SystemLog.objects.bulk_create(rows, batch_size=conf.INGEST_BATCH_SIZE)
    return [row.pk for row in created]

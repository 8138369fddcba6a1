"""Writes to the search index: one object at a time (signals) or in bulk
(`manage.py reindex`, the nightly task)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from search import conf, providers
from search.models import SearchEntry, SearchTerm
from search.providers import Provider

log = structlog.get_logger(__name__)

# Control characters never reach the index: NUL is refused by PostgreSQL,
# and \x02/\x03 mark highlights in ts_headline output (see search.query).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD = re.compile(r"\w+")
_FIELDS = ["owner", "staff_only", "title", "body", "url", "updated_at"]


def clean_text(value: str, limit: int) -> str:
    return _CONTROL.sub(" ", value or "")[:limit]


def _entry(provider: Provider, obj: Any, now) -> SearchEntry:
    return SearchEntry(
        type=provider.type,
        object_id=str(obj.pk),
        owner_id=provider.owner_id(obj),
        staff_only=provider.staff_only,
        title=clean_text(provider.title(obj), 300) or f"{provider.type} {obj.pk}",
        body=clean_text(provider.body(obj), conf.BODY_MAX_CHARS),
        url=provider.url(obj)[:500],
        updated_at=now,
    )


def title_words(title: str) -> set[str]:
    """The words of a title that the lexicon keeps (see SearchTerm)."""
    return {word for word in _WORD.findall(title.lower()) if 3 <= len(word) <= 64 and not word.isdigit()}


def _upsert(entries: list[SearchEntry]) -> None:
    SearchEntry.objects.bulk_create(
        entries, update_conflicts=True, unique_fields=["type", "object_id"], update_fields=_FIELDS
    )
    if connection.vendor == "postgresql":
        # Only PostgreSQL reads the lexicon (trigram matching of typos).
        words: set[str] = set()
        for entry in entries:
            words |= title_words(entry.title)
        SearchTerm.objects.bulk_create([SearchTerm(word=word) for word in sorted(words)], ignore_conflicts=True)


def entry_sync(*, provider: Provider, pk: Any) -> None:
    """Brings one object's entry up to date: written when the object exists
    and is indexable, removed otherwise (deleted meanwhile, soft-deleted)."""
    obj = provider.prepare(provider.model._default_manager.filter(pk=pk)).first()
    if obj is None or not provider.indexable(obj):
        entry_remove(provider=provider, pk=pk)
        return
    _upsert([_entry(provider, obj, timezone.now())])


def entry_remove(*, provider: Provider, pk: Any) -> None:
    SearchEntry.objects.filter(type=provider.type, object_id=str(pk)).delete()


def entries_remove(*, type_name: str, object_ids: Iterable[str]) -> int:
    deleted, _ = SearchEntry.objects.filter(type=type_name, object_id__in=list(object_ids)).delete()
    return deleted


def reindex(
    *,
    types: list[str] | None = None,
    batch_size: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Rebuilds the index of the given types (all when None) from the models.

    Upserts in batches, then removes entries of the type that the run did
    not touch: objects deleted or changed by bulk paths that send no signals.
    Answers the number of entries written per type. `progress(type, done,
    total)` is called after each batch.
    """
    batch_size = batch_size or conf.REINDEX_BATCH_SIZE
    if types is None:
        # A full rebuild also drops words no title uses any more.
        SearchTerm.objects.all().delete()
    selected = [p for p in providers.all_providers() if types is None or p.type in types]
    written: dict[str, int] = {}
    for provider in selected:
        started = timezone.now()
        queryset = provider.prepare(provider.model._default_manager.order_by("pk"))
        total = queryset.count()
        done, batch = 0, []
        for obj in queryset.iterator(chunk_size=batch_size):
            if provider.indexable(obj):
                batch.append(_entry(provider, obj, timezone.now()))
            done += 1
            if len(batch) >= batch_size:
                _upsert(batch)
                batch = []
            if progress and done % batch_size == 0:
                progress(provider.type, done, total)
        if batch:
            _upsert(batch)
        with transaction.atomic():
            stale, _ = SearchEntry.objects.filter(type=provider.type, updated_at__lt=started).delete()
        written[provider.type] = SearchEntry.objects.filter(type=provider.type).count()
        if progress:
            progress(provider.type, total, total)
        log.info("search_reindexed", type=provider.type, entries=written[provider.type], removed=stale)
    return written


def models_to_watch() -> list[type[Model]]:
    seen: dict[str, type[Model]] = {}
    for provider in providers.all_providers():
        seen.setdefault(provider.model._meta.label_lower, provider.model)
    return list(seen.values())

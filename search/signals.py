"""Keeps the index in step with every save and delete of an indexed model.

The work runs after the transaction commits, so the index never shows a
row that was rolled back, and re-reads the object so it indexes what was
committed. A failure is logged and never fails the write that caused it;
`manage.py reindex` repairs whatever was missed.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from search import providers, services


def _on_save(sender, instance, **kwargs) -> None:
    for provider in providers.for_model(sender):
        pk = instance.pk
        transaction.on_commit(lambda p=provider, pk=pk: services.entry_sync(provider=p, pk=pk), robust=True)


def _on_delete(sender, instance, **kwargs) -> None:
    for provider in providers.for_model(sender):
        pk = instance.pk
        transaction.on_commit(lambda p=provider, pk=pk: services.entry_remove(provider=p, pk=pk), robust=True)


def connect() -> None:
    for model in services.models_to_watch():
        uid = f"search-index:{model._meta.label_lower}"
        post_save.connect(_on_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_on_delete, sender=model, dispatch_uid=uid)

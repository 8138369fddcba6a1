"""What search indexes of each app, declared here in the search app.

A provider says, for one model, which entity type it is, how to turn an
object into a title, body and URL, who owns it, and whether only staff may
see it. Adding an app to search is one small module in this package that
calls `register(...)`, listed in PROVIDER_MODULES. A provider whose model is
not installed (its app has not landed yet) is skipped, not an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Model, QuerySet

PROVIDER_MODULES = ["search.providers.core"]
# Every entity type of the HTTP contract, indexed or not yet: a type whose
# app has not landed answers an empty result rather than "unknown type".
CONTRACT_TYPES = [
    "pipelines",
    "connectors",
    "transformations",
    "users",
    "files",
    "templates",
    "functions",
    "logs",
    "alerts",
    "alert-rules",
]
# Types only staff may search, whether or not their provider is installed.
STAFF_ONLY_TYPES = {"logs", "alerts", "alert-rules"}


def _owner_id(obj: Any) -> int | None:
    return getattr(obj, "owner_id", None)


@dataclass(frozen=True)
class Provider:
    type: str
    model_label: str
    title: Callable[[Any], str]
    url: Callable[[Any], str]
    body: Callable[[Any], str] = lambda obj: ""
    owner_id: Callable[[Any], int | None] = _owner_id
    staff_only: bool = False
    # False for objects that exist but must not be found (a soft-deleted file).
    indexable: Callable[[Any], bool] = lambda obj: True
    # Narrows or joins the reindex queryset (select_related against N+1).
    prepare: Callable[[QuerySet], QuerySet] = field(default=lambda queryset: queryset)

    @property
    def model(self) -> type[Model] | None:
        try:
            return apps.get_model(self.model_label)
        except (LookupError, ValueError):
            return None


_registry: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    _registry[provider.type] = provider
    return provider


def load() -> None:
    for module in PROVIDER_MODULES:
        importlib.import_module(module)


def all_providers() -> list[Provider]:
    """Registered providers whose model is installed, in registration order."""
    return [provider for provider in _registry.values() if provider.model is not None]


def get(type_name: str) -> Provider | None:
    provider = _registry.get(type_name)
    return provider if provider is not None and provider.model is not None else None


def for_model(model: type[Model]) -> list[Provider]:
    label = model._meta.label_lower
    return [provider for provider in all_providers() if provider.model._meta.label_lower == label]


def known_types() -> list[str]:
    extra = [name for name in _registry if name not in CONTRACT_TYPES]
    return [*CONTRACT_TYPES, *extra]


def is_staff_only(type_name: str) -> bool:
    provider = _registry.get(type_name)
    return type_name in STAFF_ONLY_TYPES or (provider is not None and provider.staff_only)

"""Writes of the core entities.

One pair of functions serves all five entities: they differ only in fields,
and the rules (owner set on create, names unique per owner, atomic writes)
are the same.
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model

from aggregator.exceptions import Conflict


def _save(instance: Model, many: dict[str, Any]) -> Model:
    try:
        with transaction.atomic():
            instance.full_clean(validate_unique=False, validate_constraints=False)
            instance.save()
            for field, values in many.items():
                getattr(instance, field).set(values)
    except IntegrityError:
        raise Conflict(f"A {instance._meta.verbose_name} with this name already exists.") from None
    return instance


def _split_many(model: type[Model], data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    many_names = {field.name for field in model._meta.many_to_many}
    plain = {key: value for key, value in data.items() if key not in many_names}
    many = {key: value for key, value in data.items() if key in many_names}
    return plain, many


def entity_create(*, model: type[Model], owner, data: dict[str, Any]) -> Model:
    plain, many = _split_many(model, data)
    return _save(model(owner=owner, **plain), many)


def entity_update(*, instance: Model, data: dict[str, Any]) -> Model:
    plain, many = _split_many(type(instance), data)
    for field, value in plain.items():
        setattr(instance, field, value)
    return _save(instance, many)

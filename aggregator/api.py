"""Small building blocks every app's API uses."""

import copy
import functools
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    """Every route answers with and without a trailing slash, never redirecting."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


class StrictFieldsMixin:
    """Rejects fields the serializer does not know instead of ignoring them,
    so a client's typo is a 400 rather than a silently dropped value."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(self.fields)
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class IsOwnerOrStaff(permissions.BasePermission):
    """Object-level guard; querysets are already owner-scoped by selectors,
    so this only matters for objects reached some other way."""

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return request.user.is_staff or getattr(obj, "owner_id", None) == request.user.pk


# --- Rendering list pages from column values ------------------------------------------


class ColumnRowsMixin:
    """A list view whose page is read as column values (`QuerySet.values()`)
    and rendered by `column_rows`, instead of building a model instance per
    row and running DRF's per-row, per-field serializer machinery on it.
    For a page of 50 files that machinery was 60 % of the request's CPU
    (bench/load, docs/RELIABILITY.md). The answer is the same: each value
    still goes through the serializer's own field. Detail views keep the
    serializer."""

    def list(self, request, *args, **kwargs):
        queryset = column_values(self.get_serializer_class(), self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(queryset)
        if page is None:
            return Response(column_rows(self.get_serializer_class(), queryset))
        return self.get_paginated_response(column_rows(self.get_serializer_class(), page))


_NOT_ONE_COLUMN = (serializers.RelatedField, serializers.BaseSerializer, serializers.SerializerMethodField)


@functools.cache
def _columns(serializer_class) -> tuple[tuple[str, str, Callable[[Any], Any]], ...]:
    """(output name, values() key, converter) for each field the serializer
    renders. Built once per class: the fields' to_representation keep no
    state between calls (a DateTimeField's time zone is bound per page, see
    `_in_current_timezone`)."""
    columns = []
    for name, field in serializer_class().fields.items():
        if field.write_only:
            continue
        if isinstance(field, serializers.PrimaryKeyRelatedField) and field.pk_field is None:
            convert = _same  # values() gives the related row's pk, which is what the field shows
        elif isinstance(field, _NOT_ONE_COLUMN) or field.source == "*":
            raise TypeError(f"{serializer_class.__name__}.{name}: {type(field).__name__} is not one column")
        else:
            convert = field.to_representation
        # A dotted source ("owner.username") is a lookup across the relation.
        columns.append((name, field.source.replace(".", "__"), convert))
    return tuple(columns)


def _same(value: Any) -> Any:
    return value


def _in_current_timezone(columns):
    """The columns with each DateTimeField bound to the time zone current now.
    Unbound, the field asks Django for the current time zone once per value
    (a context-local lookup): 40 % of the CPU of a page of 50 files. Binding
    is DRF's own `DateTimeField(default_timezone=...)`, on a copy of the
    field, so the zone stays that of the request rendering the page."""
    zone = timezone.get_current_timezone() if settings.USE_TZ else None
    bound = []
    for name, key, convert in columns:
        field = getattr(convert, "__self__", None)
        if isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
            field = copy.copy(field)
            field.timezone = zone
            convert = field.to_representation
        bound.append((name, key, convert))
    return bound


def column_values(serializer_class, queryset: QuerySet) -> QuerySet:
    """`queryset` as the column values `column_rows` renders."""
    return queryset.values(*{key for _, key, _ in _columns(serializer_class)})


def column_rows(serializer_class, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What `serializer_class(instances, many=True).data` holds for the same
    rows: the same keys in the same order, None where the value is None (as
    DRF does), else the value through the serializer's own field."""
    columns = _in_current_timezone(_columns(serializer_class))
    return [
        {name: None if (value := row[key]) is None else convert(value) for name, key, convert in columns}
        for row in rows
    ]

"""Small building blocks every app's API uses."""

from typing import Any

from rest_framework import permissions, serializers
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

"""One site-wide rule for admin actions: an action that does not say which
permission it needs requires the *change* permission of its model.

Django shows an action with no declared permission to everyone who may view
the list, so a read-only operator could otherwise run "delete files" or
"run selected tasks" (django-celery-beat declares none). Actions that do
declare theirs (`@admin.action(permissions=[...])`) are left as they are.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite


def require_change_for_undeclared_actions(site: AdminSite) -> list[str]:
    """Apply the rule to every registered admin; returns what it guarded."""
    guarded = []
    for model, model_admin in site._registry.items():
        for action in model_admin.actions or ():
            func = getattr(type(model_admin), action, None) if isinstance(action, str) else action
            func = getattr(func, "__func__", func)
            if callable(func) and not hasattr(func, "allowed_permissions"):
                func.allowed_permissions = ("change",)
                guarded.append(f"{model._meta.label}.{getattr(func, '__name__', action)}")
    return guarded

"""One site-wide rule for admin actions: an action that does not say which
permission it needs may only be run by a user holding the *change*
permission of its model.

Django shows an action with no declared permission to everyone who may view
the list, so a read-only operator could otherwise run "delete files" or
"run selected tasks" (django-celery-beat declares none). Actions that do
declare theirs (`@admin.action(permissions=[...])`) are left as they are.

The check asks the user's permissions (`user.has_perm`), not the admin's
`has_change_permission`: admins of records of fact (log archives) refuse
editing the row in the form but still offer actions (restore) to operators.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.admin import AdminSite, ModelAdmin
from django.http import HttpRequest

PERMISSION = "operate"  # Django calls ModelAdmin.has_operate_permission(request)


def _has_operate_permission(model_admin: ModelAdmin) -> Callable[[HttpRequest], bool]:
    opts = model_admin.opts
    codename = f"{opts.app_label}.change_{opts.model_name}"

    def check(request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm(codename)

    return check


def require_change_for_undeclared_actions(site: AdminSite) -> list[str]:
    """Apply the rule to every registered admin; returns what it guarded."""
    guarded = []
    for model, model_admin in site._registry.items():
        if not hasattr(model_admin, f"has_{PERMISSION}_permission"):
            setattr(model_admin, f"has_{PERMISSION}_permission", _has_operate_permission(model_admin))
        for action in model_admin.actions or ():
            func = getattr(type(model_admin), action, None) if isinstance(action, str) else action
            func = getattr(func, "__func__", func)
            if callable(func) and not hasattr(func, "allowed_permissions"):
                func.allowed_permissions = (PERMISSION,)
                guarded.append(f"{model._meta.label}.{getattr(func, '__name__', action)}")
    return guarded

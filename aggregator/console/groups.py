"""The operator permission groups.

- "operators" run the platform: they view, add and change everything the
  console shows and delete what is not a record of fact; they see users but
  do not manage them.
- "read-only operators" view everything the console shows and change nothing.

A data migration creates both groups; `groups_grant_permissions` fills them
after every `migrate` (a post_migrate handler), because the apps that migrate
after `aggregator` (files, monitoring, health, search, beat) only get their
permissions at the end of the run, and apps added later must be covered too.
Membership still needs `is_staff` to open the admin at all.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db.models import Q

OPERATORS = "operators"
READ_ONLY_OPERATORS = "read-only operators"

# Apps whose models the console shows and operators run.
CONSOLE_APPS = ["aggregator", "files", "monitoring", "search", "health", "django_celery_beat"]
# Records of fact: logs, their archives, the alert audit trail and delivery
# attempts. Operators act on them through services (archive, restore), never
# by editing or deleting rows in the admin.
FACT_MODELS = {
    ("monitoring", "systemlog"),
    ("monitoring", "logarchive"),
    ("monitoring", "alertaction"),
    ("monitoring", "notificationattempt"),
}
# Seen, not managed, by operators.
VIEW_ONLY_EXTRA = [("auth", "user"), ("auth", "group")]


def _permissions_query(*, read_only: bool) -> Q:
    view_only = Q(codename__startswith="view_")
    console_apps = Q(content_type__app_label__in=CONSOLE_APPS)
    extra = Q()
    for app_label, model in VIEW_ONLY_EXTRA:
        extra |= Q(content_type__app_label=app_label, content_type__model=model, codename=f"view_{model}")
    if read_only:
        return (console_apps & view_only) | extra
    facts_changed = Q()
    for app_label, model in FACT_MODELS:
        facts_changed |= Q(content_type__app_label=app_label, content_type__model=model) & ~view_only
    return (console_apps & ~facts_changed) | extra


def groups_grant_permissions(*, using: str = "default") -> None:
    """Give both groups exactly the permissions above (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    # Permissions of apps later in INSTALLED_APPS are created by their own
    # post_migrate signal, after this one; create them now (a no-op for
    # those that exist) so the groups see every model.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    for name, read_only in ((OPERATORS, False), (READ_ONLY_OPERATORS, True)):
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(Permission.objects.using(using).filter(_permissions_query(read_only=read_only)))


def on_post_migrate(using: str = "default", **_: Any) -> None:
    groups_grant_permissions(using=using)

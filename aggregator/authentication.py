"""Token authentication served from the cache.

DRF's TokenAuthentication reads the token and its user from the database on
every request; for a cached response that query was most of the server's
time. Here the token's user is cached under a digest of the key (the key
itself never becomes a cache key), and the entry is deleted when the token
or its user is saved or deleted, so a revoked token or a deactivated user
stops working on the next request. A change that sends no signal (a bulk
update) is seen when the entry expires, after TOKEN_TTL at most. When the
cache is down every lookup falls through to the database, as before.

The user is cached with their permissions already loaded (Django's
ModelBackend keeps them on the user object), so a permission check such as
the log writers' `monitoring.add_systemlog` costs no query either; it was
two queries and 40 % of a log batch's CPU. Adding or removing a user's
groups or permissions, or a group's permissions, drops the entries of every
user concerned at once.
"""

from __future__ import annotations

import hashlib
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from aggregator import cache
from aggregator.env import env_int

# How long a token's user is served from the cache. Saving or deleting the
# token or the user drops the entry at once; what sends no signal (a bulk
# `User.objects.filter(...).update(is_active=False)`, raw SQL, another
# program writing the database) is seen only when the entry expires, so
# this is the longest a deactivated user keeps access that way. A miss is
# one indexed query (token join user, ~0.3 ms): at 60 s that is one query
# per active token per minute across all processes (docs/OPERATIONS.md has
# the measurement). 0 turns the cache off: every request reads the database.
TOKEN_TTL = env_int("AUTH_TOKEN_CACHE_SECONDS", 60, minimum=0)


def token_entry_ttl() -> int:
    """How long this entry lives: TOKEN_TTL less up to a fifth, drawn per
    entry. Tokens first seen together (every client reconnecting after a
    restart, a cold cache) would otherwise expire together every TOKEN_TTL
    for as long as the process runs, each time sending all their misses to
    the database in the same second; bench/load saw p99 rise 150 ms at each
    such wave. Never longer than TOKEN_TTL, the documented window."""
    return random.randint(TOKEN_TTL - TOKEN_TTL // 5, TOKEN_TTL)


def token_cache_key(key: str) -> str:
    return "authtoken:" + hashlib.sha256(key.encode()).hexdigest()[:40]


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        cache_key = token_cache_key(key)
        token = cache.get(cache_key)
        if token is None:
            try:
                token = Token.objects.select_related("user").get(key=key)
            except Token.DoesNotExist:
                raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
            if token.user.is_active and TOKEN_TTL:
                # Loaded now so they are cached with the user (see the module's docstring).
                token.user.get_all_permissions()
                cache.set(cache_key, token, token_entry_ttl())
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token


def _forget_token(sender, instance, created=False, **kwargs) -> None:
    if created:  # a new token cannot have been cached
        return
    cache.delete(token_cache_key(instance.key))


def _forget_user_tokens(sender, instance, created=False, **kwargs) -> None:
    if created:
        return
    tokens_forget(user_ids=[instance.pk])


def tokens_forget(*, user_ids) -> None:
    """Drop the cached tokens of these users, so their next request reads the
    database. Code that changes users without signals (a bulk `update()`)
    calls this after it; otherwise they are seen within TOKEN_TTL."""
    for key in Token.objects.filter(user_id__in=list(user_ids)).values_list("key", flat=True).iterator():
        cache.delete(token_cache_key(key))


def _users_concerned(instance) -> Q:
    """Users whose permissions may depend on this user, group or permission."""
    if isinstance(instance, Group):
        return Q(groups=instance)
    if isinstance(instance, Permission):
        return Q(user_permissions=instance) | Q(groups__permissions=instance)
    return Q(pk=instance.pk)


def _forget_on_permission_change(sender, instance, action, model, pk_set, **kwargs) -> None:
    """m2m_changed of user.groups, user.user_permissions or group.permissions,
    from either side. Before a clear (its pk_set is unknown) and after an add
    or remove: the users of `instance`, plus those named by pk_set, which on
    a remove no longer belong to `instance`."""
    if action not in ("pre_clear", "post_add", "post_remove"):
        return
    concerned = _users_concerned(instance)
    if pk_set and model is get_user_model():
        concerned |= Q(pk__in=pk_set)
    elif pk_set and model is Group:
        concerned |= Q(groups__in=pk_set)
    _forget_users(concerned)


def _forget_on_group_or_permission_delete(sender, instance, **kwargs) -> None:
    # The deletion cascades to the m2m rows without an m2m_changed signal.
    _forget_users(_users_concerned(instance))


def _forget_users(concerned: Q) -> None:
    tokens_forget(user_ids=get_user_model().objects.filter(concerned).values_list("pk", flat=True).distinct())


def connect_invalidation() -> None:
    post_save.connect(_forget_token, sender=Token, dispatch_uid="authtoken-cache-token-save")
    post_delete.connect(_forget_token, sender=Token, dispatch_uid="authtoken-cache-token-delete")
    user_model = get_user_model()
    post_save.connect(_forget_user_tokens, sender=user_model, dispatch_uid="authtoken-cache-user-save")
    # pre_delete: the user's tokens are cascaded away (each sends post_delete),
    # but drop the entries first in case a cascade is done without signals.
    pre_delete.connect(_forget_user_tokens, sender=user_model, dispatch_uid="authtoken-cache-user-delete")
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            _forget_on_permission_change, sender=through, dispatch_uid=f"authtoken-cache-perms-{through.__name__}"
        )
    for model in (Group, Permission):
        pre_delete.connect(
            _forget_on_group_or_permission_delete, sender=model, dispatch_uid=f"authtoken-cache-delete-{model.__name__}"
        )

"""A token's user is cached with their permissions (aggregator/authentication.py):
a permission check on a cache hit reads no permission table, and a change of
a user's groups or permissions, or of a group's permissions, from either
side of the relation, is seen on the very next request.

Runs on the configured cache: local memory embedded, Redis with REDIS_URL."""

import pytest
from django.contrib.auth.models import Group, Permission

pytestmark = pytest.mark.django_db


LOG_BATCH = [{"level": "info", "message": "token cache", "source": "tests"}]


def _writer_can_post(client) -> int:
    return client.post("/api/v1/logs/", LOG_BATCH, format="json").status_code


def _permission_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert _writer_can_post(client) == 201
    return sum("auth_permission" in query["sql"] for query in queries.captured_queries)


def test_a_cached_users_permission_check_reads_no_permission_table(alice, alice_client):
    alice.groups.add(Group.objects.get(name="log writers"))
    assert _permission_queries(alice_client) > 0  # the miss loads them once
    assert _permission_queries(alice_client) == 0  # then they come with the cached user


def test_joining_or_leaving_a_group_is_seen_at_once(alice, alice_client):
    writers = Group.objects.get(name="log writers")
    assert _writer_can_post(alice_client) == 403  # cached: no permission
    alice.groups.add(writers)
    assert _writer_can_post(alice_client) == 201
    alice.groups.remove(writers)
    assert _writer_can_post(alice_client) == 403
    writers.user_set.add(alice)  # from the group's side
    assert _writer_can_post(alice_client) == 201
    writers.user_set.remove(alice)
    assert _writer_can_post(alice_client) == 403


def test_a_group_losing_or_gaining_a_permission_is_seen_at_once(alice, alice_client):
    writers = Group.objects.get(name="log writers")
    add_log = Permission.objects.get(codename="add_systemlog", content_type__app_label="monitoring")
    alice.groups.add(writers)
    assert _writer_can_post(alice_client) == 201
    writers.permissions.remove(add_log)
    assert _writer_can_post(alice_client) == 403
    add_log.group_set.add(writers)  # from the permission's side
    assert _writer_can_post(alice_client) == 201
    add_log.group_set.remove(writers)
    assert _writer_can_post(alice_client) == 403
    writers.permissions.add(add_log)
    assert _writer_can_post(alice_client) == 201
    writers.permissions.clear()
    assert _writer_can_post(alice_client) == 403


def test_a_direct_permission_and_a_deleted_group_are_seen_at_once(alice, alice_client):
    add_log = Permission.objects.get(codename="add_systemlog", content_type__app_label="monitoring")
    alice.user_permissions.add(add_log)
    assert _writer_can_post(alice_client) == 201
    add_log.user_set.remove(alice)
    assert _writer_can_post(alice_client) == 403

    temporary = Group.objects.create(name="temporary writers")
    temporary.permissions.add(add_log)
    temporary.user_set.add(alice)
    assert _writer_can_post(alice_client) == 201
    temporary.delete()
    assert _writer_can_post(alice_client) == 403

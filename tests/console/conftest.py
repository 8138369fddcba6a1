"""Fixtures of the operator console tests: logged-in admin clients for the
staff operator and for members of the two operator groups."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from aggregator.console.groups import OPERATORS, READ_ONLY_OPERATORS


@pytest.fixture
def staff_browser(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _member_of(make_user, username: str, group: str) -> Client:
    user = make_user(username)
    # Staff opens the admin; the group decides what it may do there.
    user.is_staff = True
    user.is_superuser = False
    user.save()
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator_browser(make_user) -> Client:
    return _member_of(make_user, "olga", OPERATORS)


@pytest.fixture
def readonly_browser(make_user) -> Client:
    return _member_of(make_user, "rita", READ_ONLY_OPERATORS)

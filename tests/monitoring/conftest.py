"""Monitoring personas: `log_writer`, a service account in the "log writers"
group (made by a migration), and its API client."""

import pytest
from django.contrib.auth.models import Group

from tests.conftest import client_for


@pytest.fixture
def log_writer(make_user):
    user = make_user("billing-service")
    user.groups.add(Group.objects.get(name="log writers"))
    return user


@pytest.fixture
def log_writer_client(log_writer):
    return client_for(log_writer)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are made in nearly every test; the production hasher's cost
    # protects stored passwords and only slows the suite down here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_search_estimates():
    # The text-first decision remembers PostgreSQL's row estimate per words
    # for a few minutes; each test's rows are new, so is its estimate.
    from monitoring.logs import selectors

    selectors.forget_estimates()
    yield
    selectors.forget_estimates()

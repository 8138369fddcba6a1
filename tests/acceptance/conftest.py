"""Acceptance personas and a small world of objects owned by alice.

The personas are the usual ones (tests/conftest.py) plus `writer`, a service
account in the "log writers" group made by monitoring's migration.
"""

import base64
import io

import pytest
from django.contrib.auth.models import Group

from files import conf as files_conf
from tests.conftest import client_for

# Every text alice owns carries this marker, so a leak to anyone else shows up
# in any response body, whatever its shape.
MARK = "ALICE-PRIVATE-7f3a"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are made in every test; the production hasher's cost only slows us.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setattr(files_conf, "TEMP_DIR", tmp_path / "media" / "tus")
    monkeypatch.setattr(files_conf, "CLAMAV_URL", "")
    return tmp_path / "media"


@pytest.fixture
def writer(make_user):
    user = make_user("billing-service")
    user.groups.add(Group.objects.get(name="log writers"))
    return user


@pytest.fixture
def writer_client(writer):
    return client_for(writer)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def tus_metadata(**values: str) -> str:
    return ",".join(f"{key} {b64(value)}" for key, value in values.items())


TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def multipart_upload(client, name: str, data: bytes, **fields):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post("/api/v1/files/", {"file": upload, **fields}, format="multipart")

"""files/upload_rows.py: the PATCH's row read and offset UPDATE, written
without the ORM's compiler, give what the ORM gives, on either database."""

import os
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from files import upload_rows
from files.hashing import ResumableSha256
from files.models import FileStatus, FileUpload
from tests.files.conftest import TUS

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(alice):
    state = ResumableSha256().state()
    return FileUpload.objects.create(
        owner=alice,
        filename="data.csv",
        size=100,
        offset=40,
        progress=40,
        temp_path="/tmp/x.part",
        hash_state=state,
        expires_at=timezone.now() + timedelta(hours=1),
        metadata={"filename": "data.csv"},
    )


def test_the_row_read_equals_the_orm_for_the_fields_a_patch_uses(upload, alice):
    row = upload_rows.read(str(upload.pk), alice.pk)
    orm = FileUpload.objects.get(pk=upload.pk)
    for name in ("id", "owner_id", "status", "size", "offset", "temp_path", "expires_at"):
        assert getattr(row, name) == getattr(orm, name), name
    assert bytes(row.hash_state) == bytes(orm.hash_state)
    assert ResumableSha256.restore(row.hash_state, expected_bytes=0) is not None
    assert row.expires_at.tzinfo is not None
    assert {"metadata", "filename", "validation_report"} <= row.get_deferred_fields()
    assert row.metadata == {"filename": "data.csv"}  # a deferred field still loads when asked


def test_the_row_read_finds_nothing_for_another_owner_a_wrong_or_malformed_id(upload, bob, staff):
    assert upload_rows.read(str(upload.pk), bob.pk) is None
    assert upload_rows.read(str(uuid.uuid4()), upload.owner_id) is None
    assert upload_rows.read("not-a-uuid", upload.owner_id) is None
    assert upload_rows.read(upload.pk.hex, None).pk == upload.pk  # staff: any owner, hex form too


def test_advance_writes_every_field_of_the_row_at_the_expected_offset(upload):
    later = timezone.now() + timedelta(days=1)
    state = os.urandom(122)
    changes = dict(offset=70, progress=70, hash_state=state, expires_at=later, updated_at=later)
    assert upload_rows.advance(upload, from_offset=40, status=FileStatus.UPLOADING, **changes)
    stored = FileUpload.objects.get(pk=upload.pk)
    assert (stored.offset, stored.progress, bytes(stored.hash_state)) == (70, 70, state)
    assert (stored.expires_at, stored.updated_at) == (later, later)


def test_advance_changes_nothing_when_the_offset_or_status_moved_meanwhile(upload):
    changes = dict(offset=70, progress=70, hash_state=b"x", expires_at=timezone.now(), updated_at=timezone.now())
    assert not upload_rows.advance(upload, from_offset=39, status=FileStatus.UPLOADING, **changes)
    assert not upload_rows.advance(upload, from_offset=40, status=FileStatus.DELETED, **changes)
    assert FileUpload.objects.get(pk=upload.pk).offset == 40


def test_staff_may_append_to_anyones_upload_and_others_may_not(tus_create, tus_patch, staff_client, bob_client):
    location = tus_create(10)["Location"]
    assert tus_patch(location, b"12345", 0, client=bob_client).status_code == 404
    response = tus_patch(location, b"12345", 0, client=staff_client)
    assert response.status_code == 204 and response["Upload-Offset"] == "5"
    assert staff_client.head(location, **TUS)["Upload-Offset"] == "5"

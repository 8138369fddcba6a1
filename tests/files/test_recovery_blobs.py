"""The orphan sweep (`files.recovery.stored_blobs_sweep`, beat job "files:
remove stored content no file refers to"): stored content no upload refers
to is removed once it is older than the grace; referenced content and a
fresh orphan (an upload being finished right now) stay.

Runs on the local file storage (as deployed by default) and on an
in-memory storage without local paths, as object storage is."""

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from structlog.testing import capture_logs

from files import conf, recovery, storage
from files.models import FileUpload, StoredBlob
from files.services import file_upload_create_from_path, file_upload_delete

pytestmark = pytest.mark.django_db(transaction=True)

GRACE = 2


@pytest.fixture(params=["filesystem", "memory"])
def blob_storage(request, settings, monkeypatch):
    if request.param == "memory":
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "tests.files.object_storage.ObjectStorage"},
        }
    monkeypatch.setattr(conf, "BLOB_ORPHAN_GRACE_SECONDS", GRACE)
    return request.param


def _stored_file(owner, tmp_path, text: str, name: str = "data.csv") -> FileUpload:
    path = tmp_path / name
    path.write_text(text)
    return file_upload_create_from_path(owner=owner, path=path, filename="data.csv")


def _orphan_bytes(owner_id: int, sha: str) -> str:
    """What a crash between storing the bytes and committing the row leaves."""
    return default_storage.save(storage.blob_name(owner_id, sha), ContentFile(b"a,b\n1,2\n"))


def test_it_removes_old_orphans_and_keeps_referenced_and_fresh_content(blob_storage, alice, tmp_path):
    """GIVEN a referenced blob and an orphan, both older than the grace, and a fresh orphan
    WHEN the sweep runs
    THEN only the old orphan is gone, and a second run removes nothing."""
    kept = _stored_file(alice, tmp_path, "a,b\n1,2\n")
    old_orphan = _orphan_bytes(alice.pk, "ab" * 32)
    time.sleep(GRACE + 0.5)
    fresh_orphan = _orphan_bytes(alice.pk, "cd" * 32)

    with capture_logs() as logs:
        assert recovery.stored_blobs_sweep() == 1

    assert not default_storage.exists(old_orphan)
    assert default_storage.exists(fresh_orphan)
    kept.refresh_from_db()
    assert default_storage.exists(kept.blob.storage_name)
    assert StoredBlob.objects.filter(pk=kept.blob_id).exists()
    assert [entry["count"] for entry in logs if entry["event"] == "stored_blobs_swept"] == [1]
    assert recovery.stored_blobs_sweep() == 0


def test_it_removes_a_blob_row_no_upload_points_to_with_its_bytes(blob_storage, alice, tmp_path):
    """GIVEN a blob whose only upload row was removed without the delete service
    THEN the sweep removes the row and its bytes once the grace has passed, not before."""
    upload = _stored_file(alice, tmp_path, "x,y\n3,4\n")
    blob = upload.blob
    FileUpload.objects.filter(pk=upload.pk).delete()

    assert recovery.stored_blobs_sweep() == 0  # inside the grace
    assert StoredBlob.objects.filter(pk=blob.pk).exists()

    later = timezone.now() + timedelta(seconds=GRACE + 1)
    assert recovery.stored_blobs_sweep(now=later) >= 1
    assert not StoredBlob.objects.filter(pk=blob.pk).exists()
    assert not default_storage.exists(blob.storage_name)


def test_it_keeps_content_shared_by_a_deleted_and_a_live_upload(blob_storage, alice, tmp_path):
    first = _stored_file(alice, tmp_path, "same\n1\n")
    second = _stored_file(alice, tmp_path, "same\n1\n", name="copy.csv")
    assert first.blob_id == second.blob_id
    file_upload_delete(upload=first)
    StoredBlob.objects.filter(pk=second.blob_id).update(created_at=timezone.now() - timedelta(days=30))

    assert recovery.stored_blobs_sweep(now=timezone.now() + timedelta(days=1)) == 0
    second.refresh_from_db()
    assert default_storage.exists(second.blob.storage_name)


def test_a_deduplicated_upload_after_the_sweep_stores_its_bytes_anew(blob_storage, alice, alice_client, tmp_path):
    """The sweep removed a blob; a tus creation that names its sha256 then
    finds nothing to link, and the client sends the bytes."""
    upload = _stored_file(alice, tmp_path, "p,q\n5,6\n")
    sha = upload.sha256
    FileUpload.objects.filter(pk=upload.pk).delete()
    recovery.stored_blobs_sweep(now=timezone.now() + timedelta(seconds=GRACE + 1))

    from tests.files.conftest import TUS, metadata

    response = alice_client.post(
        "/api/v1/files/tus/",
        **TUS,
        HTTP_UPLOAD_LENGTH=str(upload.size),
        HTTP_UPLOAD_METADATA=metadata(filename="again.csv", sha256=sha),
    )
    assert response.status_code == 201
    assert response["Upload-Offset"] == "0"


def test_the_sweep_is_a_beat_job():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="files: remove stored content no file refers to")
    assert task.task == "files.tasks.stored_blobs_sweep_task"


def test_bytes_linked_from_an_old_partial_file_count_as_fresh(alice, tmp_path, monkeypatch):
    """GIVEN a tus upload whose last chunk arrived two days ago, finished only
    now (HEAD or expiry finishes it): storing hard-links the partial file, so
    the stored file keeps the old mtime
    WHEN the sweep runs before the row commits (the crash window)
    THEN the bytes stay: the link is what counts, not the last chunk."""
    monkeypatch.setattr(conf, "BLOB_ORPHAN_GRACE_SECONDS", 3600)
    partial = storage.new_temp_file()
    partial.write_bytes(b"a,b\n1,2\n")
    two_days_ago = time.time() - 2 * 86400
    os.utime(partial, (two_days_ago, two_days_ago))

    name = storage.store(partial, storage.blob_name(alice.pk, "ef" * 32))

    assert os.stat(default_storage.path(name)).st_mtime == pytest.approx(two_days_ago)
    assert recovery.stored_blobs_sweep() == 0
    assert default_storage.exists(name)

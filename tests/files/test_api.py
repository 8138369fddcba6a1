"""The files REST resource: list, filter, detail, content, delete, upload."""

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from files import conf
from files.models import FileStatus, FileUpload, StoredBlob
from files.selectors import bytes_stored, file_counts_by_status, files_failed_count, files_stuck_count
from files.services import file_upload_create_from_path
from tests.files.conftest import multipart_upload, sha256

pytestmark = pytest.mark.django_db

DATA = b"id,name\n" + b"".join(f"{i},name{i}\n".encode() for i in range(100))


@pytest.fixture
def stored(alice, tmp_path, django_capture_on_commit_callbacks):
    def make(data: bytes = DATA, name: str = "people.csv", owner=None) -> FileUpload:
        path = tmp_path / "src"
        path.write_bytes(data)
        with django_capture_on_commit_callbacks(execute=True):
            upload = file_upload_create_from_path(owner=owner or alice, path=path, filename=name)
        upload.refresh_from_db()
        return upload

    return make


def test_a_small_file_uploads_with_multipart(alice_client):
    response = multipart_upload(alice_client, "people.csv", DATA)
    assert response.status_code == 201
    body = response.json()
    assert body["filename"] == "people.csv" and body["size"] == len(DATA) and body["sha256"] == sha256(DATA)
    assert set(body) >= {"id", "status", "file_type", "mime_type", "progress", "created_at", "validation_report"}


def test_multipart_refuses_files_above_its_limit(alice_client, monkeypatch):
    monkeypatch.setattr(conf, "MULTIPART_MAX_SIZE", 10)
    response = multipart_upload(alice_client, "people.csv", DATA)
    assert response.status_code == 413
    assert "tus" in response.json()["detail"]
    assert not FileUpload.objects.exists() and not StoredBlob.objects.exists()


def test_multipart_needs_the_file_field_and_refuses_unknown_fields(alice_client):
    assert alice_client.post("/api/v1/files/", {}, format="multipart").status_code == 400
    assert multipart_upload(alice_client, "a.csv", DATA, colour="red").status_code == 400


def test_multipart_accepts_an_own_pipeline_only(alice_client, alice, bob):
    from aggregator.models import Pipeline

    mine = Pipeline.objects.create(owner=alice, name="p")
    theirs = Pipeline.objects.create(owner=bob, name="q")
    assert multipart_upload(alice_client, "a.csv", DATA, pipeline=mine.pk).json()["pipeline"] == mine.pk
    assert multipart_upload(alice_client, "b.csv", DATA, pipeline=theirs.pk).status_code == 400


def test_list_filters_and_scopes_to_the_owner(alice_client, bob_client, staff_client, stored, bob):
    csv = stored()
    stored(b'{"a": 1}', "doc.json")
    stored(b"x,y\n", "theirs.csv", owner=bob)
    assert alice_client.get("/api/v1/files/").json()["count"] == 2
    assert bob_client.get("/api/v1/files").json()["count"] == 1
    assert staff_client.get("/api/v1/files/").json()["count"] == 3
    assert alice_client.get("/api/v1/files/?file_type=json").json()["count"] == 1
    assert alice_client.get("/api/v1/files/?status=completed").json()["count"] == 2
    assert alice_client.get("/api/v1/files/?name=PEOPLE").json()["results"][0]["id"] == str(csv.pk)
    assert alice_client.get(f"/api/v1/files/?sha256={csv.sha256}").json()["count"] == 1
    assert alice_client.get("/api/v1/files/?created_after=2000-01-01T00:00:00Z").json()["count"] == 2
    assert alice_client.get("/api/v1/files/?status=nonsense").status_code == 400


def test_a_list_page_costs_the_same_queries_whatever_its_rows_and_shows_what_the_detail_shows(
    alice_client, stored, alice
):
    """The page is read as column values (aggregator.api.ColumnRowsMixin):
    the pipeline and blob rows are not joined (shown by id), the owner's
    name is joined as a column, there is no query per row, and each row
    equals the detail."""
    from aggregator.models import Pipeline

    pipeline = Pipeline.objects.create(name="p", owner=alice)
    first = stored()
    FileUpload.objects.filter(pk=first.pk).update(pipeline=pipeline)
    alice_client.get("/api/v1/files/")  # the token's user is cached from here on
    with CaptureQueriesContext(connection) as one:
        assert alice_client.get("/api/v1/files/").json()["count"] == 1
    for index in range(4):
        stored(f"id\n{index}\n".encode(), f"more{index}.csv")
    with CaptureQueriesContext(connection) as five:
        page = alice_client.get("/api/v1/files/").json()
    assert page["count"] == 5
    assert len(five.captured_queries) == len(one.captured_queries)
    page_sql = five.captured_queries[-1]["sql"]
    assert "auth_user" in page_sql and "aggregator_pipeline" not in page_sql and "files_storedblob" not in page_sql
    row = next(row for row in page["results"] if row["id"] == str(first.pk))
    assert row == alice_client.get(f"/api/v1/files/{first.pk}/").json()
    assert row["pipeline"] == pipeline.pk and row["owner"] == alice.username


def test_a_staff_page_names_each_rows_own_owner(staff_client, stored, bob):
    stored()
    stored(b"x,y\n", "theirs.csv", owner=bob)
    owners = {row["filename"]: row["owner"] for row in staff_client.get("/api/v1/files/").json()["results"]}
    assert owners == {"people.csv": "alice", "theirs.csv": "bob"}


def test_another_users_file_is_a_404(bob_client, stored):
    upload = stored()
    assert bob_client.get(f"/api/v1/files/{upload.pk}/").status_code == 404
    assert bob_client.get(f"/api/v1/files/{upload.pk}/content").status_code == 404
    assert bob_client.delete(f"/api/v1/files/{upload.pk}").status_code == 404


def test_content_streams_the_bytes_as_an_attachment(alice_client, stored):
    upload = stored()
    response = alice_client.get(f"/api/v1/files/{upload.pk}/content")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == DATA
    assert response["Accept-Ranges"] == "bytes"
    assert "attachment" in response["Content-Disposition"]


def test_content_reads_with_offset_and_length(alice_client, stored):
    upload = stored()
    response = alice_client.get(f"/api/v1/files/{upload.pk}/content?offset=3&length=10")
    assert b"".join(response.streaming_content) == DATA[3:13]
    assert response["Content-Length"] == "10"
    assert alice_client.get(f"/api/v1/files/{upload.pk}/content?offset=-1").status_code == 400
    assert alice_client.get(f"/api/v1/files/{upload.pk}/content?offset={len(DATA) + 1}").status_code == 400


@pytest.mark.parametrize(
    ("header", "start", "end"), [("bytes=0-9", 0, 9), ("bytes=10-", 10, None), ("bytes=-5", None, None)]
)
def test_content_honours_http_range(alice_client, stored, header, start, end):
    upload = stored()
    response = alice_client.get(f"/api/v1/files/{upload.pk}/content", HTTP_RANGE=header)
    assert response.status_code == 206
    body = b"".join(response.streaming_content)
    expected = DATA[-5:] if start is None else DATA[start : (end + 1 if end is not None else None)]
    assert body == expected
    assert response["Content-Range"].endswith(f"/{len(DATA)}")


def test_an_unsatisfiable_range_is_a_416(alice_client, stored):
    upload = stored()
    response = alice_client.get(f"/api/v1/files/{upload.pk}/content", HTTP_RANGE=f"bytes={len(DATA)}-")
    assert response.status_code == 416
    assert "outside" in response.json()["detail"]


def test_delete_marks_deleted_and_removes_bytes_unless_shared(alice_client, stored, django_capture_on_commit_callbacks):
    first = stored()
    second = stored(name="copy.csv")
    name = first.blob.storage_name
    assert first.blob_id == second.blob_id
    assert alice_client.delete(f"/api/v1/files/{first.pk}/").status_code == 204
    first.refresh_from_db()
    assert first.status == FileStatus.DELETED
    assert default_storage.exists(name)  # still used by the copy
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.delete(f"/api/v1/files/{second.pk}/")
    assert not default_storage.exists(name)
    assert not StoredBlob.objects.exists()
    assert alice_client.get(f"/api/v1/files/{first.pk}/").status_code == 404


def test_validate_refuses_an_unfinished_upload(alice_client, tus_create):
    location = tus_create(10)["Location"]
    upload_id = location.rstrip("/").rsplit("/", 1)[1]
    response = alice_client.post(f"/api/v1/files/{upload_id}/validate")
    assert response.status_code == 409


def test_selectors_for_other_apps(stored, alice):
    stored()
    stored(b"", "empty.csv")
    counts = file_counts_by_status()
    assert counts["completed"] == 1 and counts["failed"] == 1 and counts["uploading"] == 0
    from datetime import timedelta

    from django.utils import timezone

    assert files_failed_count(since=timezone.now() - timedelta(hours=1)) == 1
    assert files_stuck_count(older_than=timedelta(minutes=5)) == 0
    assert bytes_stored() == len(DATA)


def test_files_are_stored_through_the_storage_api(stored, settings):
    upload = stored()
    assert Path(settings.MEDIA_ROOT, upload.blob.storage_name).read_bytes() == DATA

"""The tus 1.0.0 endpoint, request by request (the protocol as a spec)."""

import base64
import fcntl
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from files import conf, storage
from files.models import FileStatus, FileUpload, StoredBlob
from files.services import file_uploads_expire
from tests.files.conftest import TUS, metadata, sha256

pytestmark = pytest.mark.django_db

CSV = b"id,name\n1,ann\n2,bob\n"


def upload_of(response) -> FileUpload:
    return FileUpload.objects.get(pk=response["Location"].rstrip("/").rsplit("/", 1)[1])


def test_options_advertises_version_extensions_limits_and_chunk_size(alice_client):
    response = alice_client.options("/api/v1/files/tus/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    extensions = set(response["Tus-Extension"].split(","))
    assert {"creation", "creation-with-upload", "expiration", "checksum", "termination"} <= extensions
    assert int(response["Tus-Max-Size"]) == conf.MAX_SIZE
    assert "sha256" in response["Tus-Checksum-Algorithm"].split(",")
    assert int(response["Tus-Chunk-Size"]) == conf.CHUNK_SIZE


def test_options_needs_no_credentials(anon_client):
    assert anon_client.options("/api/v1/files/tus/").status_code == 204


def test_it_creates_an_upload_with_location_and_expiry(tus_create):
    response = tus_create(len(CSV), filename="people.csv", filetype="text/csv")
    assert response.status_code == 201
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Upload-Offset"] == "0"
    assert "GMT" in response["Upload-Expires"]
    upload = upload_of(response)
    assert (upload.filename, upload.size, upload.status) == ("people.csv", len(CSV), FileStatus.UPLOADING)
    assert upload.declared_mime_type == "text/csv"


def test_it_appends_chunks_and_finishes_with_the_sha256(
    alice_client, tus_create, tus_patch, django_capture_on_commit_callbacks
):
    location = tus_create(len(CSV))["Location"]
    first = tus_patch(location, CSV[:5], 0)
    assert first.status_code == 204 and first["Upload-Offset"] == "5"
    head = alice_client.head(location, **TUS)
    assert head.status_code == 200
    assert (head["Upload-Offset"], head["Upload-Length"]) == ("5", str(len(CSV)))
    assert head["Cache-Control"] == "no-store"
    assert "filename" in head["Upload-Metadata"]
    assert FileUpload.objects.get().progress == 5 * 100 // len(CSV)
    with django_capture_on_commit_callbacks() as after_commit:
        last = tus_patch(location, CSV[5:], 5)
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(CSV))
    upload = FileUpload.objects.get()
    assert upload.status == FileStatus.UPLOADED and upload.progress == 100
    assert upload.sha256 == sha256(CSV)
    assert upload.blob.size == len(CSV)
    for callback in after_commit:  # the partial file goes once the row is committed
        callback()
    assert not Path(conf.TEMP_DIR, f"{upload.pk}.part").exists()


def test_creation_with_upload_stores_the_first_chunk(alice_client):
    response = alice_client.generic(
        "POST",
        "/api/v1/files/tus/",
        data=CSV[:7],
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_LENGTH=str(len(CSV)),
        HTTP_UPLOAD_METADATA=metadata(filename="a.csv"),
        **TUS,
    )
    assert response.status_code == 201
    assert response["Upload-Offset"] == "7"


def test_completion_does_not_need_the_saved_hash_state_but_resumes_without_it(tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    tus_patch(location, CSV[:4], 0)
    FileUpload.objects.update(hash_state=None)  # as after a server without libcrypto
    tus_patch(location, CSV[4:], 4)
    assert FileUpload.objects.get().sha256 == sha256(CSV)


def test_it_rejects_a_wrong_offset_with_409_and_keeps_the_data(tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    tus_patch(location, CSV[:5], 0)
    response = tus_patch(location, CSV[5:], 3)
    assert response.status_code == 409
    assert "offset" in response.json()["detail"]
    assert FileUpload.objects.get().offset == 5


@pytest.mark.parametrize("version", [None, "0.2.2"])
def test_it_answers_412_without_a_supported_tus_version(alice_client, version):
    headers = {"HTTP_UPLOAD_LENGTH": "10"}
    if version:
        headers["HTTP_TUS_RESUMABLE"] = version
    response = alice_client.post("/api/v1/files/tus/", **headers)
    assert response.status_code == 412
    assert response["Tus-Version"] == "1.0.0"
    assert "Tus-Resumable" in response.json()["detail"]


@pytest.mark.parametrize("length", [None, "-5", "abc", "1e3", " 12"])
def test_it_rejects_missing_or_invalid_upload_length(alice_client, length):
    headers = {**TUS, "HTTP_UPLOAD_METADATA": metadata(filename="a.csv")}
    if length is not None:
        headers["HTTP_UPLOAD_LENGTH"] = length
    response = alice_client.post("/api/v1/files/tus/", **headers)
    assert response.status_code == 400
    assert "Upload-Length" in response.json()["detail"]
    assert not FileUpload.objects.exists()


def test_it_rejects_a_length_above_the_maximum_with_413(tus_create):
    response = tus_create(conf.MAX_SIZE + 1)
    assert response.status_code == 413
    assert "maximum" in response.json()["detail"]
    assert not FileUpload.objects.exists()


def test_it_refuses_deferred_lengths(alice_client):
    response = alice_client.post("/api/v1/files/tus/", HTTP_UPLOAD_DEFER_LENGTH="1", **TUS)
    assert response.status_code == 400


@pytest.mark.parametrize("raw", ["filename !!!", "filename aGk=,filename aGk=", "bad key aGk=", "filename /w=="])
def test_it_rejects_malformed_metadata(alice_client, raw):
    response = alice_client.post("/api/v1/files/tus/", HTTP_UPLOAD_LENGTH="3", HTTP_UPLOAD_METADATA=raw, **TUS)
    assert response.status_code == 400
    assert "Upload-Metadata" in response.json()["detail"]


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "a/b.csv",
        "..\\x.csv",
        "bad\x00name.csv",
        "bell\x07.csv",
        "new\nline.csv",
        "..",
        "CON.csv",
    ],
)
def test_it_rejects_filenames_with_paths_or_control_characters(tus_create, name):
    response = tus_create(3, filename=name)
    assert response.status_code == 400
    assert "ilename" in response.json()["detail"]
    assert not FileUpload.objects.exists()


def test_an_upload_without_a_filename_gets_a_neutral_one(alice_client):
    response = alice_client.post("/api/v1/files/tus/", HTTP_UPLOAD_LENGTH="3", HTTP_UPLOAD_METADATA="", **TUS)
    assert response.status_code == 201
    assert upload_of(response).filename == "upload"


def test_x_http_method_override_is_honoured(alice_client, tus_create):
    location = tus_create(len(CSV))["Location"]
    response = alice_client.post(location, **TUS, HTTP_X_HTTP_METHOD_OVERRIDE="DELETE")
    assert response.status_code == 204
    assert FileUpload.objects.get().status == FileStatus.DELETED


def test_it_rejects_a_patch_without_the_offset_content_type_with_415(alice_client, tus_create):
    location = tus_create(len(CSV))["Location"]
    response = alice_client.generic("PATCH", location, data=CSV, content_type="text/csv", HTTP_UPLOAD_OFFSET="0", **TUS)
    assert response.status_code == 415


@pytest.mark.parametrize("offset", [None, "-1", "x"])
def test_it_rejects_a_missing_or_invalid_upload_offset(alice_client, tus_create, offset):
    location = tus_create(len(CSV))["Location"]
    headers = dict(TUS)
    if offset is not None:
        headers["HTTP_UPLOAD_OFFSET"] = offset
    response = alice_client.generic(
        "PATCH", location, data=CSV, content_type="application/offset+octet-stream", **headers
    )
    assert response.status_code == 400
    assert "Upload-Offset" in response.json()["detail"]


def test_it_rejects_a_chunk_beyond_upload_length_and_keeps_nothing(tus_create, tus_patch):
    location = tus_create(4)["Location"]
    response = tus_patch(location, b"12345678", 0)
    assert response.status_code == 413
    upload = FileUpload.objects.get()
    assert upload.offset == 0
    assert Path(upload.temp_path).stat().st_size == 0


def test_a_chunk_with_a_matching_sha256_checksum_is_kept(tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    digest = base64.b64encode(hashlib.sha256(CSV).digest()).decode()
    response = tus_patch(location, CSV, 0, HTTP_UPLOAD_CHECKSUM=f"sha256 {digest}")
    assert response.status_code == 204
    assert FileUpload.objects.get().status == FileStatus.UPLOADED


def test_a_chunk_with_a_wrong_checksum_gets_460_and_is_discarded(alice_client, tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    tus_patch(location, CSV[:5], 0)
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    response = tus_patch(location, CSV[5:], 5, HTTP_UPLOAD_CHECKSUM=f"sha256 {wrong}")
    assert response.status_code == 460
    assert "checksum" in response.json()["detail"].lower()
    upload = FileUpload.objects.get()
    assert upload.offset == 5
    assert Path(upload.temp_path).read_bytes() == CSV[:5]
    # The client retries with the right bytes and the final hash is still right.
    assert tus_patch(location, CSV[5:], 5).status_code == 204
    assert FileUpload.objects.get().sha256 == sha256(CSV)


@pytest.mark.parametrize("writer_thread", [True, False])
def test_a_multi_block_chunk_is_written_and_hashed_in_order(tus_create, tus_patch, monkeypatch, writer_thread):
    # Small blocks, so one PATCH goes through the helper thread many times over.
    monkeypatch.setattr(conf, "IO_BLOCK_SIZE", 4096)
    monkeypatch.setattr(conf, "UPLOAD_WRITER_THREAD", writer_thread)
    data = bytes(range(256)) * 1000 + b"tail"
    location = tus_create(len(data), filename="blocks.bin")["Location"]
    assert tus_patch(location, data[:100_003], 0).status_code == 204
    assert tus_patch(location, data[100_003:], 100_003).status_code == 204
    upload = FileUpload.objects.get()
    assert upload.sha256 == sha256(data)
    with storage.open_stored(upload.blob.storage_name) as stored:
        assert stored.read() == data


def _full_disk(self, block) -> None:
    """The partial file as a full disk shows it: the first write fails."""
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("writer_thread", [True, False])
def test_a_chunk_the_disk_refuses_answers_503_and_keeps_nothing(tus_create, tus_patch, monkeypatch, writer_thread):
    from files.chunk_file import ChunkFile

    monkeypatch.setattr(conf, "UPLOAD_WRITER_THREAD", writer_thread)
    location = tus_create(len(CSV))["Location"]
    assert tus_patch(location, CSV[:5], 0).status_code == 204
    real_write = ChunkFile.write
    monkeypatch.setattr(ChunkFile, "write", _full_disk)
    response = tus_patch(location, CSV[5:], 5)
    assert response.status_code == 503
    assert "retry" in response.json()["detail"]
    upload = FileUpload.objects.get()
    assert upload.offset == 5
    assert Path(upload.temp_path).read_bytes() == CSV[:5]
    monkeypatch.setattr(ChunkFile, "write", real_write)
    # The client retries the same offset once the disk has room.
    assert tus_patch(location, CSV[5:], 5).status_code == 204
    assert FileUpload.objects.get().sha256 == sha256(CSV)


def test_an_unsupported_checksum_algorithm_is_a_400(tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    response = tus_patch(location, CSV, 0, HTTP_UPLOAD_CHECKSUM="crc99 AAAA")
    assert response.status_code == 400
    assert FileUpload.objects.get().offset == 0


def test_an_unknown_upload_is_a_404_without_upload_offset(alice_client):
    response = alice_client.head("/api/v1/files/tus/8f7c1d2e-0000-4000-8000-000000000000", **TUS)
    assert response.status_code == 404
    assert "Upload-Offset" not in response
    assert alice_client.head("/api/v1/files/tus/not-a-uuid", **TUS).status_code == 404


def test_another_user_cannot_see_resume_or_terminate_an_upload(bob_client, tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    assert bob_client.head(location, **TUS).status_code == 404
    assert tus_patch(location, CSV, 0, client=bob_client).status_code == 404
    assert bob_client.delete(location, **TUS).status_code == 404
    assert FileUpload.objects.get().status == FileStatus.UPLOADING


def test_anonymous_requests_are_refused(anon_client):
    response = anon_client.post("/api/v1/files/tus/", HTTP_UPLOAD_LENGTH="3", **TUS)
    assert response.status_code == 401


def test_termination_removes_the_partial_bytes_and_later_requests_get_410(alice_client, tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    tus_patch(location, CSV[:5], 0)
    response = alice_client.delete(location, **TUS)
    assert response.status_code == 204
    assert FileUpload.objects.get().status == FileStatus.DELETED
    assert alice_client.head(location, **TUS).status_code == 410
    assert tus_patch(location, CSV[5:], 5).status_code == 410


@pytest.mark.django_db(transaction=True)
def test_termination_deletes_the_temporary_file(alice_client, tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    tus_patch(location, CSV[:5], 0)
    temp = Path(FileUpload.objects.get().temp_path)
    assert temp.exists()
    alice_client.delete(location, **TUS)
    assert not temp.exists()


@pytest.mark.django_db(transaction=True)
def test_expired_uploads_answer_410_and_the_beat_job_removes_them(alice_client, tus_create, tus_patch):
    location = tus_create(len(CSV))["Location"]
    tus_patch(location, CSV[:5], 0)
    upload = FileUpload.objects.get()
    FileUpload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert alice_client.head(location, **TUS).status_code == 410
    assert tus_patch(location, CSV[5:], 5).status_code == 410
    assert file_uploads_expire() == 1
    upload.refresh_from_db()
    assert upload.status == FileStatus.DELETED
    assert "expired" in upload.failure_reason
    assert not Path(conf.TEMP_DIR, f"{upload.pk}.part").exists()


def test_a_busy_upload_answers_423_after_waiting_for_the_lock(tus_create, tus_patch, monkeypatch):
    monkeypatch.setattr(conf, "LOCK_WAIT_SECONDS", 0)
    location = tus_create(len(CSV))["Location"]
    with open(FileUpload.objects.get().temp_path, "r+b") as other_writer:
        fcntl.flock(other_writer, fcntl.LOCK_EX)
        response = tus_patch(location, CSV, 0)
    assert response.status_code == 423
    assert FileUpload.objects.get().offset == 0


class TestDeDuplication:
    def finish(self, tus_create, tus_patch, data: bytes, **meta) -> FileUpload:
        response = tus_create(len(data), **meta)
        if response["Upload-Offset"] != str(len(data)):
            tus_patch(response["Location"], data, 0)
        return upload_of(response)

    def test_the_same_content_is_stored_once_per_owner(self, tus_create, tus_patch, bob_client):
        first = self.finish(tus_create, tus_patch, CSV)
        second = self.finish(tus_create, tus_patch, CSV, filename="copy.csv")
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.blob_id == second.blob_id
        assert StoredBlob.objects.count() == 1
        bobs = self.finish(
            lambda n, **m: tus_create(n, client=bob_client, **m), lambda *a: tus_patch(*a, client=bob_client), CSV
        )
        bobs.refresh_from_db()
        assert bobs.blob_id != first.blob_id  # never shared across owners

    def test_sha256_in_metadata_completes_at_once_without_bytes(self, alice_client, tus_create, tus_patch):
        self.finish(tus_create, tus_patch, CSV)
        response = tus_create(len(CSV), filename="again.csv", sha256=sha256(CSV))
        assert response.status_code == 201
        assert response["Upload-Offset"] == str(len(CSV))
        location = response["Location"]
        head = alice_client.head(location, **TUS)
        assert head["Upload-Offset"] == head["Upload-Length"] == str(len(CSV))
        # A stock client that sends anyway is told it is done; nothing is stored.
        patch = tus_patch(location, CSV, 0)
        assert patch.status_code == 204 and patch["Upload-Offset"] == str(len(CSV))
        assert StoredBlob.objects.count() == 1
        assert upload_of(response).status == FileStatus.UPLOADED

    def test_an_unknown_sha256_in_metadata_means_a_normal_upload(self, tus_create):
        response = tus_create(len(CSV), sha256=sha256(b"never uploaded"))
        assert response["Upload-Offset"] == "0"

    def test_a_malformed_sha256_in_metadata_is_a_400(self, tus_create):
        assert tus_create(3, sha256="xyz").status_code == 400

    def test_files_answers_whether_content_is_stored(self, alice_client, tus_create, tus_patch):
        self.finish(tus_create, tus_patch, CSV)
        found = alice_client.get(f"/api/v1/files/?sha256={sha256(CSV).upper()}").json()
        missing = alice_client.get(f"/api/v1/files/?sha256={sha256(b'x')}").json()
        assert (found["count"], missing["count"]) == (1, 0)


def test_an_upload_whose_last_chunk_was_recorded_but_not_stored_is_finished_by_head(
    alice_client, tus_create, tus_patch, monkeypatch, django_capture_on_commit_callbacks
):
    """GIVEN every byte arrived and the offset was saved, but storing the file
    failed (the server died, or the database was locked) before it was finished
    WHEN the client resumes with HEAD
    THEN the upload is finished then, with the right SHA-256, not left uploading."""
    from files import services

    location = tus_create(len(CSV))["Location"]

    def fail(*args, **kwargs):
        raise SystemExit("killed between recording the offset and storing the file")

    monkeypatch.setattr(services, "_finish", fail)
    with pytest.raises(SystemExit):
        tus_patch(location, CSV, 0)
    monkeypatch.undo()
    upload = FileUpload.objects.get()
    assert (upload.status, upload.offset) == (FileStatus.UPLOADING, len(CSV))

    with django_capture_on_commit_callbacks(execute=True):
        head = alice_client.head(location, **TUS)

    assert head.status_code == 200 and head["Upload-Offset"] == str(len(CSV))
    upload.refresh_from_db()
    assert upload.status == FileStatus.COMPLETED and upload.sha256 == sha256(CSV)
    assert not Path(conf.TEMP_DIR, f"{upload.pk}.part").exists()


def test_expiry_removes_partial_files_no_upload_points_to(tus_create):
    """A crash between creating an upload's partial file and saving its row
    leaves a file nothing refers to; expiry removes it once it is old enough,
    and never a live upload's file."""
    import os

    live = upload_of(tus_create(len(CSV)))
    orphan = Path(conf.TEMP_DIR, "0f0e0d0c-crashed.part")
    orphan.write_bytes(b"half")
    day_ago = timezone.now().timestamp() - conf.UPLOAD_EXPIRY_SECONDS - 60
    os.utime(orphan, (day_ago, day_ago))
    os.utime(live.temp_path, (day_ago, day_ago))  # old file, but its upload has not expired

    file_uploads_expire()

    assert not orphan.exists()
    assert Path(live.temp_path).exists()


def test_a_patch_costs_two_statements_row_and_offset_update(alice_client, tus_create, tus_patch):
    """Every database round trip is paid per chunk: the upload row (read once,
    under the lock) and one conditional UPDATE. The token was resolved by the
    request that created the upload and now comes from the cache; no session,
    last_login or other writes ride along."""
    location = tus_create(len(CSV))["Location"]
    with CaptureQueriesContext(connection) as queries:
        assert tus_patch(location, CSV[:5], 0).status_code == 204
    assert len(queries.captured_queries) == 2, queries.captured_queries
    assert queries.captured_queries[0]["sql"].startswith("SELECT ")
    assert ' FROM "files_fileupload" WHERE "id" = ' in queries.captured_queries[0]["sql"]
    assert queries.captured_queries[1]["sql"].startswith('UPDATE "files_fileupload"')


@pytest.mark.skipif(connection.vendor != "postgresql", reason="asynchronous commit is PostgreSQL's")
@pytest.mark.django_db(transaction=True)  # each statement its own transaction, as in production
def test_the_offset_update_commits_without_waiting_and_the_setting_does_not_outlive_it(
    alice_client, tus_create, tus_patch
):
    """The UPDATE turns synchronous_commit off for its own transaction only:
    the next statement on the same (pooled) connection commits normally."""
    location = tus_create(len(CSV))["Location"]
    with CaptureQueriesContext(connection) as queries:
        assert tus_patch(location, CSV[:5], 0).status_code == 204
    assert "set_config('synchronous_commit', 'off', true)" in queries.captured_queries[1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert tus_patch(location, CSV[5:], 5).status_code == 204
    assert FileUpload.objects.get().offset == len(CSV)

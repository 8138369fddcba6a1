"""Previews, conversions and jobs over HTTP (files/{id}/preview,
files/{id}/conversions, files/jobs/{id})."""

import io
import json
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.utils import timezone
from PIL import Image

from files.conversions import conf as convert_conf
from files.models import FileConversion, FilePreview, FileProcessingJob, FileStatus, FileUpload, ScanStatus, StoredBlob
from files.processing_services import JobBusy, file_conversion_run, file_jobs_requeue_stale
from files.services import file_upload_delete
from tests.files.processing_helpers import stored_file

CSV = 'id,name,amount\n1,"Zoë",2.5\n2,"two\nlines",3\n3,,""\n'


@pytest.fixture
def csv_file(alice, tmp_path):
    return stored_file(alice, tmp_path, "sales.csv", CSV.encode(), file_type="csv")


def test_it_previews_a_csv_file(alice_client, csv_file):
    response = alice_client.get(f"/api/v1/files/{csv_file.pk}/preview")

    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "data"
    assert [c["name"] for c in body["columns"]] == ["id", "name", "amount"]
    assert body["rows"][0] == ["1", "Zoë", "2.5"]
    assert body["total_rows"] is None
    assert FilePreview.objects.filter(file=csv_file, kind="data").exists()


def test_it_answers_rows_and_columns_with_and_without_a_trailing_slash(alice_client, csv_file):
    response = alice_client.get(f"/api/v1/files/{csv_file.pk}/preview/?rows=1&columns=2")

    assert response.status_code == 200
    assert response.json()["rows"] == [["1", "Zoë"]]


def test_it_refuses_bad_preview_parameters(alice_client, csv_file):
    response = alice_client.get(f"/api/v1/files/{csv_file.pk}/preview?rows=-1")

    assert response.status_code == 400
    assert "rows" in response.json()["detail"]


def test_it_serves_the_stored_preview_until_asked_to_refresh(alice_client, csv_file):
    alice_client.get(f"/api/v1/files/{csv_file.pk}/preview")
    FilePreview.objects.filter(file=csv_file).update(data={"kind": "data", "columns": [], "rows": [["stale"]]})

    stale = alice_client.get(f"/api/v1/files/{csv_file.pk}/preview").json()
    fresh = alice_client.get(f"/api/v1/files/{csv_file.pk}/preview?refresh=1").json()

    assert stale["rows"] == [["stale"]]
    assert fresh["rows"][0] == ["1", "Zoë", "2.5"]


def test_it_serves_an_image_preview_as_a_thumbnail(alice, alice_client, tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), "blue").save(buffer, format="PNG")
    image = stored_file(alice, tmp_path, "photo.png", buffer.getvalue(), file_type="image")

    response = alice_client.get(f"/api/v1/files/{image.pk}/preview")
    meta = alice_client.get(f"/api/v1/files/{image.pk}/preview?meta=1")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (256, 192)
    assert meta.json()["kind"] == "image"
    assert (meta.json()["width"], meta.json()["height"]) == (800, 600)


def test_it_refuses_to_preview_an_image_bomb_with_a_reason(alice, alice_client, tmp_path):
    from tests.files.test_preview import png_header_only

    bomb = stored_file(alice, tmp_path, "bomb.png", png_header_only(100_000, 100_000), file_type="image")

    response = alice_client.get(f"/api/v1/files/{bomb.pk}/preview")

    assert response.status_code == 422
    assert "decompression bomb" in response.json()["detail"]


def test_it_refuses_to_preview_a_malformed_parquet_file(alice, alice_client, tmp_path):
    bad = stored_file(alice, tmp_path, "bad.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", file_type="parquet")

    response = alice_client.get(f"/api/v1/files/{bad.pk}/preview")

    assert response.status_code == 422
    assert "Parquet" in response.json()["detail"]


def test_it_hides_another_users_file(bob_client, csv_file):
    assert bob_client.get(f"/api/v1/files/{csv_file.pk}/preview").status_code == 404
    assert bob_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "json"}).status_code == 404


def test_staff_may_preview_anyones_file(staff_client, csv_file):
    assert staff_client.get(f"/api/v1/files/{csv_file.pk}/preview").status_code == 200


def test_anonymous_clients_are_refused(anon_client, csv_file):
    assert anon_client.get(f"/api/v1/files/{csv_file.pk}/preview").status_code in (401, 403)


def convert(client, upload, target, django_capture_on_commit_callbacks, **extra):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(f"/api/v1/files/{upload.pk}/conversions", {"target_format": target, **extra})


def test_it_converts_a_csv_file_to_parquet_as_a_job(alice, alice_client, csv_file, django_capture_on_commit_callbacks):
    """GIVEN a validated CSV
    WHEN alice asks for parquet
    THEN a 202 names a job, which completes with a new file linked to its source."""
    response = convert(alice_client, csv_file, "parquet", django_capture_on_commit_callbacks)

    assert response.status_code == 202
    body = response.json()
    assert set(body) >= {"id", "job", "status", "target_format"}
    assert body["target_format"] == "parquet"
    job = alice_client.get(f"/api/v1/files/jobs/{body['job']}").json()
    assert job["status"] == "completed"
    assert job["progress"] == 100
    assert job["result"]["rows"] == 3
    assert job["started_at"] and job["finished_at"]
    output = FileUpload.objects.get(pk=job["output_file"])
    assert (output.owner, output.source_id, output.filename) == (alice, csv_file.pk, "sales.parquet")
    content = alice_client.get(f"/api/v1/files/{output.pk}/content")
    table = pq.read_table(pa.BufferReader(b"".join(content.streaming_content)))
    assert table.column("name").to_pylist() == ["Zoë", "two\nlines", None]
    assert table.column("amount").to_pylist() == ["2.5", "3", ""]


def test_it_lists_a_files_conversions(alice_client, csv_file, django_capture_on_commit_callbacks):
    convert(alice_client, csv_file, "json", django_capture_on_commit_callbacks)

    listing = alice_client.get(f"/api/v1/files/{csv_file.pk}/conversions/").json()

    assert listing["count"] == 1
    assert listing["results"][0]["target_format"] == "json"
    assert listing["results"][0]["status"] == "completed"


def test_a_converted_output_is_deduplicated_like_any_upload(alice_client, csv_file, django_capture_on_commit_callbacks):
    first = convert(alice_client, csv_file, "jsonl", django_capture_on_commit_callbacks).json()
    second = convert(alice_client, csv_file, "jsonl", django_capture_on_commit_callbacks).json()

    outputs = FileProcessingJob.objects.filter(pk__in=[first["job"], second["job"]]).values_list(
        "output_file__blob", flat=True
    )
    assert len(set(outputs)) == 1
    assert StoredBlob.objects.filter(owner=csv_file.owner).count() == 2  # source + one output


def test_asking_again_while_a_conversion_is_queued_returns_the_same_one(alice_client, csv_file):
    first = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "xlsx"}).json()
    second = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "xlsx"}).json()

    assert first["id"] == second["id"]
    assert first["status"] == "pending"


@pytest.mark.parametrize("target", ["xml", "", "PARQUET"])
def test_it_refuses_an_unsupported_target_format(alice_client, csv_file, target):
    response = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": target})

    assert response.status_code == 400
    assert "target_format" in response.json()["detail"]
    assert not FileConversion.objects.exists()


def test_it_refuses_to_convert_a_file_to_its_own_format(alice_client, csv_file):
    response = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "csv"})

    assert response.status_code == 400
    assert "already csv" in response.json()["detail"]


def test_it_refuses_to_convert_a_file_that_is_not_tabular(alice, alice_client, tmp_path):
    text = stored_file(alice, tmp_path, "notes.txt", b"hello", file_type="text")

    response = alice_client.post(f"/api/v1/files/{text.pk}/conversions", {"target_format": "csv"})

    assert response.status_code == 400
    assert "cannot be converted" in response.json()["detail"]


def test_it_refuses_to_convert_a_failed_file(alice_client, csv_file):
    FileUpload.objects.filter(pk=csv_file.pk).update(status=FileStatus.FAILED, failure_reason="ragged rows")

    response = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "json"})

    assert response.status_code == 409
    assert "ragged rows" in response.json()["detail"]


def test_it_refuses_to_convert_or_preview_an_infected_file(alice_client, csv_file):
    FileUpload.objects.filter(pk=csv_file.pk).update(status=FileStatus.FAILED, scan_status=ScanStatus.INFECTED)
    StoredBlob.objects.filter(pk=csv_file.blob_id).update(quarantined=True)

    conversion = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "json"})
    preview = alice_client.get(f"/api/v1/files/{csv_file.pk}/preview")

    assert conversion.status_code == 409
    assert "infected" in conversion.json()["detail"]
    assert preview.status_code == 409


def test_it_refuses_parquet_to_excel_over_the_row_limit_up_front(alice, alice_client, tmp_path, monkeypatch):
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", 5)
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"n": list(range(10))}), buffer)
    source = stored_file(alice, tmp_path, "big.parquet", buffer.getvalue().to_pybytes(), file_type="parquet")

    response = alice_client.post(f"/api/v1/files/{source.pk}/conversions", {"target_format": "xlsx"})

    assert response.status_code == 400
    assert "Excel's limit of 5 rows" in response.json()["detail"]


def test_a_ragged_csv_ends_as_a_failed_job_with_the_reason(
    alice, alice_client, tmp_path, django_capture_on_commit_callbacks
):
    ragged = stored_file(alice, tmp_path, "ragged.csv", b"a,b,c\n1,2,3\n4,5\n", file_type="csv")

    body = convert(alice_client, ragged, "parquet", django_capture_on_commit_callbacks).json()

    job = alice_client.get(f"/api/v1/files/jobs/{body['job']}").json()
    assert job["status"] == "failed"
    assert "Expected 3 columns, got 2" in job["error"]
    assert job["output_file"] is None
    assert FileUpload.objects.filter(source=ragged).count() == 0


def test_a_job_on_a_file_deleted_meanwhile_ends_failed(alice_client, csv_file):
    body = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "json"}).json()
    file_upload_delete(upload=csv_file)

    file_conversion_run(job_id=body["job"])

    job = FileProcessingJob.objects.get(pk=body["job"])
    assert job.status == "failed"
    assert job.error == "The file was deleted."
    assert job.output_file is None


def test_a_job_runs_once_even_when_delivered_twice(alice_client, csv_file):
    body = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "json"}).json()

    file_conversion_run(job_id=body["job"])
    file_conversion_run(job_id=body["job"])

    job = FileProcessingJob.objects.get(pk=body["job"])
    assert (job.status, job.attempts) == ("completed", 1)
    assert FileUpload.objects.filter(source=csv_file).count() == 1


def test_jobs_are_visible_only_to_their_owner_and_staff(alice_client, bob_client, staff_client, csv_file):
    body = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "json"}).json()

    assert bob_client.get(f"/api/v1/files/jobs/{body['job']}").status_code == 404
    assert staff_client.get(f"/api/v1/files/jobs/{body['job']}/").status_code == 200
    assert alice_client.get("/api/v1/files/jobs/").json()["count"] == 1
    assert bob_client.get("/api/v1/files/jobs").json()["count"] == 0


def test_it_converts_json_to_excel_and_back(alice, alice_client, tmp_path, django_capture_on_commit_callbacks):
    records = [{"city": "Zürich", "population": 421878}, {"city": "Genève", "population": 203856}]
    source = stored_file(alice, tmp_path, "cities.json", json.dumps(records).encode(), file_type="json")

    job_id = convert(alice_client, source, "xlsx", django_capture_on_commit_callbacks).json()["job"]
    workbook = FileUpload.objects.get(pk=FileProcessingJob.objects.get(pk=job_id).output_file_id)
    FileUpload.objects.filter(pk=workbook.pk).update(status=FileStatus.COMPLETED, file_type="excel")
    back_id = convert(alice_client, workbook, "json", django_capture_on_commit_callbacks).json()["job"]

    back = FileUpload.objects.get(pk=FileProcessingJob.objects.get(pk=back_id).output_file_id)
    content = b"".join(alice_client.get(f"/api/v1/files/{back.pk}/content").streaming_content)
    assert json.loads(content) == records


def test_a_preview_is_stored_once_validation_passes(alice_client, django_capture_on_commit_callbacks):
    upload = io.BytesIO(CSV.encode())
    upload.name = "fresh.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/api/v1/files/", {"file": upload}, format="multipart")

    created = FileUpload.objects.get(pk=response.json()["id"])
    assert created.status == FileStatus.COMPLETED
    preview = FilePreview.objects.get(file=created)
    assert (preview.kind, preview.error) == ("data", "")
    assert preview.data["rows"][0] == ["1", "Zoë", "2.5"]


def test_no_preview_is_made_for_a_file_that_fails_validation(alice_client, django_capture_on_commit_callbacks):
    upload = io.BytesIO(b"a,b,c\n1,2,3\n4,5\n")
    upload.name = "ragged.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/api/v1/files/", {"file": upload}, format="multipart")

    assert FileUpload.objects.get(pk=response.json()["id"]).status == FileStatus.FAILED
    assert not FilePreview.objects.exists()


def test_a_redelivered_job_leaves_a_live_attempt_alone(alice_client, csv_file):
    body = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "json"}).json()
    FileProcessingJob.objects.filter(pk=body["job"]).update(status="running", attempts=1, heartbeat_at=timezone.now())

    with pytest.raises(JobBusy):
        file_conversion_run(job_id=body["job"])

    assert FileProcessingJob.objects.get(pk=body["job"]).attempts == 1


def test_a_job_whose_worker_went_silent_is_taken_over_and_finished(alice_client, csv_file):
    body = alice_client.post(f"/api/v1/files/{csv_file.pk}/conversions", {"target_format": "json"}).json()
    silent_since = timezone.now() - timedelta(seconds=convert_conf.JOB_STALE_SECONDS + 1)
    FileProcessingJob.objects.filter(pk=body["job"]).update(
        status="running", attempts=1, progress=40, heartbeat_at=silent_since
    )

    assert file_jobs_requeue_stale() == 1  # the beat job finds it and queues it again
    file_conversion_run(job_id=body["job"])

    job = FileProcessingJob.objects.get(pk=body["job"])
    assert (job.status, job.attempts, job.progress) == ("completed", 2, 100)
    assert FileUpload.objects.filter(source=csv_file).count() == 1


def test_a_malformed_parquet_file_ends_as_a_failed_job_with_the_reason(
    alice, alice_client, tmp_path, django_capture_on_commit_callbacks
):
    bad = stored_file(alice, tmp_path, "bad.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", file_type="parquet")

    body = convert(alice_client, bad, "csv", django_capture_on_commit_callbacks).json()

    job = alice_client.get(f"/api/v1/files/jobs/{body['job']}").json()
    assert job["status"] == "failed"
    assert "Not a readable Parquet file" in job["error"]
    assert job["output_file"] is None


def test_a_csv_that_changes_width_deep_in_the_file_fails_with_nothing_written(
    alice, alice_client, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    """GIVEN a CSV whose row 20,001 is one field short, read in 64 KiB blocks (so earlier batches convert first)
    WHEN it is converted
    THEN the job fails naming the row, and no output file exists."""
    monkeypatch.setattr(convert_conf, "CSV_BLOCK_BYTES", 64 * 1024)
    content = "a,b,c\n" + "1,2,3\n" * 20_000 + "4,5\n" + "6,7,8\n" * 100
    ragged = stored_file(alice, tmp_path, "ragged.csv", content.encode(), file_type="csv")

    body = convert(alice_client, ragged, "parquet", django_capture_on_commit_callbacks).json()

    job = alice_client.get(f"/api/v1/files/jobs/{body['job']}").json()
    assert job["status"] == "failed"
    assert "Expected 3 columns, got 2: 4,5" in job["error"]
    assert job["output_file"] is None
    assert not FileUpload.objects.filter(source=ragged).exists()
    assert not list((tmp_path / "media").rglob("convert-*"))

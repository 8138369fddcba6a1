"""Validation through the broker and a real Celery worker process."""

from files.models import FileStatus, FileUpload
from tests.files.conftest import multipart_upload


def test_a_real_worker_validates_an_uploaded_file(celery_worker_process, alice_client):
    response = multipart_upload(alice_client, "ok.csv", b"id,name\n1,ann\n")
    assert response.status_code == 201
    celery_worker_process.wait_for_log("file_upload_validated")
    upload = FileUpload.objects.get(pk=response.json()["id"])
    assert upload.status == FileStatus.COMPLETED
    assert upload.validation_report["passed"] is True

"""The operator console for uploads."""

import pytest
from django.test import Client

from files.models import FileStatus, FileUpload
from files.services import file_upload_create_from_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def validated(alice, tmp_path, django_capture_on_commit_callbacks) -> FileUpload:
    path = tmp_path / "src.csv"
    path.write_bytes(b"a,b\n1,2\n3\n")
    with django_capture_on_commit_callbacks(execute=True):
        upload = file_upload_create_from_path(owner=alice, path=path, filename="ragged.csv")
    upload.refresh_from_db()
    return upload


def test_the_list_filters_and_searches(console, validated):
    for query in ("", "?status__exact=failed", "?file_type__exact=csv", f"?q={validated.sha256}", "?q=ragged"):
        response = console.get(f"/admin/files/fileupload/{query}")
        assert response.status_code == 200
        assert b"ragged.csv" in response.content
    assert b"ragged.csv" not in console.get("/admin/files/fileupload/?status__exact=completed").content


def test_the_change_page_shows_the_validation_report(console, validated):
    response = console.get(f"/admin/files/fileupload/{validated.pk}/change/")
    assert response.status_code == 200
    assert b"csv_content" in response.content and b"FAILED" in response.content
    assert b"inconsistent column count" in response.content


def test_the_revalidate_action_queues_validation(console, validated, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            "/admin/files/fileupload/", {"action": "revalidate", "_selected_action": [str(validated.pk)]}
        )
    assert response.status_code == 302
    validated.refresh_from_db()
    assert validated.status == FileStatus.FAILED and validated.validation_report["checks"]


def test_the_delete_action_marks_deleted(console, validated):
    console.post("/admin/files/fileupload/", {"action": "delete_files", "_selected_action": [str(validated.pk)]})
    validated.refresh_from_db()
    assert validated.status == FileStatus.DELETED
    assert "admin" in validated.failure_reason


@pytest.fixture
def clean_csv(alice, tmp_path, django_capture_on_commit_callbacks) -> FileUpload:
    path = tmp_path / "ok.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with django_capture_on_commit_callbacks(execute=True):
        upload = file_upload_create_from_path(owner=alice, path=path, filename="ok.csv")
    upload.refresh_from_db()
    return upload


def rescan(client, upload, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/admin/files/fileupload/", {"action": "rescan", "_selected_action": [str(upload.pk)]})


def test_the_rescan_action_records_not_scanned_without_a_scanner(
    console, clean_csv, django_capture_on_commit_callbacks
):
    """GIVEN the embedded setup (no CLAMAV_URL) and a validated file
    WHEN an operator runs "Re-scan with ClamAV"
    THEN the scan runs through the scan service and records "not scanned", the file stays completed."""
    before = [check["name"] for check in clean_csv.validation_report["checks"]]

    response = rescan(console, clean_csv, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    clean_csv.refresh_from_db()
    assert (clean_csv.status, clean_csv.scan_status) == (FileStatus.COMPLETED, "not_scanned")
    assert "no scanner configured" in clean_csv.scan_result
    assert [check["name"] for check in clean_csv.validation_report["checks"]] == before
    scan = next(c for c in clean_csv.validation_report["checks"] if c["name"] == "virus_scan")
    assert scan["status"] == "not_scanned"


def test_the_rescan_action_is_offered_beside_revalidate(console, clean_csv):
    page = console.get("/admin/files/fileupload/").content.decode()

    assert "Re-scan with ClamAV" in page and "Re-validate and scan" in page


def test_the_rescan_action_skips_a_deleted_file_with_a_warning(console, clean_csv, django_capture_on_commit_callbacks):
    console.post("/admin/files/fileupload/", {"action": "delete_files", "_selected_action": [str(clean_csv.pk)]})

    response = rescan(console, clean_csv, django_capture_on_commit_callbacks)

    clean_csv.refresh_from_db()
    assert clean_csv.status == FileStatus.DELETED
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("cannot be re-scanned" in m for m in messages)
    assert "Queued 0 file(s) for a virus scan." in messages

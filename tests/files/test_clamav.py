"""Virus scanning against a real clamd (the EICAR test signature)."""

import io
import shutil
import subprocess
import time

import pytest

from files import clamav, conf
from files.models import FileStatus, FileUpload, ScanStatus
from tests.files.conftest import multipart_upload
from tests.services import need

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CLOSED_PORT_URL = "tcp://127.0.0.1:8199"


@pytest.fixture
def clamd_url(monkeypatch) -> str:
    url = need("CLAMAV_URL", 3310)
    monkeypatch.setattr(conf, "CLAMAV_URL", url)
    return url


@pytest.fixture
def small_clamd(tmp_path):
    """Our own clamd on a unix socket with a 1 KiB StreamMaxLength."""
    need("CLAMAV_URL", 3310)
    binary = shutil.which("clamd") or "/usr/sbin/clamd"
    db = tmp_path / "db"
    db.mkdir()
    (db / "test.hdb").write_text("44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n")
    sock = tmp_path / "clamd.sock"
    config = tmp_path / "clamd.conf"
    config.write_text(
        f"DatabaseDirectory {db}\nLocalSocket {sock}\nStreamMaxLength 1K\nForeground yes\n"
        f"LogFile {tmp_path / 'clamd.log'}\nUser root\n"
    )
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"unix://{sock}"
    try:
        for _ in range(300):
            if clamav.ping(url):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"clamd did not start: {(tmp_path / 'clamd.log').read_text()}")
        yield url
    finally:
        process.terminate()
        process.wait()


def upload(client, name, data, django_capture_on_commit_callbacks) -> FileUpload:
    with django_capture_on_commit_callbacks(execute=True):
        response = multipart_upload(client, name, data)
    assert response.status_code == 201
    return FileUpload.objects.get(pk=response.json()["id"])


def test_the_adapter_finds_eicar_and_passes_clean_streams_in_chunks(clamd_url):
    found = clamav.instream(io.BytesIO(EICAR), url=clamd_url)
    assert found.infected and found.signature.startswith("Eicar-Test-Signature")
    clean = clamav.instream(io.BytesIO(b"id,name\n" * 400_000), url=clamd_url, chunk_size=64 * 1024)
    assert not clean.infected
    assert clamav.ping(clamd_url)


@pytest.mark.django_db
def test_the_eicar_file_fails_is_quarantined_and_never_served(
    alice_client, clamd_url, django_capture_on_commit_callbacks
):
    infected = upload(alice_client, "eicar.txt", EICAR, django_capture_on_commit_callbacks)
    assert infected.status == FileStatus.FAILED
    assert infected.scan_status == ScanStatus.INFECTED
    assert infected.scan_result.startswith("Eicar-Test-Signature")
    assert infected.failure_reason.startswith("infected: Eicar-Test-Signature")
    assert infected.blob.quarantined
    response = alice_client.get(f"/api/v1/files/{infected.pk}/content")
    assert response.status_code == 410


@pytest.mark.django_db
def test_a_clean_file_is_recorded_as_clean(alice_client, clamd_url, django_capture_on_commit_callbacks):
    clean = upload(alice_client, "ok.csv", b"id,name\n1,a\n", django_capture_on_commit_callbacks)
    assert (clean.status, clean.scan_status) == (FileStatus.COMPLETED, ScanStatus.CLEAN)
    scan = next(c for c in clean.validation_report["checks"] if c["name"] == "virus_scan")
    assert scan["passed"] is True and scan["status"] == "clean"


@pytest.mark.django_db
def test_an_unreachable_clamd_is_not_scanned_never_clean(alice_client, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(conf, "CLAMAV_URL", CLOSED_PORT_URL)
    passed = upload(alice_client, "ok.csv", b"id\n1\n", django_capture_on_commit_callbacks)
    assert passed.status == FileStatus.COMPLETED
    assert passed.scan_status == ScanStatus.NOT_SCANNED
    assert "unavailable" in passed.scan_result


@pytest.mark.django_db
def test_an_unreachable_clamd_fails_the_file_when_scanning_is_required(
    alice_client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(conf, "CLAMAV_URL", CLOSED_PORT_URL)
    monkeypatch.setattr(conf, "SCAN_REQUIRED", True)
    failed = upload(alice_client, "ok.csv", b"id\n1\n", django_capture_on_commit_callbacks)
    assert failed.status == FileStatus.FAILED
    assert "not scanned" in failed.failure_reason


@pytest.mark.django_db
@pytest.mark.parametrize("passes", [True, False])
def test_files_above_the_scan_limit_are_not_scanned_and_the_setting_decides(
    alice_client, clamd_url, monkeypatch, django_capture_on_commit_callbacks, passes
):
    monkeypatch.setattr(conf, "SCAN_MAX_SIZE", 4)
    monkeypatch.setattr(conf, "SCAN_TOO_LARGE_PASSES", passes)
    big = upload(alice_client, "ok.csv", b"id\n1\n", django_capture_on_commit_callbacks)
    assert big.scan_status == ScanStatus.NOT_SCANNED
    assert "too large" in big.scan_result
    assert big.status == (FileStatus.COMPLETED if passes else FileStatus.FAILED)


def test_clamd_refusing_a_stream_over_its_limit_is_too_large_over_a_unix_socket(small_clamd):
    assert clamav.instream(io.BytesIO(EICAR), url=small_clamd).infected
    with pytest.raises(clamav.ScanTooLarge):
        clamav.instream(io.BytesIO(b"x" * 100_000), url=small_clamd, chunk_size=512)


def test_an_unknown_scheme_or_closed_port_is_unavailable():
    for url in ("http://127.0.0.1:3310", CLOSED_PORT_URL):
        with pytest.raises(clamav.ScannerUnavailable):
            clamav.instream(io.BytesIO(b"x"), url=url)


@pytest.mark.django_db
def test_the_consoles_rescan_finds_what_an_unscanned_upload_let_through(
    alice_client, staff, monkeypatch, django_capture_on_commit_callbacks
):
    """GIVEN an EICAR file and a clean one uploaded while no scanner was configured (both completed, not scanned)
    WHEN an operator runs "Re-scan with ClamAV" on them against a real clamd
    THEN the EICAR file is infected, failed, quarantined and no longer served; the clean one is clean."""
    from django.test import Client

    infected = upload(alice_client, "eicar.txt", EICAR, django_capture_on_commit_callbacks)
    clean = upload(alice_client, "ok.csv", b"id,name\n1,a\n", django_capture_on_commit_callbacks)
    assert (infected.status, infected.scan_status) == (FileStatus.COMPLETED, ScanStatus.NOT_SCANNED)
    monkeypatch.setattr(conf, "CLAMAV_URL", need("CLAMAV_URL", 3310))
    console = Client()
    console.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            "/admin/files/fileupload/", {"action": "rescan", "_selected_action": [str(infected.pk), str(clean.pk)]}
        )

    assert response.status_code == 302
    infected.refresh_from_db()
    clean.refresh_from_db()
    assert (infected.status, infected.scan_status) == (FileStatus.FAILED, ScanStatus.INFECTED)
    assert infected.failure_reason.startswith("infected: Eicar-Test-Signature")
    assert infected.blob.quarantined
    assert alice_client.get(f"/api/v1/files/{infected.pk}/content").status_code == 410
    assert (clean.status, clean.scan_status) == (FileStatus.COMPLETED, ScanStatus.CLEAN)


@pytest.mark.django_db
def test_a_rescan_completes_a_file_that_failed_only_for_want_of_a_scanner(
    alice_client, staff, monkeypatch, django_capture_on_commit_callbacks
):
    """GIVEN scanning is required and a clean CSV was uploaded while no scanner answered (FAILED, not scanned)
    WHEN an operator re-scans it against a real clamd
    THEN it is COMPLETED and clean, and its preview is built as after any validation."""
    from django.test import Client

    from files.models import FilePreview

    monkeypatch.setattr(conf, "SCAN_REQUIRED", True)
    monkeypatch.setattr(conf, "CLAMAV_URL", CLOSED_PORT_URL)
    unscanned = upload(alice_client, "ok.csv", b"id,name\n1,a\n2,b\n", django_capture_on_commit_callbacks)
    assert unscanned.status == FileStatus.FAILED
    assert not FilePreview.objects.filter(file=unscanned).exists()
    monkeypatch.setattr(conf, "CLAMAV_URL", need("CLAMAV_URL", 3310))
    console = Client()
    console.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            "/admin/files/fileupload/", {"action": "rescan", "_selected_action": [str(unscanned.pk)]}
        )

    assert response.status_code == 302
    unscanned.refresh_from_db()
    assert (unscanned.status, unscanned.scan_status) == (FileStatus.COMPLETED, ScanStatus.CLEAN)
    assert FilePreview.objects.filter(file=unscanned).exists()

"""Excel's row limit (FILES_CONVERT_XLSX_MAX_ROWS, header included) for every
source type: validation records the data rows, a conversion over the limit is
refused before it is queued, and a file validated before counts were recorded
ends as a FAILED job before anything is written.

The limit is lowered (monkeypatched, as the setting is read at call time) so
a few rows stand in for a million.
"""

import pytest

import files.conversions as conversions
from files.conversions import conf as convert_conf
from files.models import FileConversion, FileProcessingJob, FileStatus, FileUpload
from files.validation.runner import validate_path
from tests.files.conftest import multipart_upload
from tests.files.processing_helpers import stored_file
from tests.files.tabular_fixtures import SOURCES, tabular_bytes, xls_bytes

pytestmark = pytest.mark.django_db

ROWS = 7
# Every source that may become xlsx (an .xlsx file already is one).
TO_XLSX = [kind for kind in SOURCES if kind != "xlsx"]


def uploaded(client, kind: str, count: int, django_capture_on_commit_callbacks) -> FileUpload:
    """Uploaded through the API and validated for real."""
    name, _ = SOURCES[kind]
    with django_capture_on_commit_callbacks(execute=True):
        response = multipart_upload(client, name, tabular_bytes(kind, count))
    assert response.status_code == 201, response.content
    upload = FileUpload.objects.get(pk=response.json()["id"])
    assert upload.status == FileStatus.COMPLETED, upload.failure_reason
    return upload


@pytest.fixture
def writer_calls(monkeypatch) -> list:
    """Records every writer the converter opens (and still opens it)."""
    calls = []
    real = conversions.open_writer

    def spy(path, fmt, schema):
        calls.append(fmt)
        return real(path, fmt, schema)

    monkeypatch.setattr(conversions, "open_writer", spy)
    return calls


@pytest.mark.parametrize("kind", list(SOURCES))
def test_validation_records_the_data_row_count(tmp_path, kind):
    name, _ = SOURCES[kind]
    path = tmp_path / "blob"
    path.write_bytes(tabular_bytes(kind, ROWS))

    report, _, _ = validate_path(path, filename=name, size=path.stat().st_size)

    assert report.passed, report.as_dict()
    assert report.as_dict()["data_rows"] == ROWS
    if kind in ("xlsx", "xls"):
        assert report.as_dict()["sheet_rows"] == {"Sheet1": ROWS}


def test_validation_counts_a_single_json_document_as_one_row(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b'{"id": 1, "tags": [1, 2, {"x": [3]}]}')

    report, _, _ = validate_path(path, filename="one.json", size=path.stat().st_size)

    assert report.as_dict()["data_rows"] == 1


def test_validation_counts_nested_arrays_as_one_row_each(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b'[[1, [2]], {"a": [1, 2, 3]}, 3, "x", []]')

    report, _, _ = validate_path(path, filename="rows.json", size=path.stat().st_size)

    assert report.as_dict()["data_rows"] == 5


@pytest.mark.parametrize("kind", TO_XLSX)
def test_a_conversion_to_excel_over_the_limit_is_refused_up_front(
    alice_client, monkeypatch, django_capture_on_commit_callbacks, kind
):
    """GIVEN a validated file of 7 data rows and a limit of 7 rows (so 8 with the header is one too many)
    WHEN xlsx is asked for
    THEN a 400 names the row count and the limit, and no job is made."""
    source = uploaded(alice_client, kind, ROWS, django_capture_on_commit_callbacks)
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", ROWS)

    response = alice_client.post(f"/api/v1/files/{source.pk}/conversions", {"target_format": "xlsx"})

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "7 data rows" in detail and "8 with the header row" in detail
    assert "Excel's limit of 7 rows" in detail
    assert not FileConversion.objects.exists() and not FileProcessingJob.objects.exists()


@pytest.mark.parametrize("kind", TO_XLSX)
def test_a_conversion_to_excel_at_the_limit_is_accepted_and_completes(
    alice_client, monkeypatch, django_capture_on_commit_callbacks, kind
):
    source = uploaded(alice_client, kind, ROWS, django_capture_on_commit_callbacks)
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", ROWS + 1)

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/api/v1/files/{source.pk}/conversions", {"target_format": "xlsx"})

    assert response.status_code == 202
    job = FileProcessingJob.objects.get(pk=response.json()["job"])
    assert (job.status, job.result["rows"]) == ("completed", ROWS), job.error


def test_the_limit_applies_to_the_sheet_asked_for(alice, alice_client, monkeypatch, django_capture_on_commit_callbacks):
    book = xls_bytes({"small": [["n"], [1]], "big": [["n"], *[[i] for i in range(ROWS)]]})
    with django_capture_on_commit_callbacks(execute=True):
        response = multipart_upload(alice_client, "two.xls", book)
    upload = FileUpload.objects.get(pk=response.json()["id"])
    assert upload.validation_report["sheet_rows"] == {"small": 1, "big": ROWS}
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", ROWS)
    url = f"/api/v1/files/{upload.pk}/conversions"

    big = alice_client.post(url, {"target_format": "xlsx", "sheet": "big"})
    small = alice_client.post(url, {"target_format": "xlsx", "sheet": "small"})

    assert big.status_code == 400 and "7 data rows" in big.json()["detail"]
    assert small.status_code == 202


@pytest.mark.parametrize("kind", ["csv", "json", "jsonl", "xls"])
def test_a_job_on_a_file_without_a_recorded_count_fails_before_writing(
    alice, alice_client, tmp_path, monkeypatch, django_capture_on_commit_callbacks, writer_calls, kind
):
    """GIVEN a file validated before row counts were recorded (no count in its report)
    WHEN a conversion to xlsx over the limit runs
    THEN the job ends FAILED with the count and the limit, without opening a writer or making a file."""
    name, file_type = SOURCES[kind]
    source = stored_file(alice, tmp_path, name, tabular_bytes(kind, ROWS), file_type=file_type)
    assert "data_rows" not in source.validation_report
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", ROWS)

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/api/v1/files/{source.pk}/conversions", {"target_format": "xlsx"})

    assert response.status_code == 202
    job = FileProcessingJob.objects.get(pk=response.json()["job"])
    assert job.status == "failed"
    # A CSV is counted only until it is past the limit, so its count is a bound.
    assert ("more than 6 data rows" if kind == "csv" else "7 data rows") in job.error
    assert "Excel's limit of 7 rows" in job.error
    assert job.output_file is None
    assert writer_calls == []
    assert not FileUpload.objects.filter(source=source).exists()


def test_a_parquet_file_without_a_recorded_count_is_still_refused_up_front(alice, alice_client, tmp_path, monkeypatch):
    source = stored_file(alice, tmp_path, "old.parquet", tabular_bytes("parquet", ROWS), file_type="parquet")
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", ROWS)

    response = alice_client.post(f"/api/v1/files/{source.pk}/conversions", {"target_format": "xlsx"})

    assert response.status_code == 400
    assert "7 data rows" in response.json()["detail"]


def test_the_csv_counting_pass_stops_just_past_the_limit(tmp_path, monkeypatch):
    """A CSV of unknown length is counted only until it is known to be too long."""
    from files.conversions.readers import CsvReader

    path = tmp_path / "long.csv"
    path.write_bytes(tabular_bytes("csv", 5000))
    monkeypatch.setattr(convert_conf, "CSV_BLOCK_BYTES", 64 * 1024)

    stopped, complete = CsvReader(path), CsvReader(path)

    assert 10 < stopped.count_rows(stop_after=10) < 5000
    assert stopped.total_rows is None
    assert complete.count_rows(stop_after=10_000) == 5000
    assert complete.total_rows == 5000


def test_a_long_csv_of_unknown_length_is_refused_before_writing_and_one_within_converts(
    tmp_path, monkeypatch, writer_calls
):
    """Several blocks of CSV, no recorded count: past the limit nothing is written; within it, the
    counting pass and the conversion together report progress up to 100 %."""
    path = tmp_path / "long.csv"
    path.write_bytes(tabular_bytes("csv", 5000))
    monkeypatch.setattr(convert_conf, "CSV_BLOCK_BYTES", 64 * 1024)
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", 100)

    with pytest.raises(conversions.ConversionError, match="more than 99 data rows"):
        conversions.convert(path, source_fmt="csv", target=tmp_path / "no.xlsx", target_fmt="xlsx")
    assert writer_calls == [] and not (tmp_path / "no.xlsx").exists()

    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", 5001)
    seen = []
    result = conversions.convert(
        path,
        source_fmt="csv",
        target=tmp_path / "yes.xlsx",
        target_fmt="xlsx",
        progress=lambda d, t: seen.append(d / t),
    )
    assert result.rows == 5000 and writer_calls == ["xlsx"]
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert any(fraction <= 0.5 for fraction in seen[:-1])  # the counting pass is the first half

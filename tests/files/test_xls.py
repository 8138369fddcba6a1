"""Legacy Excel (.xls, read with xlrd): validation, preview and conversion.

The workbooks are written by xlwt in each test. An .xls file stores every
number as a float, a date as a day count with a date format, a boolean as
0/1 with its own cell type; what a user sees is what we must read back.
"""

import datetime as dt
import json

import openpyxl
import pyarrow.parquet as pq
import pytest

from files.conversions import ConversionError, convert
from files.models import FilePreview, FileProcessingJob, FileStatus, FileUpload
from files.previews import PreviewError, preview_build
from files.validation.runner import validate_path
from tests.files.conftest import multipart_upload
from tests.files.tabular_fixtures import xls_bytes

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5)
SALES = [
    ["id", "name", "amount", "when", "ok"],
    [1, "Zoë", 2.5, WHEN, True],
    [2, None, None, None, False],
    [12345678901, 'quote " and, comma', -0.125, dt.datetime(1999, 12, 31), True],
]
TOTALS = [["total"], [3]]


@pytest.fixture
def workbook(tmp_path):
    path = tmp_path / "sales.xls"
    path.write_bytes(xls_bytes({"Sales": SALES, "Totals": TOTALS}))
    return path


def test_an_xls_workbook_passes_validation_with_its_sheets_and_rows(workbook):
    report, file_type, mime = validate_path(workbook, filename="sales.xls", size=workbook.stat().st_size)

    assert report.passed, report.as_dict()
    assert (file_type, mime) == ("excel", "application/vnd.ms-excel")
    assert report.as_dict()["sheet_rows"] == {"Sales": 3, "Totals": 1}
    assert report.as_dict()["data_rows"] == 3


def test_a_truncated_xls_workbook_fails_validation_with_a_reason(tmp_path, workbook):
    broken = tmp_path / "broken.xls"
    broken.write_bytes(workbook.read_bytes()[:600])

    report, _, _ = validate_path(broken, filename="broken.xls", size=600)

    assert not report.passed
    assert "not a readable .xls workbook" in report.first_failure


def test_the_preview_shows_values_as_excel_shows_them(workbook):
    preview = preview_build(workbook, fmt="xls").data

    assert (preview["sheet"], preview["sheets"], preview["total_rows"]) == ("Sales", ["Sales", "Totals"], 3)
    assert preview["columns"] == [
        {"name": "id", "type": "integer"},
        {"name": "name", "type": "string"},
        {"name": "amount", "type": "float"},
        {"name": "when", "type": "datetime"},
        {"name": "ok", "type": "boolean"},
    ]
    assert preview["rows"][0] == [1, "Zoë", 2.5, "2024-01-02T03:04:05", True]
    assert preview["rows"][1] == [2, None, None, None, False]


def test_the_preview_reads_the_sheet_asked_for_and_limits_rows_and_columns(workbook):
    totals = preview_build(workbook, fmt="xls", sheet="Totals").data
    small = preview_build(workbook, fmt="xls", rows=1, columns=2).data

    assert (totals["sheet"], totals["rows"]) == ("Totals", [[3]])
    assert small["rows"] == [[1, "Zoë"]]
    assert small["total_columns"] == 5


@pytest.mark.parametrize("cut", [100, 600, 4000])
def test_a_damaged_xls_preview_is_refused_with_a_reason(tmp_path, workbook, cut):
    broken = tmp_path / "broken.xls"
    broken.write_bytes(workbook.read_bytes()[:cut])

    with pytest.raises(PreviewError, match="Not a readable .xls workbook"):
        preview_build(broken, fmt="xls")


def test_it_converts_xls_to_csv_json_parquet_and_xlsx_exactly(tmp_path, workbook):
    results = {
        target: convert(workbook, source_fmt="xls", target=tmp_path / f"out.{target}", target_fmt=target)
        for target in ("csv", "json", "parquet", "xlsx")
    }

    assert {target: result.rows for target, result in results.items()} == dict.fromkeys(results, 3)
    expected = [dict(zip(SALES[0], row, strict=True)) for row in SALES[1:]]
    assert pq.read_table(tmp_path / "out.parquet").to_pylist() == expected
    as_json = [{**row, "when": row["when"].isoformat() if row["when"] else None} for row in expected]
    assert json.loads((tmp_path / "out.json").read_text()) == as_json
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        '"id","name","amount","when","ok"',
        '1,"Zoë",2.5,2024-01-02 03:04:05.000000,true',
        "2,,,,false",
        '12345678901,"quote "" and, comma",-0.125,1999-12-31 00:00:00.000000,true',
    ]
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [SALES[0], *SALES[1:]]


def test_it_converts_the_sheet_asked_for(tmp_path, workbook):
    result = convert(workbook, source_fmt="xls", target=tmp_path / "t.jsonl", target_fmt="jsonl", sheet="Totals")

    assert result.rows == 1
    assert (tmp_path / "t.jsonl").read_text() == '{"total":3}\n'


def test_it_refuses_a_missing_sheet_and_a_damaged_workbook(tmp_path, workbook):
    broken = tmp_path / "broken.xls"
    broken.write_bytes(workbook.read_bytes()[:600])

    with pytest.raises(ConversionError, match="No sheet named 'Nope'"):
        convert(workbook, source_fmt="xls", target=tmp_path / "a.csv", target_fmt="csv", sheet="Nope")
    with pytest.raises(ConversionError, match="Not a readable .xls workbook"):
        convert(broken, source_fmt="xls", target=tmp_path / "b.csv", target_fmt="csv")


@pytest.mark.django_db
def test_an_uploaded_xls_is_validated_previewed_and_converted(alice_client, django_capture_on_commit_callbacks):
    """GIVEN an .xls uploaded through the API
    WHEN it is validated, previewed and converted to parquet
    THEN each step works on the real stored file."""
    with django_capture_on_commit_callbacks(execute=True):
        response = multipart_upload(alice_client, "sales.xls", xls_bytes({"Sales": SALES, "Totals": TOTALS}))
    upload = FileUpload.objects.get(pk=response.json()["id"])
    assert (upload.status, upload.file_type) == (FileStatus.COMPLETED, "excel"), upload.failure_reason
    assert FilePreview.objects.get(file=upload).data["rows"][0] == [1, "Zoë", 2.5, "2024-01-02T03:04:05", True]

    totals = alice_client.get(f"/api/v1/files/{upload.pk}/preview?sheet=Totals")
    with django_capture_on_commit_callbacks(execute=True):
        queued = alice_client.post(f"/api/v1/files/{upload.pk}/conversions", {"target_format": "parquet"})

    assert totals.json()["rows"] == [[3]]
    job = FileProcessingJob.objects.get(pk=queued.json()["job"])
    assert (job.status, job.result["rows"]) == ("completed", 3), job.error
    assert job.output_file.filename == "sales.parquet"

"""Validation of uploaded content: every bad input ends as a FAILED file
with a clear reason; good files pass with a report of the checks run."""

import csv
import gzip
import io
import json
import lzma
import struct
import tarfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
from PIL import Image

from files import conf
from files.models import FileStatus, FileType, FileUpload
from files.services import file_upload_claim_for_validation, file_uploads_requeue_stuck
from files.validation.runner import validate_path
from tests.acceptance.hostile_corpus import tar_gz_of, zip_of
from tests.files.conftest import multipart_upload

EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8"
    + b"\x00" * 64
    + b"This program cannot be run in DOS mode"
)


def check(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / "blob"
    path.write_bytes(data)
    report, file_type, mime = validate_path(path, filename=name, size=len(data))
    return report, file_type


def failure(tmp_path, name, data) -> str:
    report, _ = check(tmp_path, name, data)
    assert not report.passed, report.as_dict()
    return report.first_failure


def xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["id", "name"])
    book.active.append([1, "ann"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def png_bytes(width=4, height=3) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, "PNG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming enormous dimensions: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("name", "data", "file_type"),
    [
        ("people.csv", b"id,name\n1,ann\n2,b\xc3\xb6b\n", FileType.CSV),
        ("semi.csv", b"id;name\n1;ann\n", FileType.CSV),
        ("doc.json", b'{"a": [1, 2.5e3, true, null, {"b": "\\u00e9"}]}', FileType.JSON),
        ("rows.jsonl", b'{"a": 1}\n{"a": 2}\n', FileType.JSON),
        ("doc.xml", b'<?xml version="1.0"?><root><row id="1">x</row></root>', FileType.XML),
        ("book.xlsx", None, FileType.EXCEL),
        ("pic.png", None, FileType.IMAGE),
        ("notes.txt", "Grüße\n".encode("latin-1") * 50, FileType.TEXT),
    ],
)
def test_good_files_pass_with_their_type(tmp_path, name, data, file_type):
    data = data if data is not None else (xlsx_bytes() if name.endswith("xlsx") else png_bytes())
    report, detected = check(tmp_path, name, data)
    assert report.passed, report.as_dict()
    assert detected == file_type
    assert {c["name"] for c in report.checks} >= {"filename", "content_type", f"{file_type}_content"}


def test_it_fails_an_exe_renamed_to_csv(tmp_path):
    assert "executable" in failure(tmp_path, "report.csv", EXE)


@pytest.mark.parametrize("name", ["tool.exe", "run.sh", "x.exe.csv", "macro.PS1"])
def test_it_fails_blocked_extensions(tmp_path, name):
    assert "not allowed" in failure(tmp_path, name, b"id,name\n1,a\n")


def test_it_fails_an_empty_file(tmp_path):
    assert "empty" in failure(tmp_path, "empty.csv", b"")


def test_it_fails_a_ragged_csv_with_row_numbers(tmp_path):
    data = b"a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n"
    report, _ = check(tmp_path, "ragged.csv", data)
    assert not report.passed
    csv_check = next(c for c in report.checks if c["name"] == "csv_content")
    assert "row 3" in csv_check["detail"]
    assert [p["row"] for p in csv_check["problems"]] == [3, 5]


def test_it_fails_a_binary_csv(tmp_path):
    reason = failure(tmp_path, "binary.csv", b"a,b\n" + bytes(range(256)) * 4)
    assert "binary" in reason or "does not match" in reason


def test_it_fails_a_csv_with_invalid_utf8_and_names_the_line(tmp_path):
    data = "id,name\n1,Zoë\n".encode() + b"2,\xff\xfe broken\n"
    reason = failure(tmp_path, "bad.csv", data)
    assert "invalid UTF-8" in reason and "line 3" in reason


def test_it_fails_invalid_utf8_after_the_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(conf, "CSV_SAMPLE_BYTES", 1024)
    data = b"id,name\n" + b"1,abc\n" * 1000 + b"2,\xff\n"
    reason = failure(tmp_path, "late.csv", data)
    assert "invalid utf-8" in reason.lower() and "line 1002" in reason


def test_it_fails_a_csv_without_a_header(tmp_path):
    assert "header" in failure(tmp_path, "nums.csv", b"1,2,3\n4,5,6\n")


def test_it_validates_a_csv_in_bounded_memory_row_by_row(tmp_path):
    # A field larger than the configured limit is refused, not loaded.
    data = b"a,b\n1," + b'"' + b"x" * (conf.CSV_MAX_FIELD_SIZE + 10) + b'"\n'
    assert "malformed CSV" in failure(tmp_path, "huge.csv", data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"a": 1,}', "unexpected"),
        (b'{"a": 1', "ends before"),
        (b"[1, 2] [3]", "after the end"),
        (b"{'a': 1}", "invalid JSON"),
        (b"", "empty"),
    ],
)
def test_it_fails_invalid_json_with_the_position(tmp_path, data, words):
    if not data:
        assert "empty" in failure(tmp_path, "x.json", data)
        return
    assert words in failure(tmp_path, "x.json", data)


def test_it_fails_deeply_nested_json_before_recursing(tmp_path):
    data = b"[" * 100_000 + b"]" * 100_000
    assert "nested deeper" in failure(tmp_path, "deep.json", data)


def test_it_reads_json_tokens_across_block_boundaries(tmp_path):
    rows = [{"id": i, "name": "x" * (i % 50), "v": i * 1.5} for i in range(40_000)]
    report, _ = check(tmp_path, "big.json", json.dumps(rows).encode())
    assert report.passed, report.first_failure


@pytest.mark.parametrize("cut", ["12.", "12.5e", "12.5e-", "1E+", "-"])
def test_it_reads_a_number_split_by_a_block_boundary(tmp_path, cut):
    """A block that ends inside a number, after a part that is a number on
    its own (`12.` of `12.25`), must not end the number there."""
    from files.validation.jsonfile import _BLOCK

    number = {"12.": "12.25", "12.5e": "12.5e3", "12.5e-": "12.5e-3", "1E+": "1E+2", "-": "-7"}[cut]
    head = b'{"pad": "' + b"x" * (_BLOCK - len(cut) - 17) + b'", "n": '
    data = head + number.encode() + b"}"
    assert data[_BLOCK - len(cut) : _BLOCK] == cut.encode()
    report, _ = check(tmp_path, "cut.json", data)
    assert report.passed, report.first_failure


def test_it_fails_an_xxe_xml(tmp_path):
    data = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    assert "unsafe XML" in failure(tmp_path, "xxe.xml", data)


def test_it_fails_a_billion_laughs_xml(tmp_path):
    data = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>'
    assert "unsafe XML" in failure(tmp_path, "lol.xml", data)


def test_it_fails_malformed_xml(tmp_path):
    assert "malformed XML" in failure(tmp_path, "bad.xml", b"<?xml version='1.0'?><a><b></a>")


def test_it_fails_a_truncated_xlsx(tmp_path):
    data = xlsx_bytes()
    reason = failure(tmp_path, "cut.xlsx", data[: len(data) // 2])
    assert "truncated or corrupt" in reason or "does not match" in reason


def test_it_fails_a_decompression_bomb_png(tmp_path):
    reason = failure(tmp_path, "bomb.png", png_header_only(100_000, 100_000))
    assert "decompression bomb" in reason


def test_it_fails_a_truncated_png(tmp_path):
    data = png_bytes(200, 200)
    assert "image" in failure(tmp_path, "cut.png", data[:60])


def test_it_fails_a_zip_bomb(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.bin", "w") as entry:
        block = b"\x00" * (1 << 20)
        for _ in range(64):
            entry.write(block)
    assert "zip bomb" in failure(tmp_path, "bomb.zip", buffer.getvalue())


@pytest.mark.parametrize("member", ["../../etc/cron.d/evil", "/abs/path", "a/../../b"])
def test_it_fails_an_archive_with_path_traversal(tmp_path, member):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, "x")
    assert "path traversal" in failure(tmp_path, "slip.zip", buffer.getvalue())


def test_it_fails_a_tar_with_a_symlink(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        archive.addfile(info)
    assert "link" in failure(tmp_path, "links.tar", buffer.getvalue())


def test_a_plain_zip_passes(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/a.csv", "id\n1\n")
    report, file_type = check(tmp_path, "ok.zip", buffer.getvalue())
    assert report.passed and file_type == FileType.ARCHIVE


def test_nested_archives_of_data_pass_and_are_counted(tmp_path):
    inner = tar_gz_of({"rows/a.csv": b"id,name\n1,ann\n", "rows/b.csv": b"id,name\n2,bob\n"})
    data = zip_of({"export/rows.tar.gz": inner, "export/readme.txt": b"hello\n"})
    report, file_type = check(tmp_path, "export.zip", data)
    assert report.passed, report.first_failure
    facts = next(c for c in report.checks if c["name"] == "archive_content")
    # Outer zip: 2 entries; the tar.gz inside: 2 more, one level deeper.
    assert facts["entries"] == 4 and facts["depth"] == 2
    assert not list((tmp_path / "media" / "tus").glob("*")), "nested copies are removed"


def test_a_nested_zip_bomb_fails_on_the_total_of_all_layers(tmp_path):
    bomb = zip_of({"zeros.bin": bytes(8 << 20)})  # ~8 KiB, 1000x
    data = zip_of({"inner.zip": bomb})
    # Each layer is checked with the budget of the uploaded file, not its own.
    assert "zip bomb" in failure(tmp_path, "nested.zip", data)


def test_archives_nested_past_the_depth_limit_fail(tmp_path, monkeypatch):
    monkeypatch.setattr(conf, "ARCHIVE_MAX_DEPTH", 2)
    data = zip_of({"a.zip": zip_of({"b.zip": zip_of({"c.csv": b"a\n1\n"})})})
    reason = failure(tmp_path, "deep.zip", data)
    assert "nested more than 2 levels" in reason and "a.zip/b.zip" in reason


def test_a_nested_archive_larger_than_the_copy_limit_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(conf, "ARCHIVE_MAX_NESTED_SIZE", 1024)
    data = zip_of({"big.zip": zip_of({f"{i}.csv": bytes([65 + i % 26]) * 200 for i in range(20)})})
    assert "larger than the 1024 bytes that can be inspected" in failure(tmp_path, "outer.zip", data)


@pytest.mark.parametrize(
    ("name", "entries", "words"),
    [
        ("tools.zip", {"docs/setup.EXE": b"MZ"}, "'docs/setup.EXE' has the blocked extension .exe"),
        ("tools.zip", {"docs/manual.txt": EXE}, "'docs/manual.txt' is a Windows/DOS executable"),
        ("tools.zip", {"lib/x.csv": b"\x7fELF\x02\x01\x01" + bytes(64)}, "'lib/x.csv' is an ELF executable"),
        ("tools.zip", {"run": b"#!/bin/sh\necho\n"}, "'run' is a script"),
    ],
)
def test_executables_inside_a_zip_fail_with_the_entry_name(tmp_path, name, entries, words):
    assert words in failure(tmp_path, name, zip_of(entries))


def test_an_executable_inside_a_tar_gz_fails(tmp_path):
    reason = failure(tmp_path, "src.tgz", tar_gz_of({"a/b.py.txt": b"x", "a/c.csv": b"a\n1\n"}))
    assert "'a/b.py.txt' has the blocked extension .py" in reason


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("big.gz", lambda data: gzip.compress(data)),
        ("big.bz2", lambda data: __import__("bz2").compress(data)),
        ("big.xz", lambda data: lzma.compress(data)),
    ],
)
def test_a_compressed_bomb_fails_while_inflating_in_bounded_memory(tmp_path, name, compress):
    data = compress(bytes(64 << 20))
    tracemalloc.start()
    try:
        reason = failure(tmp_path, name, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "zip bomb" in reason
    # One 1 MiB block at a time (xz: plus its 8 MiB dictionary), never the 64 MiB.
    assert peak < 16 << 20, peak


def test_a_plain_gzip_within_the_ratio_passes(tmp_path):
    data = gzip.compress("".join(f"{i},{i * 7919 % 104729}\n" for i in range(50_000)).encode())
    report, file_type = check(tmp_path, "numbers.csv.gz", data)
    assert report.passed, report.first_failure
    assert file_type == FileType.ARCHIVE


def test_an_xz_asking_for_a_huge_dictionary_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(conf, "ARCHIVE_XZ_MEMLIMIT", 4 << 20)
    data = lzma.compress(b"hello\n" * 1000, preset=9)  # a 64 MiB dictionary
    assert "needs more than 4194304 bytes of memory" in failure(tmp_path, "hello.xz", data)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<</S/JavaScript/JS(app.alert(1))>>", "JavaScript"),
        (b"<</S/J#61vaScript/J#53(x)>>", "JavaScript"),  # escaped names
        (b"<</AA<</O<</S/Launch/F(cmd.exe)>>>>>>", "Launch"),
    ],
)
def test_pdfs_with_active_content_fail(tmp_path, body, words):
    data = b"%PDF-1.7\n1 0 obj" + body + b"endobj\n%%EOF\n"
    reason = failure(tmp_path, "doc.pdf", data)
    assert "active content" in reason and words in reason


def test_a_pdf_name_cut_at_a_block_edge_is_still_found(tmp_path):
    prefix = b"%PDF-1.7\n%" + b"x" * ((1 << 20) - 13) + b"\n"
    data = prefix[: (1 << 20) - 4] + b"/JavaScript(x)\n%%EOF\n"
    assert data.index(b"/JavaScript") < 1 << 20 < data.index(b"/JavaScript") + 11
    assert "JavaScript" in failure(tmp_path, "doc.pdf", data)


def test_a_pdf_with_only_an_open_action_passes_and_is_reported(tmp_path):
    data = b"%PDF-1.7\n1 0 obj<</Type/Catalog/OpenAction[3 0 R/Fit]/Names<</EmbeddedFiles 2 0 R>>>>endobj\n%%EOF\n"
    report, _ = check(tmp_path, "doc.pdf", data)
    assert report.passed, report.first_failure
    pdf = next(c for c in report.checks if c["name"] == "pdf_content")
    assert pdf["active_content"] == ["OpenAction"]


def test_a_giant_csv_line_is_refused_in_flat_memory(tmp_path):
    # 32 MiB on one line: refused after FILES_CSV_MAX_LINE_SIZE characters,
    # with the heap far below the line's size.
    path = tmp_path / "wide.csv"
    with open(path, "wb") as out:
        out.write(b"a,b\n")
        for _ in range(32):
            out.write(b"x" * (1 << 20))
        out.write(b",1\n")
    tracemalloc.start()
    try:
        report, _, _ = validate_path(path, filename="wide.csv", size=path.stat().st_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "line 2 is longer than" in report.first_failure
    assert peak < 2.5 * conf.CSV_MAX_LINE_SIZE + (2 << 20), peak


def test_the_csv_field_limit_is_restored_after_the_check(tmp_path):
    before = csv.field_size_limit()
    check(tmp_path, "ok.csv", b"a,b\n1,2\n")
    assert csv.field_size_limit() == before


def test_type_specific_size_limits_apply(tmp_path, monkeypatch):
    monkeypatch.setitem(conf.MAX_SIZE_BY_TYPE, "image", 10)
    assert "at most 10 bytes" in failure(tmp_path, "pic.png", png_bytes())


class TestThroughTheApi:
    def upload(self, client, name, data, django_capture_on_commit_callbacks) -> FileUpload:
        with django_capture_on_commit_callbacks(execute=True):
            response = multipart_upload(client, name, data)
        assert response.status_code == 201, response.content
        return FileUpload.objects.get(pk=response.json()["id"])

    def test_a_good_csv_completes_with_a_report(self, alice_client, django_capture_on_commit_callbacks):
        upload = self.upload(alice_client, "ok.csv", b"id,name\n1,a\n", django_capture_on_commit_callbacks)
        assert upload.status == FileStatus.COMPLETED
        assert upload.file_type == FileType.CSV
        assert upload.scan_status == "not_scanned"
        detail = alice_client.get(f"/api/v1/files/{upload.pk}/").json()
        assert detail["validation_report"]["passed"] is True
        assert detail["completed_at"]

    def test_an_exe_renamed_to_csv_fails_with_a_reason(self, alice_client, django_capture_on_commit_callbacks):
        upload = self.upload(alice_client, "totally.csv", EXE, django_capture_on_commit_callbacks)
        assert upload.status == FileStatus.FAILED
        assert "executable" in upload.failure_reason

    def test_an_empty_file_fails(self, alice_client, django_capture_on_commit_callbacks):
        upload = self.upload(alice_client, "empty.csv", b"", django_capture_on_commit_callbacks)
        assert upload.status == FileStatus.FAILED and "empty" in upload.failure_reason

    def test_revalidate_runs_again(self, alice_client, django_capture_on_commit_callbacks, monkeypatch):
        upload = self.upload(alice_client, "ok.csv", b"id,name\n1,a\n", django_capture_on_commit_callbacks)
        monkeypatch.setattr(conf, "SCAN_REQUIRED", True)
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_client.post(f"/api/v1/files/{upload.pk}/validate")
        assert response.status_code == 202
        upload.refresh_from_db()
        assert upload.status == FileStatus.FAILED
        assert "not scanned" in upload.failure_reason


def test_the_validation_task_is_safe_to_run_twice(alice, tmp_path, django_capture_on_commit_callbacks):
    from files.services import file_upload_create_from_path
    from files.tasks import file_upload_validate_task

    path = tmp_path / "in.csv"
    path.write_bytes(b"id\n1\n")
    with django_capture_on_commit_callbacks(execute=True):
        upload = file_upload_create_from_path(owner=alice, path=path, filename="in.csv")
    upload.refresh_from_db()
    report = upload.validation_report
    file_upload_validate_task(str(upload.pk))  # a redelivery
    upload.refresh_from_db()
    assert upload.status == FileStatus.COMPLETED and upload.validation_report == report
    assert path.exists()  # the caller's file is left in place


def test_a_file_stuck_in_validating_is_picked_up_again(
    alice, tmp_path, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from files.services import file_upload_create_from_path

    path = tmp_path / "in.csv"
    path.write_bytes(b"id\n1\n")
    upload = file_upload_create_from_path(owner=alice, path=path, filename="in.csv")  # task not run (no commit)
    assert file_upload_claim_for_validation(upload_id=upload.pk)  # a worker took it...
    assert not file_upload_claim_for_validation(upload_id=upload.pk)  # ...so nobody else does
    FileUpload.objects.filter(pk=upload.pk).update(validation_started_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert file_uploads_requeue_stuck() == 1
    upload.refresh_from_db()
    assert upload.status == FileStatus.COMPLETED

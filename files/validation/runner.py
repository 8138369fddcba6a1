"""The validation pipeline, in order: name, size, type, type-specific size,
content, virus scan. Each step adds a check to the report; the outcome and
the report are stored through `services.file_upload_record_validation`.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from files import clamav, conf, services, storage
from files.models import FileType, FileUpload, ScanStatus
from files.validation import detect
from files.validation.archive import check_archive
from files.validation.csvfile import check_csv, check_text
from files.validation.documents import check_excel, check_image, check_parquet, check_pdf
from files.validation.heartbeat import validation_heartbeat
from files.validation.jsonfile import check_json
from files.validation.report import CheckFailed, Report
from files.validation.xmlfile import check_xml

log = structlog.get_logger(__name__)

# Facts hoisted to the top of the report: data rows of a tabular file (CSV,
# JSON/JSON Lines records, Parquet) and, for workbooks, per sheet.
DATA_ROW_FACTS = ("data_rows", "sheet_rows")


def _run(report: Report, name: str, check: Callable[[], Any]) -> Any:
    """Run one check; a failure (or a crash) is recorded, never raised."""
    try:
        result = check()
    except CheckFailed as exc:
        report.add(name, False, exc.reason, **exc.details)
        return None
    except Exception as exc:
        log.exception("file_validation_check_crashed", check=name)
        report.add(name, False, f"could not be checked: {type(exc).__name__}")
        return None
    facts = result if isinstance(result, dict) else {}
    report.add(name, True, "", **facts)
    return result if result is not None else True


def _content_check(file_type: str, path: Path, extension: str, mime: str) -> Callable[[], Any] | None:
    return {
        FileType.CSV: lambda: check_csv(path, extension=extension),
        FileType.TEXT: lambda: check_text(path),
        FileType.JSON: lambda: check_json(path, extension=extension),
        FileType.XML: lambda: check_xml(path),
        FileType.EXCEL: lambda: check_excel(path, extension=extension),
        FileType.IMAGE: lambda: check_image(path),
        FileType.PDF: lambda: check_pdf(path),
        FileType.PARQUET: lambda: check_parquet(path),
        FileType.ARCHIVE: lambda: check_archive(path, extension=extension, mime=mime),
    }.get(file_type)


def validate_path(path: Path, *, filename: str, size: int) -> tuple[Report, str, str]:
    """Run the content checks on a local file. Returns (report, file_type, mime)."""
    report = Report()
    extension = _run(report, "filename", lambda: detect.check_name(filename) or "")
    mime = detect.detect_mime(path)
    report.facts["mime_type"] = mime
    if size == 0:
        report.add("not_empty", False, "the file is empty")
        return report, FileType.OTHER, mime
    report.add("not_empty", True, "", size=size)
    if extension is None:
        return report, FileType.OTHER, mime
    extension = extension if isinstance(extension, str) else ""
    file_type = _run(report, "content_type", lambda: detect.decide_type(extension, mime))
    if file_type is None:
        return report, detect.EXTENSION_TYPES.get(extension, FileType.OTHER), mime
    if not _run(report, "type_size_limit", lambda: detect.check_type_size(file_type, size)):
        return report, file_type, mime
    check = _content_check(file_type, path, extension, mime)
    if check is None:
        report.skip(f"{file_type}_content", "no content check for this type")
    else:
        facts = _run(report, f"{file_type}_content", check)
        if isinstance(facts, dict):
            # The content check read every row anyway: keep the count where
            # a conversion looks before queuing (Excel's row limit).
            report.facts.update({key: facts[key] for key in DATA_ROW_FACTS if key in facts})
    return report, file_type, mime


def scan_path(path: Path, *, size: int) -> tuple[str, str, bool | None]:
    """(scan status, result text, whether the file may pass). Never "clean"
    unless clamd said so."""
    if not conf.CLAMAV_URL:
        return ScanStatus.NOT_SCANNED, "not scanned: no scanner configured (CLAMAV_URL)", not conf.SCAN_REQUIRED
    if size > conf.SCAN_MAX_SIZE:
        reason = f"not scanned: too large ({size} bytes > {conf.SCAN_MAX_SIZE})"
        return ScanStatus.NOT_SCANNED, reason, conf.SCAN_TOO_LARGE_PASSES
    try:
        with open(path, "rb") as stream:
            result = clamav.instream(
                stream, url=conf.CLAMAV_URL, chunk_size=conf.CLAMAV_CHUNK_SIZE, timeout=conf.CLAMAV_TIMEOUT
            )
    except clamav.ScanTooLarge as exc:
        return ScanStatus.NOT_SCANNED, f"not scanned: too large for clamd ({exc})", conf.SCAN_TOO_LARGE_PASSES
    except clamav.ScannerUnavailable as exc:
        log.warning("file_scan_unavailable", error=str(exc))
        return ScanStatus.NOT_SCANNED, f"not scanned: scanner unavailable ({exc})"[:255], not conf.SCAN_REQUIRED
    if result.infected:
        return ScanStatus.INFECTED, result.signature, False
    return ScanStatus.CLEAN, "", True


def _add_scan(report: Report, scan_status: str, scan_result: str, scan_passes: bool | None) -> None:
    report.add("virus_scan", scan_passes, scan_result or "clean", status=scan_status)
    report.facts["scan"] = {"status": scan_status, "result": scan_result}


def file_upload_validate(*, upload_id: str) -> None:
    """Validate and scan one upload (the Celery task's body); safe to run twice."""
    if not services.file_upload_claim_for_validation(upload_id=upload_id):
        return
    upload = FileUpload.objects.select_related("blob").get(pk=upload_id)
    with (
        validation_heartbeat(upload.pk, upload.validation_started_at),
        storage.local_copy(upload.blob.storage_name) as path,
    ):
        report, file_type, mime = validate_path(path, filename=upload.filename, size=upload.size)
        scan_status, scan_result, scan_passes = scan_path(path, size=upload.size)
    _add_scan(report, scan_status, scan_result, scan_passes)
    infected = scan_status == ScanStatus.INFECTED
    reason = f"infected: {scan_result}" if infected else report.first_failure
    services.file_upload_record_validation(
        upload_id=upload.pk,
        report=report.as_dict(),
        passed=report.passed,
        failure_reason=reason,
        file_type=file_type,
        mime_type=mime,
        scan_status=scan_status,
        scan_result=scan_result,
        quarantine=infected,
    )
    if report.passed and not infected:
        # Imported here: previews pull in pyarrow and openpyxl (~50 MiB), which
        # validating a file does not need.
        from files.processing_services import file_preview_queue

        file_preview_queue(upload_id=upload.pk)


def file_upload_rescan_run(*, upload_id: str) -> None:
    """Scan a validated file again and record the verdict (the task behind
    the console's "Re-scan with ClamAV"): the same `scan_path` as validation,
    its verdict replacing the report's virus_scan check. The content checks
    are not re-run; "Re-validate and scan" does that."""
    upload = FileUpload.objects.select_related("blob").filter(pk=upload_id, blob__isnull=False).first()
    if upload is None:
        return
    with storage.local_copy(upload.blob.storage_name) as path:
        scan_status, scan_result, scan_passes = scan_path(path, size=upload.size)
    previous = upload.validation_report or {}
    report = Report(
        checks=[check for check in previous.get("checks", []) if check.get("name") != "virus_scan"],
        facts={key: value for key, value in previous.items() if key not in ("passed", "checks")},
    )
    _add_scan(report, scan_status, scan_result, scan_passes)
    infected = scan_status == ScanStatus.INFECTED
    # Content once found infected stays quarantined whatever a later scan says.
    quarantined = infected or upload.blob.quarantined
    if infected:
        reason = f"infected: {scan_result}"
    elif quarantined:
        reason = "quarantined: an earlier scan found it infected"
    else:
        reason = report.first_failure
    completed = services.file_upload_record_scan(
        upload_id=upload.pk,
        report=report.as_dict(),
        passed=report.passed and not quarantined,
        failure_reason=reason,
        scan_status=scan_status,
        scan_result=scan_result,
        quarantine=infected,
    )
    if completed:
        from files.processing_services import file_preview_queue  # imported when needed, as above

        file_preview_queue(upload_id=upload.pk)

"""Helpers for the processing tests: files that are stored and validated."""

from pathlib import Path

from files.models import FileStatus, FileUpload, ScanStatus
from files.services import file_upload_create_from_path


def stored_file(owner, tmp_path: Path, name: str, content: bytes, *, file_type: str) -> FileUpload:
    """A file stored through the files service, marked as validated.

    Validation is the files app's concern (and is tested there); these tests
    start from a file that passed it, or set another state on purpose.
    """
    path = tmp_path / f"src-{name}"
    path.write_bytes(content)
    upload = file_upload_create_from_path(owner=owner, path=path, filename=name)
    FileUpload.objects.filter(pk=upload.pk).update(
        status=FileStatus.COMPLETED, file_type=file_type, scan_status=ScanStatus.NOT_SCANNED
    )
    upload.refresh_from_db()
    return upload

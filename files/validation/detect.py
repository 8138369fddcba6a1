"""What a file is: from its name (extension, blocklist) and its content
(libmagic), and whether the two agree — so a renamed .exe is caught."""

from pathlib import Path

import magic

from files import conf
from files.models import FileType
from files.validation.report import CheckFailed

EXTENSION_TYPES = {
    **dict.fromkeys(["csv", "tsv"], FileType.CSV),
    **dict.fromkeys(["json", "jsonl", "ndjson", "geojson"], FileType.JSON),
    **dict.fromkeys(["xml"], FileType.XML),
    **dict.fromkeys(["xlsx", "xlsm", "xls"], FileType.EXCEL),
    **dict.fromkeys(["parquet"], FileType.PARQUET),
    **dict.fromkeys(["txt", "text", "log", "md"], FileType.TEXT),
    **dict.fromkeys(["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"], FileType.IMAGE),
    **dict.fromkeys(["pdf"], FileType.PDF),
    **dict.fromkeys(["zip", "gz", "tgz", "tar", "bz2", "xz"], FileType.ARCHIVE),
}

EXECUTABLE_MIMES = {
    "application/x-dosexec",
    "application/x-msdownload",
    "application/x-executable",
    "application/x-elf",
    "application/x-sharedlib",
    "application/x-pie-executable",
    "application/x-mach-binary",
    "application/x-msi",
    "application/java-archive",
    "application/x-java-applet",
    "text/x-shellscript",
    "text/x-php",
    "text/x-perl",
    "text/x-python",
    "text/x-script.python",
    "application/x-bytecode.python",
}
ARCHIVE_MIMES = {
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/x-bzip2",
    "application/x-xz",
}
TEXTUAL_MIMES = {"application/json", "application/csv", "application/xml", "application/x-ndjson"}

# Which detected MIME types may back each extension-derived type.
_ACCEPTS = {
    FileType.CSV: lambda m: m.startswith("text/") or m in TEXTUAL_MIMES,
    FileType.TEXT: lambda m: m.startswith("text/") or m in TEXTUAL_MIMES,
    FileType.JSON: lambda m: m.startswith("text/") or m in TEXTUAL_MIMES,
    FileType.XML: lambda m: m in ("text/xml", "application/xml", "text/plain", "text/html", "image/svg+xml"),
    FileType.EXCEL: lambda m: (
        m
        in (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-excel",
            "application/vnd.ms-excel.sheet.macroenabled.12",
            "application/x-ole-storage",
            "application/CDFV2",
            "application/zip",
            "application/octet-stream",
        )
    ),
    FileType.PARQUET: lambda m: m in ("application/octet-stream", "application/vnd.apache.parquet"),
    FileType.IMAGE: lambda m: m.startswith("image/"),
    FileType.PDF: lambda m: m == "application/pdf",
    FileType.ARCHIVE: lambda m: m in ARCHIVE_MIMES,
}


def extension_of(filename: str) -> str:
    suffix = Path(filename).suffix
    return suffix[1:].lower() if suffix else ""


def check_name(filename: str) -> str:
    """Refuse executables and scripts by every suffix (a.exe.csv too)."""
    parts = [part.lower() for part in filename.split(".")[1:]]
    blocked = sorted({part for part in parts if part in conf.BLOCKED_EXTENSIONS})
    if blocked:
        raise CheckFailed(f"extension .{blocked[0]} is not allowed (executables and scripts are blocked)")
    return extension_of(filename)


def detect_mime(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(8192)
    return magic.from_buffer(head, mime=True) if head else "application/x-empty"


def _type_from_mime(mime: str) -> str:
    if mime.startswith("image/"):
        return FileType.IMAGE
    if mime == "application/pdf":
        return FileType.PDF
    if mime in ARCHIVE_MIMES:
        return FileType.ARCHIVE
    if mime == "application/json":
        return FileType.JSON
    if mime in ("text/xml", "application/xml"):
        return FileType.XML
    if mime == "text/csv":
        return FileType.CSV
    if mime.startswith("text/"):
        return FileType.TEXT
    return FileType.OTHER


def decide_type(extension: str, mime: str) -> str:
    """The FileType from both name and content; fails when they disagree."""
    if mime in EXECUTABLE_MIMES:
        raise CheckFailed(f"content is an executable or script ({mime}), whatever its name says")
    expected = EXTENSION_TYPES.get(extension)
    if expected is None:
        return _type_from_mime(mime)
    if not _ACCEPTS[expected](mime):
        raise CheckFailed(f"content looks like {mime}, which does not match the .{extension} extension")
    return expected


def check_type_size(file_type: str, size: int) -> None:
    limit = conf.MAX_SIZE_BY_TYPE.get(file_type, 0)
    if limit and size > limit:
        raise CheckFailed(f"{file_type} files may be at most {limit} bytes; this one is {size}")

"""Which reader handles a file: from its detected FileType and its extension."""

from pathlib import PurePath

_BY_EXTENSION = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "text",
    ".log": "text",
    ".md": "text",
    ".xml": "text",
}
_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
# FileType values (lower-case, as DESIGN.md's enums) to a reader when the
# extension does not decide.
_BY_FILE_TYPE = {
    "csv": "csv",
    "json": "json",
    "excel": "xlsx",
    "parquet": "parquet",
    "text": "text",
    "xml": "text",
    "image": "image",
}


def format_of(filename: str, file_type: str | None = None) -> str | None:
    """ "csv", "json", "jsonl", "xlsx", "xls", "parquet", "text", "image" or None."""
    suffix = PurePath(filename or "").suffix.lower()
    kind = (file_type or "").lower()
    if suffix in _IMAGE_EXTENSIONS or kind == "image":
        return "image"
    if suffix in _BY_EXTENSION:
        found = _BY_EXTENSION[suffix]
        # A detected type wins over a misleading extension for data formats.
        if kind in ("excel", "parquet", "json", "csv") and _BY_FILE_TYPE[kind] not in (
            found,
            "xlsx" if found == "xls" else found,
        ):
            if not (kind == "json" and found == "jsonl"):
                return _BY_FILE_TYPE[kind]
        return found
    return _BY_FILE_TYPE.get(kind)

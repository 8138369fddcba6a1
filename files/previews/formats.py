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


# Extensions that say more than the detected type does.
_REFINES = {"xlsx": {"xlsx", "xls"}, "json": {"json", "jsonl"}, "csv": {"csv"}, "parquet": {"parquet"}}


def format_of(filename: str, file_type: str | None = None) -> str | None:
    """ "csv", "json", "jsonl", "xlsx", "xls", "parquet", "text", "image" or None."""
    suffix = PurePath(filename or "").suffix.lower()
    detected = _BY_FILE_TYPE.get((file_type or "").lower())
    if suffix in _IMAGE_EXTENSIONS or detected == "image":
        return "image"
    found = _BY_EXTENSION.get(suffix)
    # A data format detected from the content wins over an extension that
    # disagrees (a CSV named .txt), unless the extension is more precise.
    if detected in _REFINES and found not in _REFINES[detected]:
        return detected
    return found or detected

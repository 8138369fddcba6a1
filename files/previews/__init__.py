"""Preview engines: pure functions from a local file to a `Preview`.

Each engine reads only what the preview needs (a sample, the first rows, the
Parquet footer), never the whole file. No ORM here; the service layer
stores the result on a FilePreview.
"""

from pathlib import Path

from files.previews.base import Limits, Preview, PreviewError
from files.previews.delimited import preview_csv
from files.previews.excel import preview_xls, preview_xlsx
from files.previews.formats import format_of
from files.previews.image import preview_image
from files.previews.jsondoc import preview_json
from files.previews.parquet import preview_parquet
from files.previews.text import preview_text

ENGINES = {
    "csv": preview_csv,
    "json": preview_json,
    "jsonl": preview_json,
    "xlsx": preview_xlsx,
    "xls": preview_xls,
    "parquet": preview_parquet,
    "text": preview_text,
    "image": preview_image,
}

__all__ = ["Limits", "Preview", "PreviewError", "format_of", "preview_build"]


def preview_build(
    path: Path,
    *,
    fmt: str | None,
    rows: int | None = None,
    columns: int | None = None,
    sheet: str | None = None,
) -> Preview:
    """The preview of the file at `path` read as `fmt` (see `format_of`)."""
    limits = Limits.make(rows=rows, columns=columns, sheet=sheet)
    engine = ENGINES.get(fmt or "")
    if engine is None:
        raise PreviewError("There is no preview for this type of file.")
    preview = engine(Path(path), limits)
    preview.data.setdefault("format", fmt)
    return preview

"""Format conversions between csv, json, jsonl, xlsx and parquet.

Pure and streaming: a reader yields pyarrow RecordBatches, a writer appends
them to the target, and only one batch is in memory at a time. No ORM here;
the processing service runs this inside a FileProcessingJob.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from files.conversions import conf
from files.conversions.errors import ConversionError
from files.conversions.readers import open_reader
from files.conversions.writers import open_writer

SOURCES = frozenset({"csv", "json", "jsonl", "xlsx", "xls", "parquet"})
TARGETS = ("csv", "json", "jsonl", "xlsx", "parquet")
EXTENSIONS = {"csv": ".csv", "json": ".json", "jsonl": ".jsonl", "xlsx": ".xlsx", "parquet": ".parquet"}
CONTENT_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}

Progress = Callable[[int, int], None]

__all__ = [
    "ConversionError",
    "ConversionResult",
    "SOURCES",
    "TARGETS",
    "check_xlsx_rows",
    "conversion_check",
    "convert",
]


@dataclass
class ConversionResult:
    rows: int
    columns: list[str]

    def as_dict(self) -> dict:
        return {"rows": self.rows, "columns": self.columns}


def conversion_check(
    *, source_fmt: str | None, target_fmt: str, path: Path | None = None, rows: int | None = None
) -> None:
    """Refuses, before any work is queued, what cannot succeed.

    Cheap checks only: formats, and Excel's row limit when the number of data
    rows is known (`rows`, recorded by validation) or free to learn (a
    Parquet footer at `path`).
    """
    if target_fmt not in TARGETS:
        raise ConversionError(f"Unsupported target format {target_fmt!r}; choose one of {', '.join(TARGETS)}.")
    if source_fmt not in SOURCES:
        raise ConversionError(f"Files of this type ({source_fmt or 'unknown'}) cannot be converted.")
    if source_fmt == target_fmt:
        raise ConversionError(f"The file is already {target_fmt}.")
    if target_fmt != "xlsx":
        return
    if rows is None and source_fmt == "parquet" and path is not None:
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise ConversionError(f"Not a readable Parquet file: {exc}") from None
    if rows is not None:
        check_xlsx_rows(rows)


def check_xlsx_rows(rows: int) -> None:
    """Excel holds XLSX_MAX_ROWS rows per sheet, the header row included."""
    if rows + 1 > conf.XLSX_MAX_ROWS:
        raise ConversionError(
            f"The file has {rows:,} data rows ({rows + 1:,} with the header row), over Excel's limit of "
            f"{conf.XLSX_MAX_ROWS:,} rows per sheet."
        )


def convert(
    source: Path,
    *,
    source_fmt: str,
    target: Path,
    target_fmt: str,
    progress: Progress | None = None,
    sheet: str | None = None,
    rows: int | None = None,
) -> ConversionResult:
    """Converts `source` into a new file at `target` (which the caller owns,
    and removes if this raises).

    `rows` is the source's number of data rows when validation recorded it.
    An Excel target needs that number before anything is written: from
    `rows`, from the reader (Parquet's footer; JSON and Excel sources are
    read twice anyway), or else from a counting pass over a CSV source.
    """
    conversion_check(source_fmt=source_fmt, target_fmt=target_fmt, path=Path(source), rows=rows)
    reader = open_reader(Path(source), source_fmt, sheet=sheet)
    if target_fmt == "xlsx":
        known = reader.total_rows if reader.total_rows is not None else rows
        if known is None:
            known = reader.count_rows(stop_after=conf.XLSX_MAX_ROWS - 1, progress=progress)
            if reader.total_rows is None:  # counting stopped once past the limit
                raise ConversionError(
                    f"The file has more than {conf.XLSX_MAX_ROWS - 1:,} data rows, over Excel's limit of "
                    f"{conf.XLSX_MAX_ROWS:,} rows per sheet (header row included)."
                )
        check_xlsx_rows(known)
    writer = open_writer(Path(target), target_fmt, reader.schema)
    try:
        for batch in reader:
            writer.write(batch)
            if progress is not None:
                progress(reader.done, reader.total)
    except BaseException as exc:
        _close_quietly(writer)
        if isinstance(exc, pa.ArrowException):
            raise ConversionError(f"Conversion failed: {exc}") from None
        raise
    writer.close()
    if progress is not None:
        progress(reader.total, reader.total)
    return ConversionResult(rows=writer.rows, columns=list(reader.schema.names))


def _close_quietly(writer) -> None:
    # The output is discarded anyway; a failing close must not hide the
    # error that stopped the conversion.
    try:
        writer.close()
    except Exception:  # noqa: BLE001
        pass

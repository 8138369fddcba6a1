"""Writers: a stream of pyarrow RecordBatches into a target file.

Every writer writes to the path it is given and nothing else; the caller
writes to a temporary path and keeps it only when `close()` returned, so a
failed conversion leaves nothing half-written behind.
"""

import base64
import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from files.conversions import conf
from files.conversions.errors import ConversionError


class Writer:
    rows: int = 0

    def write(self, batch: pa.RecordBatch) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _is_nested(kind: pa.DataType) -> bool:
    return pa.types.is_nested(kind) or pa.types.is_dictionary(kind) and pa.types.is_nested(kind.value_type)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default, separators=(",", ":"))


def _flatten_nested(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Lists and structs become JSON text: CSV and Excel cells are flat."""
    if not any(_is_nested(field.type) for field in batch.schema):
        return batch
    arrays, fields = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if _is_nested(field.type):
            column = pa.array([None if v is None else _dumps(v) for v in column.to_pylist()], type=pa.string())
            field = pa.field(field.name, pa.string())
        arrays.append(column)
        fields.append(field)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


class CsvWriter(Writer):
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.writer: pacsv.CSVWriter | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        batch = _flatten_nested(batch)
        if self.writer is None:
            # Arrow quotes every string and leaves nulls bare, so an empty
            # string ("") and an empty cell stay different.
            self.writer = pacsv.CSVWriter(
                str(self.path), batch.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
            )
        try:
            self.writer.write_batch(batch)
        except pa.ArrowException as exc:
            raise ConversionError(f"Cannot write these values as CSV: {exc}") from None
        self.rows += batch.num_rows

    def close(self) -> None:
        if self.writer is None:
            # No rows at all: still write the header.
            self.write(pa.RecordBatch.from_pylist([], schema=self.schema))
        self.writer.close()


class JsonWriter(Writer):
    def __init__(self, path: Path, schema: pa.Schema, *, lines: bool) -> None:
        self.handle = open(path, "w", encoding="utf-8", newline="\n")
        self.lines = lines
        if not lines:
            self.handle.write("[")

    def write(self, batch: pa.RecordBatch) -> None:
        out = []
        for record in batch.to_pylist():
            text = _dumps(record)
            if self.lines:
                out.append(text + "\n")
            else:
                out.append(("\n" if self.rows == 0 else ",\n") + text)
            self.rows += 1
        self.handle.write("".join(out))

    def close(self) -> None:
        if not self.lines:
            self.handle.write("\n]\n" if self.rows else "]\n")
        self.handle.close()


class ParquetWriter(Writer):
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.writer = pq.ParquetWriter(str(path), schema, compression="snappy")

    def write(self, batch: pa.RecordBatch) -> None:
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        self.writer.close()


def _excel_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = _dumps(value)
    elif isinstance(value, dt.datetime) and value.tzinfo is not None:
        # Excel has no time zones: store UTC wall time.
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    elif isinstance(value, decimal.Decimal | bytes):
        value = _json_default(value)
    elif isinstance(value, dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, str) and len(value) > conf.XLSX_MAX_CELL_CHARS:
        raise ConversionError(
            f"A value of {len(value)} characters is over Excel's {conf.XLSX_MAX_CELL_CHARS} per cell."
        )
    return value


class XlsxWriter(Writer):
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        if len(schema) > conf.XLSX_MAX_COLUMNS:
            raise ConversionError(f"{len(schema)} columns is over Excel's limit of {conf.XLSX_MAX_COLUMNS}.")
        self.path = path
        # write_only streams rows to a temporary file instead of keeping
        # every cell object in memory.
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet("Sheet1")
        self.sheet.append(list(schema.names))

    def write(self, batch: pa.RecordBatch) -> None:
        if self.rows + batch.num_rows + 1 > conf.XLSX_MAX_ROWS:
            raise ConversionError(
                f"More than {conf.XLSX_MAX_ROWS - 1:,} data rows: "
                f"over Excel's limit of {conf.XLSX_MAX_ROWS:,} rows per sheet."
            )
        columns = [column.to_pylist() for column in batch.columns]
        try:
            for row in zip(*columns, strict=True):
                self.sheet.append([_excel_value(value) for value in row])
        except IllegalCharacterError:
            raise ConversionError("A value holds control characters that Excel cannot store.") from None
        self.rows += batch.num_rows

    def close(self) -> None:
        self.workbook.save(self.path)


def open_writer(path: Path, fmt: str, schema: pa.Schema) -> Writer:
    if fmt == "csv":
        return CsvWriter(path, schema)
    if fmt in ("json", "jsonl"):
        return JsonWriter(path, schema, lines=fmt == "jsonl")
    if fmt == "parquet":
        return ParquetWriter(path, schema)
    if fmt == "xlsx":
        return XlsxWriter(path, schema)
    raise ConversionError(f"Unsupported target format {fmt!r}.")

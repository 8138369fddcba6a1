"""Readers: a source file as a stream of pyarrow RecordBatches.

CSV is read by pyarrow's streaming reader with every column as a string, so
that nothing is reinterpreted (large integers, leading zeros, "1.10"), and
with unquoted empty cells as null but quoted "" as an empty string, so a
round trip through Parquet keeps that difference. JSON and Excel are read
twice: once to learn the columns and their types, once to convert; each pass
holds one batch.
"""

import csv as pycsv
import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from files.conversions import conf
from files.conversions.errors import ConversionError
from files.previews.delimited import sniff_dialect
from files.previews.encoding import detect_encoding, looks_binary, read_sample
from files.previews.excel import open_xls, xls_cell_value
from files.previews.jsonstream import JsonRecords, JsonStreamError

_INT64 = (-(2**63), 2**63 - 1)


class Reader:
    """Iterate for batches; `done`/`total` report progress in any unit."""

    schema: pa.Schema
    total_rows: int | None = None
    done: int = 0
    total: int = 1

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def count_rows(self, *, stop_after: int, progress: Callable[[int, int], None] | None = None) -> int:
        """The number of data rows, read now if it is not known yet."""
        if self.total_rows is None:
            raise NotImplementedError
        return self.total_rows


class CsvReader(Reader):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._size = max(path.stat().st_size, 1)
        self.total = self._size
        self._offset = 0  # progress already made by a counting pass
        sample = read_sample(path, 256 * 1024)
        if looks_binary(sample):
            raise ConversionError("This file is binary, not CSV text.")
        encoding = detect_encoding(sample)
        dialect = sniff_dialect(sample.decode(encoding, errors="ignore"))
        # Arrow skips a UTF-8 BOM itself and transcodes anything else.
        self.encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
        self.parse = pacsv.ParseOptions(
            delimiter=dialect.delimiter,
            quote_char=dialect.quotechar or '"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
        )
        names = self._header_names(encoding, dialect)
        # Our own names and skip_rows=1: Arrow then reads every column as a
        # string instead of guessing types from the first block.
        # use_threads=False: Arrow's parallel block parsing held more blocks
        # in flight on an idle machine (peak 255-278 MiB at 1 GiB, over the
        # 256 MiB budget); single-threaded it stays near 222 MiB and is still
        # faster than pyarrow's read_csv (docs/BENCHMARKS-PROCESSING.md).
        self.read_options = pacsv.ReadOptions(
            block_size=conf.CSV_BLOCK_BYTES,
            encoding=self.encoding,
            column_names=names,
            skip_rows=1,
            use_threads=False,
        )
        self.convert = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
            auto_dict_encode=False,
        )
        self.schema = pa.schema([pa.field(name, pa.string()) for name in names])

    def _header_names(self, encoding: str, dialect) -> list[str]:
        previous = pycsv.field_size_limit(conf.CSV_BLOCK_BYTES)
        try:
            with open(self.path, encoding=encoding, errors="replace", newline="") as handle:
                header = next(pycsv.reader(handle, dialect), None)
        except pycsv.Error as exc:
            raise ConversionError(f"Malformed CSV header: {exc}") from None
        finally:
            pycsv.field_size_limit(previous)
        if not header:
            raise ConversionError("The CSV file has no header row.")
        if len(set(header)) != len(header):
            raise ConversionError("The CSV header has duplicate column names.")
        return header

    def count_rows(self, *, stop_after: int, progress: Callable[[int, int], None] | None = None) -> int:
        """Counts the data rows in a first pass (for a target that must know
        them before writing), stopping as soon as there are more than
        `stop_after` (then `total_rows` stays None: the count is only a
        lower bound). Only the first column is converted; the file still
        goes through the same parser, so a malformed CSV fails here too.
        Progress then covers two passes."""
        self.total, self._offset = 2 * self._size, self._size
        rows = 0
        first_only = pacsv.ConvertOptions(
            column_types={self.schema.names[0]: pa.string()},
            include_columns=[self.schema.names[0]],
            strings_can_be_null=True,
        )
        with closing(self._batches(first_only, offset=0)) as batches:
            for batch in batches:
                rows += batch.num_rows
                if progress is not None:
                    progress(self.done, self.total)
                if rows > stop_after:
                    return rows  # a lower bound: total_rows stays unknown
        self.total_rows = rows
        return rows

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        yield from self._batches(self.convert, offset=self._offset)
        self.done = self.total

    def _batches(self, convert: pacsv.ConvertOptions, *, offset: int) -> Iterator[pa.RecordBatch]:
        source = PacedFile(self.path, ahead=conf.CSV_BLOCKS_AHEAD)
        try:
            reader = pacsv.open_csv(
                pa.PythonFile(source, mode="r"),
                read_options=self.read_options,
                parse_options=self.parse,
                convert_options=convert,
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                source.consumed()
                # The reader reads a few blocks ahead: approximate, but honest.
                self.done = offset + min(source.position, self._size)
                yield batch
        except pa.ArrowInvalid as exc:
            raise ConversionError(f"Malformed CSV: {exc}") from None
        finally:
            source.close()


MIN_BLOCKS_AHEAD = 3


class PacedFile:
    """A file that lets pyarrow's CSV reader run only `ahead` blocks ahead.

    pyarrow's streaming CSV reader prefetches up to 32 blocks in a background
    thread, so memory grew with the block size and the file. Each read here
    is one block; it waits while `ahead` blocks have been read but not yet
    consumed as batches, which bounds memory to a few blocks.
    """

    def __init__(self, path: Path, *, ahead: int) -> None:
        self.handle = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        # A batch may need the next block to finish its last row, and a
        # non-UTF-8 file is transcoded by Arrow a block ahead of that: with
        # fewer than 3 the reader waits for a read that waits for it.
        self.ahead = max(ahead, MIN_BLOCKS_AHEAD)
        self.reads = 0
        self.used = 0
        self.position = 0
        self.closed = False
        self.condition = threading.Condition()

    def read(self, size: int = -1) -> bytes:
        with self.condition:
            self.condition.wait_for(lambda: self.reads - self.used < self.ahead or self.closed)
            if self.closed:
                return b""
            self.reads += 1
        data = self.handle.read(size)
        self.position += len(data)
        return data

    def consumed(self) -> None:
        with self.condition:
            self.used += 1
            self.condition.notify_all()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.position

    def close(self) -> None:
        with self.condition:
            self.closed = True
            self.condition.notify_all()
        self.handle.close()


class ParquetReader(Reader):
    def __init__(self, path: Path) -> None:
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise ConversionError(f"Not a readable Parquet file: {exc}") from None
        self.schema = self.file.schema_arrow
        self.total_rows = self.file.metadata.num_rows
        self.total = max(self.total_rows, 1)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            with self.file:
                for batch in self.file.iter_batches(batch_size=conf.BATCH_ROWS):
                    self.done += batch.num_rows
                    yield batch
        except (pa.ArrowException, OSError) as exc:
            raise ConversionError(f"Not a readable Parquet file: {exc}") from None


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64[0] <= value <= _INT64[1] else "bigint"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "datetime_tz" if value.tzinfo else "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, str):
        return "str"
    return "json"


def _arrow_type(kinds: set[str]) -> tuple[pa.DataType, Callable[[Any], Any] | None]:
    """A column type exact for every value seen, and how to convert a value."""
    single = {
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "datetime": pa.timestamp("us"),
        "datetime_tz": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "str": pa.string(),
    }
    if not kinds:
        return pa.string(), None
    if len(kinds) == 1 and next(iter(kinds)) in single:
        return single[next(iter(kinds))], None
    if kinds == {"int", "float"}:
        return pa.float64(), None
    # Mixed or nested values: keep them as text (JSON for structures), which
    # loses no information and never fails half-way.
    return pa.string(), _as_text


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


RowSource = Callable[[], tuple[list[str], Iterator[list[Any] | dict[str, Any]]]]


class RowsReader(Reader):
    """Rows of Python values (JSON records, Excel rows), read in two passes.

    `open_rows` returns a header and an iterator of rows, each a list
    (positional, under the header) or a dict (JSON objects, whose keys become
    columns in first-seen order). `position` reports (done, total).
    """

    def __init__(self, open_rows: RowSource, position: Callable[[], tuple[int, int]]) -> None:
        self.open_rows = open_rows
        self.position = position
        header, rows = open_rows()
        index = {name: i for i, name in enumerate(header)}
        names = list(header)
        kinds: list[set[str]] = [set() for _ in names]
        count = 0
        with closing(rows):
            for row in rows:
                count += 1
                items = row.items() if isinstance(row, dict) else enumerate(row)
                for key, value in items:
                    if isinstance(row, dict):
                        if key not in index:
                            index[key] = len(names)
                            names.append(key)
                            kinds.append(set())
                        slot = index[key]
                    else:
                        slot = key
                        while slot >= len(names):
                            # A row wider than the header gets generated names.
                            names.append(f"column_{len(names) + 1}")
                            kinds.append(set())
                    kind = _kind(value)
                    if kind:
                        kinds[slot].add(kind)
                if count % 1000 == 0:
                    self._report(0)
        self.names = names
        self.types = [_arrow_type(k) for k in kinds]
        self.schema = pa.schema([pa.field(name, kind) for name, (kind, _) in zip(names, self.types, strict=True)])
        self.total_rows = count

    def _report(self, half: int) -> None:
        done, total = self.position()
        self.total = max(total, 1) * 2
        self.done = half * self.total // 2 + done

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        _, rows = self.open_rows()
        with closing(rows):
            while True:
                chunk = list(itertools.islice(rows, conf.BATCH_ROWS))
                if not chunk:
                    break
                yield self._batch(chunk)
                self._report(1)
        self.done = self.total

    def _batch(self, chunk: list[list[Any] | dict[str, Any]]) -> pa.RecordBatch:
        arrays = []
        for index, (name, (kind, to_value)) in enumerate(zip(self.names, self.types, strict=True)):
            if chunk and isinstance(chunk[0], dict):
                values = [row.get(name) for row in chunk]
            else:
                values = [row[index] if index < len(row) else None for row in chunk]
            if to_value is not None:
                values = [to_value(value) for value in values]
            elif kind == pa.timestamp("us", tz="UTC"):
                values = [value.astimezone(dt.UTC) if value else None for value in values]
            arrays.append(pa.array(values, type=kind))
        if not arrays:
            return pa.RecordBatch.from_pydict({}, schema=self.schema)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def json_reader(path: Path) -> Reader:
    encoding = detect_encoding(read_sample(path, 64 * 1024))
    size = max(path.stat().st_size, 1)
    state: dict[str, JsonRecords] = {}

    def open_rows() -> tuple[list[str], Iterator[dict[str, Any]]]:
        records = JsonRecords(path, encoding=encoding, max_record=conf.MAX_RECORD_BYTES)
        state["records"] = records

        def rows() -> Iterator[dict[str, Any]]:
            try:
                for record in records:
                    yield record if isinstance(record, dict) else {"value": record}
            except JsonStreamError as exc:
                raise ConversionError(str(exc)) from None

        return [], rows()

    return RowsReader(open_rows, lambda: (state["records"].bytes_read, size))


def xlsx_reader(path: Path, sheet: str | None = None) -> Reader:
    state = {"done": 0, "total": 1}

    def open_rows() -> tuple[list[str], Iterator[list[Any]]]:
        # A file object, not the path: openpyxl refuses paths without .xlsx.
        handle = open(path, "rb")  # noqa: SIM115 - closed with the workbook in close()
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for broken zips/XML.
            handle.close()
            raise ConversionError(f"Not a readable Excel workbook: {exc}") from None

        def close() -> None:
            workbook.close()
            handle.close()

        name = sheet or (workbook.sheetnames[0] if workbook.sheetnames else None)
        if name not in workbook.sheetnames:
            close()
            raise ConversionError(f"No sheet named {name!r}.")
        ws = workbook[name]
        state["done"], state["total"] = 0, max(ws.max_row or 1, 1)
        rows = ws.iter_rows(values_only=True)

        def body() -> Iterator[list[Any]]:
            try:
                for row in rows:
                    state["done"] += 1
                    yield list(row)
            except Exception as exc:  # A broken sheet XML part surfaces here.
                raise ConversionError(f"Not a readable Excel workbook: {exc}") from None
            finally:
                close()

        try:
            header = next(rows, None) or ()
        except Exception as exc:
            close()
            raise ConversionError(f"Not a readable Excel workbook: {exc}") from None
        return ["" if value is None else str(value) for value in header], body()

    return RowsReader(open_rows, lambda: (state["done"], state["total"]))


def xls_reader(path: Path, sheet: str | None = None) -> Reader:
    state = {"done": 0, "total": 1}

    def open_rows() -> tuple[list[str], Iterator[list[Any]]]:
        try:
            book = open_xls(path)
        except Exception as exc:  # xlrd raises many types for broken files.
            raise ConversionError(f"Not a readable .xls workbook: {exc}") from None
        try:
            ws = book.sheet_by_name(sheet) if sheet else book.sheet_by_index(0)
        except Exception as exc:
            book.release_resources()
            if sheet and sheet not in book.sheet_names():
                raise ConversionError(f"No sheet named {sheet!r}.") from None
            raise ConversionError(f"Not a readable .xls workbook: {exc}") from None
        state["total"] = max(ws.nrows, 1)
        first = [xls_cell_value(cell, book.datemode) for cell in ws.row(0)] if ws.nrows else []
        header = ["" if value is None else str(value) for value in first]

        def body() -> Iterator[list[Any]]:
            try:
                for index in range(1, ws.nrows):
                    state["done"] = index
                    yield [xls_cell_value(cell, book.datemode) for cell in ws.row(index)]
            finally:
                book.release_resources()

        return header, body()

    return RowsReader(open_rows, lambda: (state["done"], state["total"]))


def open_reader(path: Path, fmt: str, *, sheet: str | None = None) -> Reader:
    path = Path(path)
    if fmt == "csv":
        return CsvReader(path)
    if fmt == "parquet":
        return ParquetReader(path)
    if fmt in ("json", "jsonl"):
        return json_reader(path)
    if fmt == "xlsx":
        return xlsx_reader(path, sheet)
    if fmt == "xls":
        return xls_reader(path, sheet)
    raise ConversionError(f"Files of this type ({fmt or 'unknown'}) cannot be converted.")

"""CSV: encoding, dialect, header, and a consistent column count on every
row — streamed row by row, so any size validates in bounded memory."""

import codecs
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from files import conf
from files.validation.report import CheckFailed
from files.validation.textcheck import detect_encoding, sample

_SNIFF_CHARS = 16 * 1024


def _dialect(text_sample: str, extension: str) -> type[csv.Dialect] | csv.Dialect:
    if extension == "tsv":
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(text_sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _decode_error_line(path: Path, encoding: str) -> int:
    """The physical line of the first undecodable byte. The fast path decodes
    in large blocks and cannot tell; this rare path re-reads to find out."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return line + block[: exc.start].count(b"\n")
            line += block.count(b"\n")
    return line


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


@contextmanager
def _field_size_limit(limit: int) -> Iterator[None]:
    """The csv module's limit is process-wide; set it for this check only."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _bounded_lines(handle, limit: int) -> Iterator[str]:
    """The file's physical lines, refusing one longer than `limit` characters
    before it is read whole (iterating the file would build any line, however
    long, in memory before the csv module could refuse its field)."""
    line_number = 0
    while line := handle.readline(limit + 1):
        line_number += 1
        if len(line) > limit and not line.endswith(("\n", "\r")):
            raise CheckFailed(
                f"malformed CSV: line {line_number} is longer than the {limit}-character limit",
                line=line_number,
            )
        yield line


def check_csv(path: Path, *, extension: str = "csv") -> dict[str, Any]:
    head = sample(path)
    encoding = detect_encoding(head)
    # The sniffer's regular expressions cost seconds on the whole 64 KiB
    # sample; its first 16 KiB of whole lines tell the dialect as well.
    text_sample = head.decode(encoding, errors="ignore")[:_SNIFF_CHARS]
    # Sniff on whole lines only, so a row cut at the sample's end does not confuse it.
    if "\n" in text_sample:
        text_sample = text_sample[: text_sample.rindex("\n") + 1]
    dialect = _dialect(text_sample, extension)

    problems: list[dict[str, Any]] = []
    rows = 0
    columns = 0
    with (
        _field_size_limit(conf.CSV_MAX_FIELD_SIZE),
        open(path, encoding=encoding, newline="", errors="strict") as handle,
    ):
        reader = csv.reader(_bounded_lines(handle, conf.CSV_MAX_LINE_SIZE), dialect)
        try:
            header = next(reader, None)
            if not header or not any(field.strip() for field in header):
                raise CheckFailed("the file has no header row")
            if any(not field.strip() for field in header):
                raise CheckFailed("the header row has an empty column name", row=1)
            if all(_looks_numeric(field) for field in header):
                raise CheckFailed("the first row is all numbers; a header row is required", row=1)
            columns = len(header)
            for row in reader:
                if not row:
                    continue  # blank lines are not rows
                rows += 1
                if len(row) != columns:
                    problems.append(
                        {"row": reader.line_num, "problem": f"{len(row)} columns where the header has {columns}"}
                    )
                    if len(problems) >= conf.CSV_MAX_PROBLEMS:
                        break
        except UnicodeDecodeError as exc:
            line = _decode_error_line(path, encoding)
            raise CheckFailed(f"invalid {encoding} at line {line}: {exc.reason}", line=line) from None
        except csv.Error as exc:
            raise CheckFailed(f"malformed CSV at row {reader.line_num}: {exc}") from None
    facts = {"encoding": encoding, "delimiter": getattr(dialect, "delimiter", ","), "columns": columns, "rows": rows}
    if not problems:
        facts["data_rows"] = rows
    if problems:
        first = problems[0]
        raise CheckFailed(
            f"inconsistent column count, first at row {first['row']}: {first['problem']}", problems=problems, **facts
        )
    return facts


def check_text(path: Path) -> dict[str, Any]:
    encoding = detect_encoding(sample(path))
    lines = 0
    with open(path, encoding=encoding, errors="strict", newline="") as handle:
        try:
            while block := handle.read(1 << 20):
                lines += block.count("\n")
        except UnicodeDecodeError as exc:
            raise CheckFailed(f"invalid {encoding} after line {lines}: {exc.reason}") from None
    return {"encoding": encoding, "lines": lines}

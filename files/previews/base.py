"""What every preview engine returns, and the helpers they share."""

import datetime as dt
import decimal
import re
from dataclasses import dataclass, field
from typing import Any

from files.previews import conf


class PreviewError(Exception):
    """The file cannot be previewed; the message says why, for the client."""


@dataclass
class Preview:
    """A preview as served by `GET files/{id}/preview`.

    `data` is the JSON body (DESIGN.md shape); image previews also carry the
    thumbnail bytes, which are served as the image itself.
    """

    data: dict[str, Any]
    thumbnail: bytes | None = None
    thumbnail_content_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    rows: int
    columns: int
    sheet: str | None = None

    @classmethod
    def make(cls, *, rows: int | None = None, columns: int | None = None, sheet: str | None = None) -> "Limits":
        rows = conf.DEFAULT_ROWS if rows is None else rows
        columns = conf.DEFAULT_COLUMNS if columns is None else columns
        if rows < 0 or columns < 1:
            raise PreviewError("rows must be >= 0 and columns >= 1.")
        return cls(rows=min(rows, conf.MAX_ROWS), columns=min(columns, conf.MAX_COLUMNS), sheet=sheet or None)


_INT = re.compile(r"[+-]?\d+\Z")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\Z")
_BOOL = {"true", "false"}


def _type_of_text(value: str) -> str:
    text = value.strip()
    if _INT.match(text):
        return "integer"
    if _FLOAT.match(text):
        return "float"
    if text.lower() in _BOOL:
        return "boolean"
    if _DATE.match(text):
        return "date"
    if _DATETIME.match(text):
        return "datetime"
    return "string"


def _type_of(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | decimal.Decimal):
        return "float"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return _type_of_text(value)
    return "string"


def infer_type(values: list[Any]) -> str:
    """The narrowest type every non-empty sample value fits, "empty" if none."""
    kinds = {kind for kind in map(_type_of, values) if kind is not None}
    if not kinds:
        return "empty"
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"integer", "float"}:
        return "float"
    if kinds <= {"date", "datetime"}:
        return "datetime"
    return "string"


def _safe_text(text: str) -> str:
    # A lone surrogate is valid in a JSON string but not in UTF-8, so the
    # database would refuse to store it: show it escaped instead.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def cell(value: Any) -> Any:
    """A JSON-safe, bounded rendering of one value."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        if value != value:  # NaN is not JSON.
            return None
        if value in (float("inf"), float("-inf")):  # Nor is infinity (1e999 parses to it).
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, int):
        if value.bit_length() <= 63:
            return value
        # Beyond 64 bits JSON clients lose digits: show it as text, and
        # beyond Python's printable limit only its size.
        try:
            value = str(value)
        except ValueError:
            return f"<integer of {value.bit_length()} bits>"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        value = value.hex()
    if isinstance(value, dict):
        return {_safe_text(str(key)): cell(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cell(item) for item in value]
    text = _safe_text(str(value))
    if len(text) > conf.MAX_CELL_CHARS:
        text = text[: conf.MAX_CELL_CHARS] + "…"
    return text


def data_preview(
    names: list[str], rows: list[list[Any]], *, total_rows: int | None, total_columns: int | None, **extra: Any
) -> Preview:
    """Builds the DESIGN.md data shape from already-limited rows."""
    width = len(names)
    padded = [list(row[:width]) + [None] * (width - len(row)) for row in rows]
    columns = [{"name": name, "type": infer_type([row[index] for row in padded])} for index, name in enumerate(names)]
    data = {
        "kind": "data",
        "columns": columns,
        "rows": [[cell(value) for value in row] for row in padded],
        "total_rows": total_rows,
        "total_columns": total_columns,
        **extra,
    }
    return Preview(data=data)

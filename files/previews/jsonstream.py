"""Stream the records of a JSON document or a JSON Lines file.

A top-level array yields its elements one by one; anything else is read as
a sequence of JSON values separated by whitespace, which covers one object,
JSON Lines and concatenated JSON. Only one record (at most `max_record`
characters) is ever held in memory, so a multi-GB array previews and
converts in bounded memory.
"""

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_WS = " \t\r\n"


def _parse_int(text: str) -> int | str:
    # Python refuses to convert integers of more than 4,300 digits (a guard
    # against quadratic time); a preview shows such a number by its size.
    if len(text) > 4000:
        return f"<integer of {len(text.lstrip('-'))} digits>"
    return int(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int)


_NUMBER_TAIL = frozenset("0123456789.eE+-")


def _complete(obj: Any, buf: str, end: int) -> bool:
    if end >= len(buf):
        return False
    if isinstance(obj, int | float) and not isinstance(obj, bool):
        return buf[end] not in _NUMBER_TAIL
    return True


class JsonStreamError(ValueError):
    pass


class JsonRecords:
    """Iterates the records of `path`; `bytes_read` tracks progress."""

    def __init__(self, path: Path, *, encoding: str = "utf-8", max_record: int, chunk: int = 256 * 1024) -> None:
        self.path = path
        self.encoding = encoding
        self.max_record = max_record
        self.chunk = chunk
        self.bytes_read = 0
        self.is_array = False

    def __iter__(self) -> Iterator[Any]:
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        with open(self.path, "rb") as handle:
            buf = ""
            pos = 0
            eof = False

            def more() -> bool:
                nonlocal buf, pos, eof
                if eof:
                    return False
                block = handle.read(self.chunk)
                self.bytes_read += len(block)
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    raise JsonStreamError(
                        f"Not valid {self.encoding} text near byte {self.bytes_read}: {exc.reason}."
                    ) from None
                buf = buf[pos:] + text
                pos = 0
                eof = not block
                return True

            def skip_ws() -> str:
                """The next non-blank character ("" at the end of input)."""
                nonlocal pos
                while True:
                    while pos < len(buf) and buf[pos] in _WS:
                        pos += 1
                    if pos < len(buf):
                        return buf[pos]
                    if not more():
                        return ""

            def value() -> Any:
                nonlocal pos
                while True:
                    try:
                        obj, end = _DECODER.raw_decode(buf, pos)
                    except json.JSONDecodeError as exc:
                        if eof:
                            raise JsonStreamError(
                                f"Invalid JSON: {exc.msg} (record starting near byte {self._offset(buf, pos)})."
                            ) from None
                        obj, end = None, None
                    # A value that touches the end of the buffer may be a
                    # literal cut in half, and a number may go on in the next
                    # chunk ("15" + ".5"): read on and parse again.
                    if end is not None and (eof or _complete(obj, buf, end)):
                        pos = end
                        return obj
                    if len(buf) - pos > self.max_record:
                        raise JsonStreamError(f"A JSON record is larger than {self.max_record} characters.")
                    more()

            first = skip_ws()
            if first == "":
                return
            if first == "[":
                self.is_array = True
                pos += 1
                if skip_ws() == "]":
                    pos += 1
                else:
                    while True:
                        skip_ws()
                        yield value()
                        sep = skip_ws()
                        pos += 1
                        if sep == "]":
                            break
                        if sep != ",":
                            raise JsonStreamError(
                                f"Invalid JSON: expected ',' or ']' in the top-level array, got {sep!r}."
                            )
                if skip_ws() != "":
                    raise JsonStreamError("Invalid JSON: extra data after the top-level array.")
                return
            while skip_ws() != "":
                yield value()

    def _offset(self, buf: str, pos: int) -> int:
        return max(0, self.bytes_read - len(buf[pos:].encode(self.encoding, errors="replace")))


def records_to_rows(records: list[Any]) -> tuple[list[str], list[list[Any]]]:
    """Column names (keys in first-seen order) and rows for a batch of records."""
    names: dict[str, None] = {}
    for record in records:
        if isinstance(record, dict):
            names.update(dict.fromkeys(record))
        else:
            names["value"] = None
    columns = list(names)
    rows = [
        [record.get(name) for name in columns]
        if isinstance(record, dict)
        else [record if n == "value" else None for n in columns]
        for record in records
    ]
    return columns, rows

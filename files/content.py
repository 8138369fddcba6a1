"""Which bytes of a file to send: ?offset=&length= and a single HTTP Range."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from aggregator.exceptions import DomainError, InvalidInput

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(DomainError):
    status_code = 416


@dataclass(frozen=True)
class Slice:
    start: int
    length: int
    partial: bool  # answer 206 with Content-Range

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.start + self.length - 1}/{size}"


def _non_negative(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise InvalidInput(f"{name} must be a non-negative integer.")
    return int(value)


def resolve(size: int, *, range_header: str | None, offset: str | None, length: str | None) -> Slice:
    start = _non_negative(offset, "offset")
    count = _non_negative(length, "length")
    if start is not None or count is not None:
        start = start or 0
        if start > size:
            raise InvalidInput(f"offset {start} is beyond the end of the file ({size} bytes).")
        available = size - start
        return Slice(start, available if count is None else min(count, available), partial=False)
    match = _RANGE.match((range_header or "").strip())
    if not match or (not match.group(1) and not match.group(2)):
        # No Range, or one we do not support (several ranges): the whole file.
        return Slice(0, size, partial=False)
    first, last = match.group(1), match.group(2)
    if first:
        begin = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if begin >= size or (last and int(last) < begin):
            raise RangeNotSatisfiable(f"Range {range_header} is outside the file ({size} bytes).", size=size)
    else:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"Range {range_header} is outside the file ({size} bytes).", size=size)
        begin, end = max(0, size - suffix), size - 1
    return Slice(begin, end - begin + 1, partial=True)


def iter_slice(stream: BinaryIO, piece: Slice, block_size: int = 1 << 20) -> Iterator[bytes]:
    try:
        stream.seek(piece.start)
        remaining = piece.length
        while remaining > 0:
            block = stream.read(min(block_size, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        stream.close()

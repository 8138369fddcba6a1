"""JSON: syntax and structure checked by a streaming tokenizer, so a
multi-GB document validates in bounded memory and a deeply nested one is
refused before anything recurses. JSON Lines are checked line by line.
"""

import codecs
import json
import re
from pathlib import Path
from typing import Any

from files import conf
from files.validation.report import CheckFailed

_TOKEN = re.compile(
    rb"[ \t\n\r]*(?:"
    rb"(?P<p>[{}\[\],:])"
    rb'|(?P<s>"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")'
    rb"|(?P<n>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    rb"|(?P<l>true|false|null))"
)
# What may still follow a number's match: `12.` or `1e+` at the end of a
# block matches as `12` or `1`, but the number goes on in the next block.
_NUMBER_TAIL = re.compile(rb"[0-9.eE+-]*")
_MAX_TOKEN = 64 * 1024 * 1024
_BLOCK = 1 << 20

# Parser states.
_VALUE, _FIRST_VALUE_OR_END, _COMMA_OR_END, _FIRST_KEY_OR_END, _KEY, _COLON, _DONE = range(7)


class _Scanner:
    def __init__(self) -> None:
        self.stack: list[bytes] = []  # b"[" or b"{"
        self.state = _VALUE
        self.max_depth = 0
        self.top_array = False
        self.top_items = 0  # values directly inside a top-level array

    def _after_value(self) -> None:
        if len(self.stack) == 1 and self.top_array:
            self.top_items += 1
        self.state = _COMMA_OR_END if self.stack else _DONE

    @property
    def records(self) -> int:
        """Rows a conversion makes: one per element of a top-level array,
        otherwise the one document."""
        return self.top_items if self.top_array else 1

    def feed(self, kind: str, text: bytes, at: int) -> None:
        state = self.state
        if state == _DONE:
            raise CheckFailed(f"unexpected data after the end of the document at byte {at}")
        if kind == "p":
            if text in b"[{":
                if state not in (_VALUE, _FIRST_VALUE_OR_END):
                    raise CheckFailed(f"unexpected {text.decode()!r} at byte {at}")
                if not self.stack:
                    self.top_array = text == b"["
                self.stack.append(text)
                self.max_depth = max(self.max_depth, len(self.stack))
                if len(self.stack) > conf.JSON_MAX_DEPTH:
                    raise CheckFailed(f"nested deeper than {conf.JSON_MAX_DEPTH} levels at byte {at}")
                self.state = _FIRST_VALUE_OR_END if text == b"[" else _FIRST_KEY_OR_END
            elif text in b"]}":
                opener = b"[" if text == b"]" else b"{"
                allowed = (_FIRST_VALUE_OR_END, _COMMA_OR_END) if text == b"]" else (_FIRST_KEY_OR_END, _COMMA_OR_END)
                if not self.stack or self.stack[-1] != opener or state not in allowed:
                    raise CheckFailed(f"unexpected {text.decode()!r} at byte {at}")
                self.stack.pop()
                self._after_value()
            elif text == b",":
                if state != _COMMA_OR_END:
                    raise CheckFailed(f"unexpected ',' at byte {at}")
                self.state = _KEY if self.stack[-1] == b"{" else _VALUE
            else:  # ":"
                if state != _COLON:
                    raise CheckFailed(f"unexpected ':' at byte {at}")
                self.state = _VALUE
            return
        if kind == "s" and state in (_KEY, _FIRST_KEY_OR_END):
            self.state = _COLON
            return
        if state not in (_VALUE, _FIRST_VALUE_OR_END):
            raise CheckFailed(f"unexpected value at byte {at}")
        self._after_value()


def _check_document(path: Path) -> dict[str, Any]:
    scanner = _Scanner()
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0  # bytes before `buffer`
    tokens = 0
    with open(path, "rb") as handle:

        def read() -> bytes:
            block = handle.read(_BLOCK)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError:
                raise CheckFailed(f"invalid UTF-8 in the block after byte {handle.tell() - len(block)}") from None
            return block

        buffer = read()
        if buffer.startswith(codecs.BOM_UTF8):
            buffer = buffer[3:]
            consumed = 3
        eof = False
        pos = 0
        while True:
            match = _TOKEN.match(buffer, pos)
            # A token touching the end of the buffer may continue in the next
            # block; so may a number followed only by what could continue it.
            if not eof and (
                match is None
                or match.end() == len(buffer)
                or (match.lastgroup == "n" and _NUMBER_TAIL.fullmatch(buffer, match.end()))
            ):
                block = read()
                if not block:
                    eof = True
                if len(buffer) - pos > _MAX_TOKEN:
                    raise CheckFailed(f"a single value is longer than {_MAX_TOKEN} bytes at byte {consumed + pos}")
                consumed += pos
                buffer = buffer[pos:] + block
                pos = 0
                continue
            if match is None:
                rest = buffer[pos:]
                if rest.strip(b" \t\n\r"):
                    at = consumed + pos + len(rest) - len(rest.lstrip(b" \t\n\r"))
                    raise CheckFailed(f"invalid JSON at byte {at}")
                break
            kind = match.lastgroup
            scanner.feed(kind, match.group(kind), consumed + match.start(kind))
            tokens += 1
            pos = match.end()
    if scanner.state != _DONE:
        raise CheckFailed("the JSON document is empty or ends before it is complete")
    return {"max_depth": scanner.max_depth, "tokens": tokens, "data_rows": scanner.records}


def _check_lines(path: Path) -> dict[str, Any]:
    records = 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if len(line) > _MAX_TOKEN:
                raise CheckFailed(f"line {number} is longer than {_MAX_TOKEN} bytes")
            try:
                value = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise CheckFailed(f"invalid JSON on line {number}: {str(exc)[:200]}", line=number) from None
            del value
            records += 1
    if not records:
        raise CheckFailed("the file holds no JSON records")
    return {"records": records, "data_rows": records}


def check_json(path: Path, *, extension: str) -> dict[str, Any]:
    if extension in ("jsonl", "ndjson"):
        return _check_lines(path)
    return _check_document(path)

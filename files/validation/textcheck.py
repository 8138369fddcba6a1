"""Character encoding of text files, decided from a sample."""

import codecs
import re
from pathlib import Path

from charset_normalizer import from_bytes

from files import conf
from files.validation.report import CheckFailed

# A well-formed multi-byte UTF-8 sequence.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def sample(path: Path, size: int | None = None) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size or conf.CSV_SAMPLE_BYTES)


def detect_encoding(head: bytes) -> str:
    """UTF-8 when the sample is UTF-8; a detected legacy encoding when it holds
    no UTF-8 at all; a failure when it is UTF-8 with broken sequences."""
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CheckFailed("content is binary (it contains NUL bytes), not text")
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the sample's end is fine
        return "utf-8"
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    if _UTF8_MULTIBYTE.search(head):
        line = head[:bad_at].count(b"\n") + 1
        raise CheckFailed(f"invalid UTF-8 at line {line} (byte {bad_at})", line=line)
    best = from_bytes(head).best()
    if best is None:
        raise CheckFailed("text encoding could not be detected")
    return best.encoding

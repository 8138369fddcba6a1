"""Encoding detection on a sample of the head of a file.

UTF-8 (with or without BOM) is tried first because it is by far the most
common and a strict decode proves it; charset-normalizer only guesses when
that fails. The sample may cut a multi-byte character in half, so a trailing
partial sequence is tolerated.
"""

import codecs
from pathlib import Path

from charset_normalizer import from_bytes

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


def read_sample(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def _decodes(sample: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes) -> str:
    """The Python codec name that decodes `sample` (a file's first bytes)."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if _decodes(sample, "utf-8"):
        return "utf-8"
    best = from_bytes(sample[: 256 * 1024]).best()
    if best is not None and _decodes(sample, best.encoding):
        return best.encoding
    # Latin-1 decodes any byte string; it is the honest last resort.
    return "latin-1"


def looks_binary(sample: bytes) -> bool:
    """NUL bytes outside UTF-16/32 mean this is not text."""
    if any(sample.startswith(bom) for bom, _ in _BOMS):
        return False
    return b"\x00" in sample

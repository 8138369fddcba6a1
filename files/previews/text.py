"""Text preview: the head of the file, decoded with its detected encoding."""

from pathlib import Path

from files.previews import conf
from files.previews.base import Limits, Preview, PreviewError
from files.previews.encoding import detect_encoding, looks_binary, read_sample


def preview_text(path: Path, limits: Limits) -> Preview:
    sample = read_sample(path, max(conf.SAMPLE_BYTES, conf.TEXT_BYTES))
    if looks_binary(sample):
        raise PreviewError("This file is binary; there is no text preview.")
    encoding = detect_encoding(sample)
    head = sample[: conf.TEXT_BYTES]
    text = head.decode(encoding, errors="ignore")
    lines = text.splitlines()
    truncated = len(sample) > len(head) or len(lines) > limits.rows
    if len(head) < len(sample) and lines:
        # The byte cut may fall mid-line: drop the partial last line.
        lines = lines[:-1] or lines
    lines = lines[: limits.rows]
    if encoding == "utf-8-sig" or (lines and lines[0].startswith("\ufeff")):
        lines[0] = lines[0].lstrip("\ufeff")
    return Preview(
        data={
            "kind": "text",
            "columns": [],
            "rows": [],
            "total_rows": None,
            "encoding": encoding,
            "text": "\n".join(lines),
            "lines": len(lines),
            "truncated": truncated,
        }
    )

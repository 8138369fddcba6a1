"""CSV preview: sniff the dialect on a sample, then read only the rows asked for."""

import csv
import io
from pathlib import Path

from files.previews import conf
from files.previews.base import Limits, Preview, PreviewError, data_preview
from files.previews.encoding import detect_encoding, looks_binary, read_sample

_DELIMITERS = ",;\t|"


def sniff_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The sample's dialect; plain excel-comma when sniffing is inconclusive."""
    # Sniff on whole lines only: a sample cut mid-line confuses the sniffer.
    cut = text.rfind("\n")
    sample = text[: cut + 1] if cut > 0 else text
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel
    # The sniffer sometimes guesses a quote as escape char or no quoting at
    # all; CSV files from the wild use RFC 4180 double-quote escaping.
    dialect.doublequote = True
    dialect.escapechar = None
    dialect.quotechar = dialect.quotechar or '"'
    dialect.quoting = csv.QUOTE_MINIMAL
    return dialect


def preview_csv(path: Path, limits: Limits) -> Preview:
    sample = read_sample(path, conf.SAMPLE_BYTES)
    if looks_binary(sample):
        raise PreviewError("This file is binary, not CSV text.")
    encoding = detect_encoding(sample)
    dialect = sniff_dialect(sample.decode(encoding, errors="ignore"))
    # csv's field limit bounds what one (possibly unterminated) quoted field may
    # pull into memory; TextIOWrapper only reads as far as the rows we take.
    previous_limit = csv.field_size_limit(conf.MAX_RECORD_BYTES)
    try:
        with open(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
            reader = csv.reader(text, dialect)
            try:
                header = next(reader, None)
                if header is None:
                    return data_preview([], [], total_rows=0, total_columns=0, encoding=encoding)
                rows = []
                for row in reader:
                    if len(rows) >= limits.rows:
                        break
                    rows.append(row[: limits.columns])
            except csv.Error as exc:
                raise PreviewError(f"Malformed CSV near line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(previous_limit)
    delimiter = dialect.delimiter
    return data_preview(
        header[: limits.columns],
        rows,
        total_rows=None,
        total_columns=len(header),
        encoding=encoding,
        delimiter=delimiter,
    )

"""JSON and JSON Lines preview: the first records, as rows."""

import itertools
from contextlib import closing
from pathlib import Path

from files.previews import conf
from files.previews.base import Limits, Preview, PreviewError, data_preview
from files.previews.encoding import detect_encoding, read_sample
from files.previews.jsonstream import JsonRecords, JsonStreamError, records_to_rows


def preview_json(path: Path, limits: Limits) -> Preview:
    encoding = detect_encoding(read_sample(path, conf.SAMPLE_BYTES))
    reader = JsonRecords(path, encoding=encoding, max_record=conf.MAX_RECORD_BYTES)
    records_iter = iter(reader)
    try:
        with closing(records_iter):
            records = list(itertools.islice(records_iter, limits.rows))
    except JsonStreamError as exc:
        raise PreviewError(str(exc)) from None
    names, rows = records_to_rows(records)
    return data_preview(
        names[: limits.columns],
        [row[: limits.columns] for row in rows],
        total_rows=None,
        total_columns=None,
        format="json" if reader.is_array else "jsonl",
        encoding=encoding,
    )

"""Parquet preview: row count from the footer, rows from the first batch only."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from files.previews.base import Limits, Preview, PreviewError, data_preview


def preview_parquet(path: Path, limits: Limits) -> Preview:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise PreviewError(f"Not a readable Parquet file: {exc}") from None
    with parquet:
        schema = parquet.schema_arrow
        names = schema.names[: limits.columns]
        rows: list[list] = []
        if limits.rows and parquet.metadata.num_rows:
            try:
                # iter_batches decodes row group by row group and stops as
                # soon as we have enough rows: a 5 GB file reads one group.
                for batch in parquet.iter_batches(batch_size=limits.rows, columns=names):
                    rows.extend([record[name] for name in names] for record in batch.to_pylist())
                    if len(rows) >= limits.rows:
                        break
            except (pa.ArrowException, OSError) as exc:
                raise PreviewError(f"Not a readable Parquet file: {exc}") from None
        preview = data_preview(
            names,
            rows[: limits.rows],
            total_rows=parquet.metadata.num_rows,
            total_columns=len(schema.names),
        )
    # Parquet knows its types; report them instead of guessing from values.
    for column in preview.data["columns"]:
        column["type"] = str(schema.field(column["name"]).type)
    return preview

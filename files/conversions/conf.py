"""Conversion tunables, read from the environment once at import."""

from aggregator.env import env_int

# Rows per batch for row-based readers/writers (JSON, Excel, Parquet).
BATCH_ROWS = env_int("FILES_CONVERT_BATCH_ROWS", 10_000, minimum=1)
# pyarrow's CSV block: the memory unit of a CSV read, and the largest
# single row it can parse.
CSV_BLOCK_BYTES = env_int("FILES_CONVERT_CSV_BLOCK_BYTES", 8 * 1024 * 1024, minimum=64 * 1024)
# How many CSV blocks may be read ahead of the batch being converted.
CSV_BLOCKS_AHEAD = env_int("FILES_CONVERT_CSV_BLOCKS_AHEAD", 4, minimum=3)
# A single JSON record bigger than this is refused rather than buffered.
MAX_RECORD_BYTES = env_int("FILES_CONVERT_MAX_RECORD_BYTES", 16 * 1024 * 1024, minimum=1024)
# Excel's own limits (rows include the header row).
XLSX_MAX_ROWS = env_int("FILES_CONVERT_XLSX_MAX_ROWS", 1_048_576, minimum=2)
XLSX_MAX_COLUMNS = 16_384
XLSX_MAX_CELL_CHARS = 32_767
# A RUNNING job whose heartbeat (a progress write) is older than this lost
# its worker; a redelivered task may take it over.
JOB_STALE_SECONDS = env_int("FILES_JOB_STALE_SECONDS", 120, minimum=1)
# How long a redelivered task waits before looking again at a job that
# still seems to be running elsewhere.
JOB_RECHECK_SECONDS = env_int("FILES_JOB_RECHECK_SECONDS", 60, minimum=1)

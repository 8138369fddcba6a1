"""Tunables of the logs half, read from the environment (see docs/LOGS.md).

Read as module attributes (`conf.INGEST_MAX_ITEMS`) at call time, so tests
can monkeypatch them.
"""

from aggregator.env import env_bool, env_float, env_int, env_str

# --- Ingest (POST logs/) -----------------------------------------------------
# Entries per request; more is a 413. The request body itself is bounded by
# DATA_UPLOAD_MAX_MEMORY_SIZE (20 MiB by default).
INGEST_MAX_ITEMS = env_int("LOG_INGEST_MAX_ITEMS", 50_000, minimum=1)
# Rows per INSERT statement.
INGEST_BATCH_SIZE = env_int("LOG_INGEST_BATCH_SIZE", 2_000, minimum=1)
# Longer messages / exception messages / stack traces are cut, with a marker
# saying how much was dropped.
MESSAGE_MAX_CHARS = env_int("LOG_MESSAGE_MAX_CHARS", 16_384, minimum=64)
STACK_TRACE_MAX_CHARS = env_int("LOG_STACK_TRACE_MAX_CHARS", 65_536, minimum=64)
# A larger context (as JSON) is replaced by a marker object with its keys.
CONTEXT_MAX_BYTES = env_int("LOG_CONTEXT_MAX_BYTES", 16_384, minimum=256)

# --- Capture of the platform's own logs ---------------------------------------
CAPTURE_ENABLED = env_bool("LOG_CAPTURE", True)
CAPTURE_LEVEL = env_str("LOG_CAPTURE_LEVEL", "INFO").upper()
# Lines waiting to be written; beyond this they are dropped (and counted).
CAPTURE_QUEUE_SIZE = env_int("LOG_CAPTURE_QUEUE_SIZE", 10_000, minimum=1)
CAPTURE_BATCH_SIZE = env_int("LOG_CAPTURE_BATCH_SIZE", 500, minimum=1)
CAPTURE_FLUSH_SECONDS = env_float("LOG_CAPTURE_FLUSH_SECONDS", 1.0)
CAPTURE_SOURCE = env_str("LOG_CAPTURE_SOURCE", "aggregator")

# --- Reading -------------------------------------------------------------------
SEARCH_MAX_LIMIT = env_int("LOG_SEARCH_MAX_LIMIT", 1_000, minimum=1)
SEARCH_DEFAULT_LIMIT = env_int("LOG_SEARCH_DEFAULT_LIMIT", 50, minimum=1)
# Offsets beyond this are refused (use the cursor): a deep OFFSET reads and
# throws away every row before it.
SEARCH_MAX_OFFSET = env_int("LOG_SEARCH_MAX_OFFSET", 10_000, minimum=0)
# `count` is exact up to this many matches and a lower bound beyond it, so a
# broad search never pays for counting millions of rows.
SEARCH_COUNT_LIMIT = env_int("LOG_SEARCH_COUNT_LIMIT", 10_000, minimum=1)
SEARCH_QUERY_MAX_CHARS = env_int("LOG_SEARCH_QUERY_MAX_CHARS", 500, minimum=1)
STATISTICS_MAX_DAYS = env_int("LOG_STATISTICS_MAX_DAYS", 93, minimum=1)

# --- Archives and retention -------------------------------------------------------
# Lines older than this many days are archived by the nightly job.
ARCHIVE_AFTER_DAYS = env_int("LOG_ARCHIVE_AFTER_DAYS", 30, minimum=0)
# Archives (files and records) are deleted this many days after they are made.
ARCHIVE_RETENTION_DAYS = env_int("LOG_ARCHIVE_RETENTION_DAYS", 365, minimum=1)
# Rows per archive file: also the size of the one transaction that deletes them.
ARCHIVE_ROWS_PER_FILE = env_int("LOG_ARCHIVE_ROWS_PER_FILE", 100_000, minimum=1)
# Rows fetched from the database at a time while writing a file.
ARCHIVE_FETCH_SIZE = env_int("LOG_ARCHIVE_FETCH_SIZE", 5_000, minimum=1)
ARCHIVE_STORAGE_PREFIX = env_str("LOG_ARCHIVE_STORAGE_PREFIX", "log-archives")
# The Django storage (an alias of STORAGES) archives are written to.
ARCHIVE_STORAGE = env_str("LOG_ARCHIVE_STORAGE", "default")

"""Preview tunables, read from the environment once at import.

Tests override them with monkeypatch (`monkeypatch.setattr(conf, "MAX_ROWS", 5)`).
"""

from aggregator.env import env_int

# Defaults and hard caps for `?rows=` and `?columns=`.
DEFAULT_ROWS = env_int("FILES_PREVIEW_ROWS", 50, minimum=1)
DEFAULT_COLUMNS = env_int("FILES_PREVIEW_COLUMNS", 20, minimum=1)
MAX_ROWS = env_int("FILES_PREVIEW_MAX_ROWS", 1000, minimum=1)
MAX_COLUMNS = env_int("FILES_PREVIEW_MAX_COLUMNS", 200, minimum=1)
# How many bytes of a text-like file are sampled to detect its encoding and
# CSV dialect, and the most a text preview shows.
SAMPLE_BYTES = env_int("FILES_PREVIEW_SAMPLE_BYTES", 64 * 1024, minimum=1024)
TEXT_BYTES = env_int("FILES_PREVIEW_TEXT_BYTES", 16 * 1024, minimum=256)
# A single data row or JSON value bigger than this is refused rather than
# buffered: a preview must never pull a whole multi-GB file into memory.
MAX_RECORD_BYTES = env_int("FILES_PREVIEW_MAX_RECORD_BYTES", 8 * 1024 * 1024, minimum=1024)
# Longest cell text returned; longer values are cut with an ellipsis.
MAX_CELL_CHARS = env_int("FILES_PREVIEW_MAX_CELL_CHARS", 1000, minimum=10)
# Images: thumbnail edge and the decompression-bomb limit (pixels).
THUMBNAIL_SIZE = env_int("FILES_PREVIEW_THUMBNAIL_SIZE", 256, minimum=16)
MAX_IMAGE_PIXELS = env_int("FILES_PREVIEW_MAX_IMAGE_PIXELS", 64_000_000, minimum=1)

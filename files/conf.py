"""Tunables of the files app, read from the environment once at import.

Tests override them with `monkeypatch.setattr(conf, NAME, value)`, so code
reads them as `conf.NAME` at call time rather than importing the values.
"""

from pathlib import Path

from django.conf import settings

from aggregator.env import env_bool, env_int, env_list, env_str

MIB = 1024 * 1024
GIB = 1024 * MIB

# --- Uploads -----------------------------------------------------------------
# Advertised to tus clients; PATCH bodies of any size are still accepted.
CHUNK_SIZE = env_int("FILES_CHUNK_SIZE", 5 * MIB, minimum=1)
# Tus-Max-Size: the largest file anyone may upload.
MAX_SIZE = env_int("FILES_MAX_SIZE", 64 * GIB, minimum=1)
# Multipart POST files/ is for small files; larger ones go through tus.
MULTIPART_MAX_SIZE = env_int("FILES_MULTIPART_MAX_SIZE", 100 * MIB, minimum=1)
# Unfinished uploads are removed this long after their last chunk.
UPLOAD_EXPIRY_SECONDS = env_int("FILES_UPLOAD_EXPIRY_SECONDS", 24 * 3600, minimum=1)
# Partial uploads live on local disk; with FileSystemStorage keep this on the
# same filesystem as MEDIA_ROOT so finishing an upload is a rename, not a copy.
TEMP_DIR = Path(env_str("FILES_TEMP_DIR", str(Path(settings.MEDIA_ROOT) / "tus")))
# How long a PATCH waits for another PATCH to the same upload to finish.
LOCK_WAIT_SECONDS = env_int("FILES_LOCK_WAIT_SECONDS", 10, minimum=0)
# Write a PATCH body's blocks in a helper thread while the request thread
# hashes them and reads the next, so the three overlap; 0 writes in the
# request thread too (docs/BENCHMARKS-FILES.md).
UPLOAD_WRITER_THREAD = env_bool("FILES_UPLOAD_WRITER_THREAD", True)
# Stored content no upload refers to (left by a crash between storing it
# and committing its row, or by rows removed without the service) is
# removed this long after it was stored. Storing and committing take
# seconds (minutes for a multi-GB copy to object storage), so a day never
# touches an upload still being finished; an orphan only costs its space.
BLOB_ORPHAN_GRACE_SECONDS = env_int("FILES_BLOB_ORPHAN_GRACE_SECONDS", 24 * 3600, minimum=1)
# A completed file still without its preview this long after it completed
# lost the message that asked for it (the broker died at that moment); the
# re-queue job asks again. A preview follows validation within seconds, so
# this only has to outlast a backed-up files queue.
PREVIEW_REQUEUE_SECONDS = env_int("FILES_PREVIEW_REQUEUE_SECONDS", 900, minimum=1)
# The same for a re-scan asked for in the console while the broker was down
# (the file waits with its scan `pending`). A scan of a file of a few GB
# takes minutes, so a re-sent copy of a slow, live scan is possible and
# harmless: it records the same kind of verdict again.
RESCAN_REQUEUE_SECONDS = env_int("FILES_RESCAN_REQUEUE_SECONDS", 900, minimum=1)
# Write the page-aligned part of each PATCH block with O_DIRECT, past the page
# cache (files/chunk_file.py); 0 writes everything through the page cache,
# which is faster where fresh page-cache pages are cheap and the disk is slow.
UPLOAD_DIRECT_IO = env_bool("FILES_UPLOAD_DIRECT_IO", True)
# Read size when streaming request bodies and files.
IO_BLOCK_SIZE = env_int("FILES_IO_BLOCK_SIZE", 1 * MIB, minimum=4096)

# --- Validation --------------------------------------------------------------
BLOCKED_EXTENSIONS = env_list(
    "FILES_BLOCKED_EXTENSIONS",
    "exe dll com bat cmd msi scr pif cpl sys vbs vbe js jse ws wsf wsh hta ps1 psm1 sh bash zsh "
    "php phtml php3 php4 php5 phar asp aspx jsp cgi pl py pyc rb jar war apk app dmg deb rpm "
    "lnk reg inf iso img elf so dylib bin run msp mst gadget".split(),
)
# Per-type size limits in bytes (0 = no limit beyond MAX_SIZE).
MAX_SIZE_BY_TYPE = {
    "image": env_int("FILES_MAX_IMAGE_SIZE", 100 * MIB, minimum=0),
    "json": env_int("FILES_MAX_JSON_SIZE", 2 * GIB, minimum=0),
    "xml": env_int("FILES_MAX_XML_SIZE", 1 * GIB, minimum=0),
    "excel": env_int("FILES_MAX_EXCEL_SIZE", 500 * MIB, minimum=0),
    "pdf": env_int("FILES_MAX_PDF_SIZE", 500 * MIB, minimum=0),
    "archive": env_int("FILES_MAX_ARCHIVE_SIZE", 10 * GIB, minimum=0),
}
CSV_SAMPLE_BYTES = env_int("FILES_CSV_SAMPLE_BYTES", 64 * 1024, minimum=1024)
CSV_MAX_PROBLEMS = env_int("FILES_CSV_MAX_PROBLEMS", 10, minimum=1)
# A field, and a physical line, are bounded before they are held in memory
# (the csv module keeps a field as 4 bytes per character).
CSV_MAX_FIELD_SIZE = env_int("FILES_CSV_MAX_FIELD_SIZE", 1 * MIB, minimum=1024)
CSV_MAX_LINE_SIZE = env_int("FILES_CSV_MAX_LINE_SIZE", 4 * MIB, minimum=1024)
JSON_MAX_DEPTH = env_int("FILES_JSON_MAX_DEPTH", 64, minimum=1)
IMAGE_MAX_PIXELS = env_int("FILES_IMAGE_MAX_PIXELS", 100_000_000, minimum=1)
ARCHIVE_MAX_RATIO = env_int("FILES_ARCHIVE_MAX_RATIO", 100, minimum=1)
ARCHIVE_MAX_UNCOMPRESSED = env_int("FILES_ARCHIVE_MAX_UNCOMPRESSED", 20 * GIB, minimum=1)
ARCHIVE_MAX_ENTRIES = env_int("FILES_ARCHIVE_MAX_ENTRIES", 100_000, minimum=1)
# Archives inside archives are opened this many levels deep (the file itself
# is level 1; a tar.gz is one level); deeper nesting is refused.
ARCHIVE_MAX_DEPTH = env_int("FILES_ARCHIVE_MAX_DEPTH", 4, minimum=1)
# A nested zip needs random access, so it is copied to FILES_TEMP_DIR first;
# larger nested archives are refused rather than copied.
ARCHIVE_MAX_NESTED_SIZE = env_int("FILES_ARCHIVE_MAX_NESTED_SIZE", 1 * GIB, minimum=1)
# An .xz decoder allocates the dictionary its header names (xz -9: 64 MiB;
# a hostile file may name 1.5 GiB); above this it is refused.
ARCHIVE_XZ_MEMLIMIT = env_int("FILES_ARCHIVE_XZ_MEMLIMIT", 80 * MIB, minimum=1 * MIB)
# A file left in VALIDATING this long (a worker died), or left UPLOADED
# (its message was lost), is picked up again. A running validation moves its
# claim forward every fifth of this (files/validation/heartbeat.py), so it
# never looks stuck however long it takes; this only has to outlast five
# missed beats. Five minutes (was an hour, which had to outlast the longest
# validation) brings a killed worker's file back within ten, with the
# 5-minute re-queue job.
VALIDATION_STUCK_SECONDS = env_int("FILES_VALIDATION_STUCK_SECONDS", 300, minimum=1)

# --- Scanning ----------------------------------------------------------------
CLAMAV_URL = env_str("CLAMAV_URL")
CLAMAV_TIMEOUT = env_int("FILES_CLAMAV_TIMEOUT", 120, minimum=1)
CLAMAV_CHUNK_SIZE = env_int("FILES_CLAMAV_CHUNK_SIZE", 1 * MIB, minimum=1024)
# ClamAV does not scan files over 2 GB, and clamd refuses streams above its
# StreamMaxLength (4 GB at most); larger files are "not scanned: too large".
SCAN_MAX_SIZE = env_int("FILES_SCAN_MAX_SIZE", 2 * GIB - 1, minimum=1)
# Whether a file that could not be scanned (clamd down) fails validation.
SCAN_REQUIRED = env_bool("FILES_SCAN_REQUIRED", False)
# Whether a file too large to scan passes.
SCAN_TOO_LARGE_PASSES = env_bool("FILES_SCAN_TOO_LARGE_PASSES", True)

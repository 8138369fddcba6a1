"""gzip JSON Lines archive files in a Django storage. No ORM here.

Files are written to a local temporary file first (gzip needs a seekable
target, and a storage may be remote), hashed as they are written, then handed
to the storage; reading streams from the storage, so neither direction ever
holds a whole archive in memory.
"""

import gzip
import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import Storage

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ArchiveFile:
    name: str
    count: int
    original_size: int
    compressed_size: int
    sha256: str


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


class _HashingReader:
    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def write_archive(storage: Storage, name: str, records: Iterable[dict[str, Any]]) -> ArchiveFile:
    """Write records as gzip JSON Lines to `name` (replacing a leftover file of
    an interrupted attempt) and return what was written."""
    count = original = 0
    with tempfile.TemporaryFile() as spool:
        hashing = _HashingWriter(spool)
        # mtime=0 keeps the bytes (and so the checksum) a function of the content.
        with gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=6, mtime=0) as archive:
            for record in records:
                line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
                archive.write(line)
                count += 1
                original += len(line)
        spool.flush()
        spool.seek(0)
        if storage.exists(name):
            storage.delete(name)
        saved = storage.save(name, File(spool, name=name))
    return ArchiveFile(
        name=saved, count=count, original_size=original, compressed_size=hashing.size, sha256=hashing.digest.hexdigest()
    )


def read_archive(storage: Storage, name: str) -> Iterator[dict[str, Any]]:
    with storage.open(name, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as archive:
        for line in archive:
            if line.strip():
                yield json.loads(line)


def inspect_archive(storage: Storage, name: str) -> tuple[int, str]:
    """(line count, SHA-256 of the stored bytes), read back from the storage."""
    with storage.open(name, "rb") as raw:
        hashing = _HashingReader(raw)
        count = 0
        with gzip.GzipFile(fileobj=hashing, mode="rb") as archive:
            while block := archive.read(_CHUNK):
                count += block.count(b"\n")
        hashing.drain()
    return count, hashing.digest.hexdigest()

"""Writing a tus PATCH body's blocks into the partial file.

The page-aligned part of each block goes to the disk with O_DIRECT, past the
page cache: a buffered write must first get a fresh page-cache page for every
4 KiB it stores, and on this project's VMs (free memory handed back to the
host) that, not the copy, is most of its cost — 7–12 ms of CPU per 5 MiB
against ~0.5 ms for a direct write of the same block (docs/BENCHMARKS-FILES.md).
It also keeps a multi-GB upload from pushing everything else out of the page
cache. What cannot go direct — bytes before the first 4 KiB boundary, the
tail after the last one, a block not in a page-aligned buffer, a filesystem
without O_DIRECT — is written buffered, through the same file, at the same
offsets; the kernel keeps the two coherent.
`FILES_UPLOAD_DIRECT_IO=0` writes everything buffered.
"""

import ctypes
import errno
import mmap
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from files import conf

# File offsets, lengths and memory addresses of direct writes are multiples of
# this: 4 KiB satisfies every logical block size Linux filesystems use.
ALIGN = 4096


def aligned_buffer(size: int) -> mmap.mmap:
    """A writable buffer that starts on a page boundary (anonymous memory)."""
    return mmap.mmap(-1, size)


def head_length(offset: int) -> int:
    """Bytes from `offset` to the next 4 KiB boundary: read them as a block of
    their own and every later block starts aligned in the file."""
    return -offset % ALIGN


def _address(view: memoryview) -> int | None:
    if view.readonly:
        return None  # bytes from a stream's read(); written buffered
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def _open_direct(path) -> int | None:
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC | flag)
    except OSError:
        # No O_DIRECT on this filesystem (EINVAL), or the path is gone (the
        # upload was terminated meanwhile): the open handle still takes writes.
        return None


class ChunkFile:
    """Writes consecutive blocks at `offset`, `offset + len(first)`, ..."""

    def __init__(self, path, fd: int, offset: int, *, direct: bool) -> None:
        self.fd = fd
        self.position = offset
        self.direct_fd = _open_direct(path) if direct else None

    def write(self, block: bytes | memoryview) -> None:
        view = memoryview(block).cast("B")
        while view:
            count = self._write_some(view)
            view = view[count:]
            self.position += count

    def _write_some(self, view: memoryview) -> int:
        aligned = len(view) - len(view) % ALIGN
        if self.direct_fd is not None and aligned and self.position % ALIGN == 0:
            address = _address(view)
            if address is not None and address % ALIGN == 0:
                try:
                    return os.pwrite(self.direct_fd, view[:aligned], self.position)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    # Alignment this filesystem does not take: buffered from now on.
                    self.close()
        return os.pwrite(self.fd, view, self.position)

    def close(self) -> None:
        if self.direct_fd is not None:
            os.close(self.direct_fd)
            self.direct_fd = None


class ChunkSink:
    """Writes a body's blocks in a helper thread while the request thread
    hashes each block and reads the next one from the socket. The file write
    and SHA-256 (OpenSSL through ctypes; hashlib for a chunk checksum) release
    the GIL, so they overlap. Hashing in the request thread rather than in a
    second helper saves a thread hand-off per block: on two shared cores the
    hand-offs cost more than the overlap gained (docs/BENCHMARKS-FILES.md).
    At most `AHEAD` blocks wait for the writer, so memory stays a few blocks
    whatever the chunk size."""

    AHEAD = 4
    _pools: dict[int, ThreadPoolExecutor] = {}

    def __init__(self, out: ChunkFile, hashers) -> None:
        self.out, self.hashers = out, hashers
        self.written = 0  # and, once drained without error, hashed
        self.error: BaseException | None = None
        self.pending: deque[Future] = deque()
        pid = os.getpid()  # a pool made before a fork has no thread in the child
        if pid not in self._pools:
            # One thread, so blocks are written in order.
            self._pools[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="files-write")
        self.writer = self._pools[pid]

    def _write(self, block: bytes | memoryview) -> None:
        if self.error is not None:
            return  # nothing after a failed write; the chunk is discarded anyway
        try:
            self.out.write(block)
        except BaseException as exc:
            self.error = exc
            raise
        self.written += len(block)

    def _hash(self, block: bytes | memoryview) -> None:
        try:
            for hasher in self.hashers:
                hasher.update(block)
        except BaseException as exc:
            self.error = self.error or exc

    def put(self, block: bytes | memoryview) -> None:
        if not conf.UPLOAD_WRITER_THREAD:
            try:
                self._write(block)
            except BaseException:
                pass  # kept in self.error, raised by drain()
            self._hash(block)
            return
        self.pending.append(self.writer.submit(self._write, block))
        self._hash(block)
        if len(self.pending) > self.AHEAD:
            # The oldest block's buffer is reused next: wait until it is written.
            self.pending.popleft().exception()

    def drain(self) -> None:
        """Wait for every block; the first write or hash error is raised."""
        while self.pending:
            self.pending.popleft().exception()
        if self.error is not None:
            raise self.error

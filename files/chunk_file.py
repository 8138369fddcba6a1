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

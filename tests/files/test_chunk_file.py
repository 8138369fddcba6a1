"""files/chunk_file.py: the page-aligned part of each block goes to the disk
with O_DIRECT, everything else through the page cache, and the file holds
exactly the bytes written, wherever the blocks start and end."""

import os

import pytest

from files import chunk_file
from files.chunk_file import ALIGN, ChunkFile, aligned_buffer, head_length


@pytest.fixture
def writes(monkeypatch):
    """Every pwrite as (fd, length, offset): which path each byte took."""
    calls = []
    real = os.pwrite

    def spy(fd, data, offset):
        calls.append((fd, len(data), offset))
        return real(fd, data, offset)

    monkeypatch.setattr(chunk_file.os, "pwrite", spy)
    return calls


def write_blocks(path, offset: int, data: bytes, block_size: int, *, direct: bool) -> ChunkFile:
    """Feed `data` at `offset` the way a PATCH does: a head block up to the
    next 4 KiB boundary, then blocks in page-aligned buffers."""
    buffer = aligned_buffer(block_size)
    with open(path, "r+b") as handle:
        out = ChunkFile(path, handle.fileno(), offset, direct=direct)
        position = 0
        first = head_length(offset) if out.direct_fd is not None else 0
        while position < len(data):
            size = min(first or block_size, len(data) - position)
            first = 0
            buffer[:size] = data[position : position + size]
            out.write(memoryview(buffer)[:size])
            position += size
        direct_fd = out.direct_fd
        out.close()
    return direct_fd


@pytest.mark.parametrize("offset", [0, 1, ALIGN - 1, ALIGN, 1_500_000])
@pytest.mark.parametrize("length", [1, ALIGN - 1, ALIGN, 3 * 65536 + 17])
def test_blocks_at_any_offset_and_length_land_byte_for_byte(tmp_path, offset, length):
    path = tmp_path / "part"
    prefix = os.urandom(offset)
    path.write_bytes(prefix)
    data = os.urandom(length)
    write_blocks(path, offset, data, 65536, direct=True)
    assert path.read_bytes() == prefix + data


def test_the_aligned_part_goes_direct_and_the_ends_through_the_page_cache(tmp_path, writes):
    path = tmp_path / "part"
    path.write_bytes(b"x" * 1000)
    data = os.urandom((ALIGN - 1000) + 3 * 65536 + 100)
    direct_fd = write_blocks(path, 1000, data, 65536, direct=True)
    assert direct_fd is not None, "this filesystem takes O_DIRECT (ext4 here)"
    direct = [(length, offset) for fd, length, offset in writes if fd == direct_fd]
    buffered = [(length, offset) for fd, length, offset in writes if fd != direct_fd]
    # The head up to 4096, the three full blocks direct, the 100-byte tail buffered.
    assert buffered == [(ALIGN - 1000, 1000), (100, 4096 + 3 * 65536)]
    assert direct == [(65536, 4096), (65536, 4096 + 65536), (65536, 4096 + 2 * 65536)]
    assert sum(length for length, _ in buffered + direct) == len(data)
    assert path.read_bytes() == b"x" * 1000 + data


def test_buffered_only_when_turned_off_or_the_block_is_not_page_aligned(tmp_path, writes):
    path = tmp_path / "part"
    path.write_bytes(b"")
    data = os.urandom(2 * ALIGN)
    assert write_blocks(path, 0, data, ALIGN, direct=False) is None
    with open(path, "r+b") as handle:
        out = ChunkFile(path, handle.fileno(), len(data), direct=True)
        out.write(bytes(data))  # read-only bytes, as a non-gunicorn stream gives
        out.write(memoryview(bytearray(b"\0" + data))[1:])  # a buffer off the page boundary
        assert {fd for fd, _, _ in writes} == {handle.fileno()}
        out.close()
    assert path.read_bytes() == data * 3


def test_a_filesystem_refusing_the_alignment_gets_buffered_writes(tmp_path, monkeypatch):
    path = tmp_path / "part"
    path.write_bytes(b"")
    real = os.pwrite
    opened = {}

    def refuse_direct(fd, data, offset):
        if fd == opened.get("direct"):
            raise OSError(22, "Invalid argument")
        return real(fd, data, offset)

    monkeypatch.setattr(chunk_file.os, "pwrite", refuse_direct)
    data = os.urandom(4 * ALIGN)
    buffer = aligned_buffer(len(data))
    buffer[:] = data
    with open(path, "r+b") as handle:
        out = ChunkFile(path, handle.fileno(), 0, direct=True)
        opened["direct"] = out.direct_fd
        out.write(memoryview(buffer))
        assert out.direct_fd is None  # and it stays buffered for the rest of the chunk
        out.close()
    assert path.read_bytes() == data


def test_a_partial_file_unlinked_meanwhile_still_takes_the_writes(tmp_path):
    # Termination may remove the path while a PATCH holds the file open.
    path = tmp_path / "part"
    path.write_bytes(b"")
    data = os.urandom(2 * ALIGN)
    with open(path, "r+b") as handle:
        path.unlink()
        out = ChunkFile(path, handle.fileno(), 0, direct=True)
        assert out.direct_fd is None
        buffer = aligned_buffer(len(data))
        buffer[:] = data
        out.write(memoryview(buffer))
        out.close()
        handle.seek(0)
        assert handle.read() == data

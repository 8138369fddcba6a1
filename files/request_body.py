"""Reading a large request body block by block into reused buffers.

Under gunicorn a Content-Length body is read straight from the client socket
with `recv_into`: gunicorn's own reader hands out each MiB after three or
four copies through `BytesIO` objects and a fresh allocation per `recv`,
which made reading a 5 MiB tus chunk several times slower than the socket
(docs/BENCHMARKS-FILES.md). gunicorn's accounting (`LengthReader.length`,
the bytes it has already buffered) is kept up to date, so what it does after
the response (drain the rest, keep the connection) still sees the truth.

Anything else (Django's test client and live server, a chunked body, a body
something has already started to read) goes through the stream's `read()`.
"""

import threading

from files.chunk_file import aligned_buffer

try:  # gunicorn is the production server, not a dependency of this module
    from gunicorn.http.body import Body, LengthReader
    from gunicorn.http.unreader import SocketUnreader
except ImportError:  # pragma: no cover
    Body = LengthReader = SocketUnreader = None

_local = threading.local()


def _buffers(count: int, size: int) -> list:
    """`count` buffers of `size` bytes, kept per thread: allocating a few MiB
    per request costs page faults on every request. Page-aligned, so the
    blocks can be written with O_DIRECT (files/chunk_file.py)."""
    buffers = getattr(_local, "buffers", None)
    if not buffers or len(buffers) != count or len(buffers[0]) != size:
        buffers = _local.buffers = [aligned_buffer(size) for _ in range(count)]
    return buffers


class _SocketBody:
    """The rest of a gunicorn Content-Length body: first what gunicorn has
    already buffered, then the socket."""

    def __init__(self, reader) -> None:
        self.reader = reader  # gunicorn's LengthReader; .length is what is left of the body
        self.sock = reader.unreader.sock
        buffered = reader.unreader.take_buffered()
        # Bytes past this body (a pipelined next request) go back to gunicorn.
        self.prefix = memoryview(buffered[: reader.length])
        if len(buffered) > reader.length:
            reader.unreader.unread(buffered[reader.length :])

    def readinto(self, view: memoryview) -> int:
        if self.reader.length <= 0:
            return 0
        if self.prefix:
            count = min(len(view), len(self.prefix))
            view[:count] = self.prefix[:count]
            self.prefix = self.prefix[count:]
        else:
            count = self.sock.recv_into(view, min(len(view), self.reader.length))
        self.reader.length -= count
        return count


def _socket_body(stream, content_length: int | None):
    """A `_SocketBody` when `stream` is a Django request on an untouched
    gunicorn Content-Length body, else None."""
    if Body is None or content_length is None:
        return None
    meta = getattr(stream, "META", None)
    body = meta.get("wsgi.input") if meta else None
    if type(body) is not Body or type(body.reader) is not LengthReader:
        return None
    if type(body.reader.unreader) is not SocketUnreader:
        return None
    # Untouched: gunicorn has handed out nothing yet and holds nothing for Body.
    if body.reader.length != content_length or body.buf.tell() != 0:
        return None
    return _SocketBody(body.reader)


class BlockReader:
    """Yields a body as blocks of at most `block_size` bytes.

    A block is a memoryview into one of `ring` reused buffers (or bytes, on
    the fallback path); it stays valid until `ring - 1` further blocks have
    been read, so a consumer may hold that many blocks in flight."""

    def __init__(self, stream, content_length: int | None, block_size: int, ring: int) -> None:
        self.stream = stream
        self.block_size = block_size
        self.direct = _socket_body(stream, content_length)
        self.buffers = _buffers(ring, block_size) if self.direct is not None else None
        self.turn = 0

    def read(self, limit: int) -> memoryview | bytes:
        """The next block, at most `limit` bytes; empty at the end of the body."""
        size = min(limit, self.block_size)
        if self.direct is None:
            return self.stream.read(size)
        view = memoryview(self.buffers[self.turn % len(self.buffers)])[:size]
        self.turn += 1
        filled = 0
        # Fill the block (recv returns what has arrived, often far less than
        # asked): fewer, larger blocks for the file write and the hash.
        while filled < size:
            count = self.direct.readinto(view[filled:])
            if not count:
                break
            filled += count
        return view[:filled]

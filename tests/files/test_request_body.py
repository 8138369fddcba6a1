"""Reading a request body into reused buffers, straight from gunicorn's
socket when the body is an untouched Content-Length body."""

import io
import os
import socket
import threading
from types import SimpleNamespace

from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader

from files.request_body import BlockReader


def gunicorn_request(body: bytes, buffered: int, pipelined: bytes = b""):
    """A Django-like request over a real socket whose gunicorn reader already
    holds the first `buffered` body bytes (and `pipelined`, a next request)."""
    ours, peer = socket.socketpair()
    unreader = SocketUnreader(ours)
    unreader.unread(body[:buffered] + (pipelined if buffered == len(body) else b""))
    sender = threading.Thread(target=peer.sendall, args=(body[buffered:] + pipelined * (buffered < len(body)),))
    sender.start()
    wsgi_input = Body(LengthReader(unreader, len(body)))
    return SimpleNamespace(META={"wsgi.input": wsgi_input}), unreader, (ours, peer, sender)


def read_all(reader: BlockReader) -> bytes:
    out = b""
    while block := reader.read(1 << 30):
        out += bytes(block)
    return out


def test_a_gunicorn_body_is_read_from_the_socket_in_full_blocks_and_accounted():
    body = os.urandom(3 * 65536 + 17)
    request, unreader, (ours, peer, sender) = gunicorn_request(body, buffered=1000)
    reader = BlockReader(request, len(body), 65536, ring=3)
    assert reader.direct is not None
    blocks = []
    while block := reader.read(1 << 30):
        blocks.append(bytes(block))
    assert b"".join(blocks) == body
    assert [len(b) for b in blocks] == [65536, 65536, 65536, 17]
    assert request.META["wsgi.input"].reader.length == 0  # gunicorn sees the body consumed
    sender.join()
    ours.close()
    peer.close()


def test_bytes_past_the_body_go_back_to_gunicorn():
    body, pipelined = os.urandom(5000), b"GET /next HTTP/1.1\r\n\r\n"
    request, unreader, (ours, peer, sender) = gunicorn_request(body, buffered=5000, pipelined=pipelined)
    reader = BlockReader(request, len(body), 4096, ring=3)
    assert read_all(reader) == body
    assert unreader.take_buffered() == pipelined
    sender.join()
    ours.close()
    peer.close()


def test_buffers_are_reused_in_a_ring():
    body = os.urandom(4 * 4096)
    request, _, (ours, peer, sender) = gunicorn_request(body, buffered=0)
    reader = BlockReader(request, len(body), 4096, ring=3)
    views = [reader.read(1 << 30) for _ in range(4)]
    assert views[3].obj is views[0].obj and views[1].obj is not views[0].obj
    assert bytes(views[3]) == body[3 * 4096 :]
    sender.join()
    ours.close()
    peer.close()


def test_a_body_already_started_or_chunked_or_not_gunicorn_is_read_through_the_stream():
    body = os.urandom(5000)
    request, _, (ours, peer, sender) = gunicorn_request(body, buffered=5000)
    first = request.META["wsgi.input"].read(10)
    reader = BlockReader(request, len(body), 4096, ring=3)
    assert reader.direct is None  # gunicorn has handed out bytes already

    class Stream(io.BytesIO):
        META = request.META

    stream = Stream(body[10:])
    assert first + read_all(BlockReader(stream, len(body), 4096, ring=3)) == body
    chunked = SimpleNamespace(META={"wsgi.input": Body(ChunkedReader(None, SocketUnreader(ours)))})
    assert BlockReader(chunked, None, 4096, ring=3).direct is None
    assert BlockReader(io.BytesIO(body), len(body), 4096, ring=3).direct is None
    sender.join()
    ours.close()
    peer.close()

"""tus PATCH bodies under gunicorn, where they are read straight from the
client socket into reused buffers (files/request_body.py): what arrives is
stored byte for byte, whatever gunicorn had buffered with the headers, and
a bad or cut-short chunk behaves as on any other server."""

import base64
import hashlib
import os
import socket
import time

import pytest
import requests
from rest_framework.authtoken.models import Token
from tusclient import client as tus_client

from files import storage
from files.models import FileStatus, FileUpload
from tests.conftest import _test_database_url
from tests.health.conftest import Gunicorn, free_port_in_range

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path, _isolated_media):
    env = {
        **os.environ,
        "DJANGO_HTTPS": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": _test_database_url(),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "THROTTLE_USER": "1000000/min",
    }
    started = Gunicorn(free_port_in_range(8150, 8199), env, tmp_path / "gunicorn.log", workers=1)
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


@pytest.fixture
def auth(alice) -> dict:
    return {"Authorization": f"Token {Token.objects.create(user=alice).key}", "Tus-Resumable": "1.0.0"}


def create(server, auth, size: int) -> str:
    response = requests.post(f"{server.base}/api/v1/files/tus/", headers={**auth, "Upload-Length": str(size)})
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def raw_patch(server, auth, location: str, offset: int, declared: int, body: bytes, extra: dict | None = None):
    """One PATCH over a fresh socket, headers and the first bytes of the body
    in one send (so gunicorn buffers some body with the headers); the socket
    is half-closed after `body`, even if `declared` is more."""
    path = location.split(str(server.port), 1)[1]
    headers = {
        **auth,
        "Host": f"127.0.0.1:{server.port}",
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": str(declared),
        "Upload-Offset": str(offset),
        **(extra or {}),
    }
    head = f"PATCH {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode() + body[:70_000])
        time.sleep(0.05)
        sock.sendall(body[70_000:])
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def offset_of(server, auth, location: str) -> int:
    return int(requests.head(location, headers=auth).headers["Upload-Offset"])


def test_tuspy_chunks_not_aligned_to_the_read_blocks_arrive_intact(server, auth, tmp_path):
    data = os.urandom(7 * 1024 * 1024 + 12345)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    client = tus_client.TusClient(f"{server.base}/api/v1/files/tus/", headers={"Authorization": auth["Authorization"]})
    client.uploader(str(source), chunk_size=1536 * 1024 + 7, metadata={"filename": "data.bin"}).upload()
    upload = FileUpload.objects.get()
    assert upload.status != FileStatus.UPLOADING
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert stored_bytes(upload) == data


def stored_bytes(upload) -> bytes:
    """The bytes on disk (the hash is taken from the buffers, not the file)."""
    with storage.open_stored(upload.blob.storage_name) as stored:
        return stored.read()


def test_a_body_sent_with_its_headers_is_stored_byte_for_byte(server, auth):
    data = os.urandom(3 * 1024 * 1024 + 99)
    location = create(server, auth, len(data) * 2)
    status, _ = raw_patch(server, auth, location, 0, len(data), data)
    assert status == 204
    status, _ = raw_patch(server, auth, location, len(data), len(data), data)
    assert status == 204
    upload = FileUpload.objects.get()
    assert upload.sha256 == hashlib.sha256(data + data).hexdigest()
    assert stored_bytes(upload) == data + data


def test_a_body_cut_short_keeps_what_arrived_and_the_upload_resumes(server, auth):
    data = os.urandom(2 * 1024 * 1024)
    location = create(server, auth, len(data))
    status, _ = raw_patch(server, auth, location, 0, len(data), data[:1_500_000])
    assert status == 400
    assert offset_of(server, auth, location) == 1_500_000
    status, _ = raw_patch(server, auth, location, 1_500_000, len(data) - 1_500_000, data[1_500_000:])
    assert status == 204
    assert FileUpload.objects.get().sha256 == hashlib.sha256(data).hexdigest()
    assert stored_bytes(FileUpload.objects.get()) == data


def test_a_chunk_with_a_wrong_checksum_is_refused_and_nothing_is_kept(server, auth):
    data = os.urandom(2 * 1024 * 1024)
    location = create(server, auth, len(data))
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    status, _ = raw_patch(server, auth, location, 0, len(data), data, {"Upload-Checksum": f"sha256 {wrong}"})
    assert status == 460
    assert offset_of(server, auth, location) == 0
    right = base64.b64encode(hashlib.sha256(data).digest()).decode()
    status, _ = raw_patch(server, auth, location, 0, len(data), data, {"Upload-Checksum": f"sha256 {right}"})
    assert status == 204
    assert FileUpload.objects.get().sha256 == hashlib.sha256(data).hexdigest()
    assert stored_bytes(FileUpload.objects.get()) == data

"""Stock tus clients against a live server: the real tuspy client and raw
HTTP, including interrupted uploads that resume from the server's offset."""

import fcntl
import hashlib
import socket
import threading
import time
from urllib.parse import urlparse

import pytest
import requests
from rest_framework.authtoken.models import Token
from tusclient import client as tus_client
from tusclient.storage import filestorage

from files import conf
from files.models import FileStatus, FileUpload

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 64 * 1024


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "measurements.csv"
    with open(path, "w") as handle:
        handle.write("id,station,value\n")
        for i in range(40_000):
            handle.write(f"{i},st{i % 17},{i * 0.25}\n")
    return path


@pytest.fixture
def token(alice) -> str:
    return Token.objects.create(user=alice).key


@pytest.fixture
def tus(live_server, token):
    return tus_client.TusClient(f"{live_server.url}/api/v1/files/tus/", headers={"Authorization": f"Token {token}"})


def sha256_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tuspy_uploads_in_chunks_with_checksums_and_the_file_validates(tus, source):
    uploader = tus.uploader(
        str(source), chunk_size=CHUNK, metadata={"filename": source.name, "filetype": "text/csv"}, upload_checksum=True
    )
    uploader.upload()
    upload = FileUpload.objects.get()
    assert upload.sha256 == sha256_of(source)
    assert upload.status == FileStatus.COMPLETED, upload.failure_reason
    assert upload.file_type == "csv" and upload.progress == 100


def test_tuspy_resumes_an_interrupted_upload_from_the_servers_offset(tus, source, tmp_path):
    urls = filestorage.FileStorage(str(tmp_path / "tus-urls.json"))
    first = tus.uploader(
        str(source), chunk_size=CHUNK, metadata={"filename": source.name}, store_url=True, url_storage=urls
    )
    first.upload(stop_at=3 * CHUNK)  # the client stops: a closed laptop
    assert FileUpload.objects.get().offset == 3 * CHUNK

    second = tus.uploader(
        str(source), chunk_size=CHUNK, metadata={"filename": source.name}, store_url=True, url_storage=urls
    )
    assert second.url == first.url
    assert second.offset == 3 * CHUNK  # from HEAD
    second.upload()
    upload = FileUpload.objects.get()
    assert upload.sha256 == sha256_of(source) and upload.status == FileStatus.COMPLETED


def test_a_dropped_connection_keeps_what_arrived_and_tuspy_finishes(tus, source, live_server, token):
    uploader = tus.uploader(str(source), chunk_size=CHUNK, metadata={"filename": source.name})
    uploader.upload_chunk()  # creates the upload and sends one chunk
    data = source.read_bytes()
    url = urlparse(uploader.url)
    body = data[CHUNK : CHUNK + 40_000]
    request = (
        f"PATCH {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Token {token}\r\n"
        f"Tus-Resumable: 1.0.0\r\nUpload-Offset: {CHUNK}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {CHUNK}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(request + body)  # ...and the connection drops mid-body
        sock.shutdown(socket.SHUT_WR)
        sock.recv(4096)
    head = requests.head(uploader.url, headers={"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0"})
    assert int(head.headers["Upload-Offset"]) == CHUNK + len(body)

    resumed = tus.uploader(str(source), chunk_size=CHUNK, url=uploader.url)
    assert resumed.offset == CHUNK + len(body)
    resumed.upload()
    assert FileUpload.objects.get().sha256 == sha256_of(source)


class SlowBody:
    """A request body that trickles, so a second PATCH arrives meanwhile."""

    def __init__(self, data: bytes, started: threading.Event) -> None:
        self.data, self.started, self.pos = data, started, 0
        self.len = len(data)

    def read(self, size: int = -1) -> bytes:
        if self.pos:
            self.started.set()
            time.sleep(0.02)
        block = self.data[self.pos : self.pos + min(size if size > 0 else 8192, 8192)]
        self.pos += len(block)
        return block


def wait_until_locked(path: str, thread: threading.Thread) -> None:
    """Until the slow PATCH holds the upload's lock (or has already finished)."""
    with open(path, "rb") as handle:
        while thread.is_alive():
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            fcntl.flock(handle, fcntl.LOCK_UN)
            time.sleep(0.002)


def test_concurrent_patches_to_one_upload_are_serialised(tus, source, token, monkeypatch):
    monkeypatch.setattr(conf, "LOCK_WAIT_SECONDS", 60)
    uploader = tus.uploader(str(source), chunk_size=CHUNK, metadata={"filename": source.name})
    uploader.set_url(uploader.create_url())
    chunk = source.read_bytes()[:CHUNK]
    headers = {
        "Authorization": f"Token {token}",
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
    }
    started = threading.Event()
    results: dict[str, int] = {}

    def slow():
        results["slow"] = requests.patch(uploader.url, data=SlowBody(chunk, started), headers=headers).status_code

    thread = threading.Thread(target=slow)
    thread.start()
    started.wait()
    wait_until_locked(FileUpload.objects.get().temp_path, thread)
    results["fast"] = requests.patch(uploader.url, data=chunk, headers=headers).status_code
    thread.join()
    assert results == {"slow": 204, "fast": 409}
    upload = FileUpload.objects.get()
    assert upload.offset == CHUNK
    with open(upload.temp_path, "rb") as handle:
        assert handle.read() == chunk

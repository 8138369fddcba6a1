"""Fixtures for the files app: isolated storage and small helpers."""

import base64
import hashlib
import io

import pytest

from files import conf


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path, monkeypatch):
    """Every test stores bytes in its own folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setattr(conf, "TEMP_DIR", tmp_path / "media" / "tus")
    # A real worker started by the test reads the same folders.
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "media"))
    monkeypatch.setenv("FILES_TEMP_DIR", str(tmp_path / "media" / "tus"))
    monkeypatch.setattr(conf, "CLAMAV_URL", "")
    return tmp_path / "media"


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def metadata(**values: str) -> str:
    return ",".join(f"{key} {b64(value)}" for key, value in values.items())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


@pytest.fixture
def tus_create(alice_client):
    """POST to the tus creation URL; returns the response."""

    def create(length: int, client=None, **meta: str):
        meta.setdefault("filename", "data.csv")
        headers = {**TUS, "HTTP_UPLOAD_LENGTH": str(length), "HTTP_UPLOAD_METADATA": metadata(**meta)}
        return (client or alice_client).post("/api/v1/files/tus/", **headers)

    return create


@pytest.fixture
def tus_patch(alice_client):
    def patch(location: str, data: bytes, offset: int, client=None, **extra):
        headers = {**TUS, "HTTP_UPLOAD_OFFSET": str(offset), **extra}
        return (client or alice_client).generic(
            "PATCH", location, data=data, content_type="application/offset+octet-stream", **headers
        )

    return patch


def multipart_upload(client, name: str, data: bytes, **fields):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post("/api/v1/files/", {"file": upload, **fields}, format="multipart")


@pytest.fixture
def files_queue():
    """The configured broker's `files` queue (filesystem or Redis), emptied,
    with tasks sent to it rather than run inline: a message can be queued
    and not yet run. Returns a function counting the messages in it."""
    from aggregator.celery import app

    def channel_call(method: str, *args, **kwargs):
        with app.connection_for_write() as connection:
            return getattr(connection.default_channel, method)(*args, **kwargs)

    channel_call("queue_declare", "files", durable=True, auto_delete=False)
    channel_call("queue_purge", "files")
    app.conf.task_always_eager = False
    yield lambda: channel_call("queue_declare", "files", passive=True).message_count
    app.conf.task_always_eager = True
    channel_call("queue_purge", "files")

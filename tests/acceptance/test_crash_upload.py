"""Crash during upload: gunicorn SIGKILLed (master and workers) at random
moments while tuspy uploads 20 multi-chunk files; every upload resumes from
the server's offset and completes with the right SHA-256, and once the
expiry job has run nothing is left in the temporary folder.

The kills are paced by upload progress (seeded random numbers of
acknowledged chunks), not by the clock, so all of them land while uploads
are in flight however fast the server and machine are.
"""

import hashlib
import os
import random
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from files import conf, storage
from files.models import FileStatus, FileUpload
from files.services import file_uploads_expire
from tests.acceptance.processes import Gunicorn, free_port, gunicorn_env
from tests.conftest import _test_database_url

pytestmark = pytest.mark.django_db(transaction=True)

UPLOADS = 20
CHUNK = 64 * 1024
CLIENTS = 4
KILLS = 5
# Each file is 1 MiB +- 100 kB: at least 15 chunks, so at least 300 in all.
MIN_CHUNKS = UPLOADS * 15


def _seed() -> int:
    seed = int(os.environ.get("AGG_CRASH_SEED") or time.time_ns() % 1_000_000)
    print(f"crash-during-upload seed: {seed} (AGG_CRASH_SEED={seed} replays it)")
    return seed


class Progress:
    """Chunks the server has acknowledged, counted across the client threads."""

    def __init__(self) -> None:
        self.chunks = 0
        self.changed = threading.Condition()

    def tick(self) -> None:
        with self.changed:
            self.chunks += 1
            self.changed.notify_all()

    def wait_for(self, chunks: int, done: threading.Event) -> bool:
        """True once `chunks` were acknowledged; False if the uploads ended first."""
        with self.changed:
            while self.chunks < chunks:
                if done.is_set():
                    return False
                self.changed.wait(0.1)
        return True


class Killer(threading.Thread):
    """SIGKILLs the server after seeded random numbers of acknowledged chunks
    (so while uploads are in flight) and restarts it."""

    def __init__(self, server: Gunicorn, rng: random.Random, progress: Progress, done: threading.Event) -> None:
        super().__init__(daemon=True)
        self.server, self.rng, self.progress, self.done = server, rng, progress, done
        # Between 5 % and 90 % of the fewest chunks the uploads can take.
        self.at_chunks = sorted(rng.sample(range(MIN_CHUNKS // 20, MIN_CHUNKS * 9 // 10), KILLS))
        self.kills: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for chunks in self.at_chunks:
                if not self.progress.wait_for(chunks, self.done):
                    return
                time.sleep(self.rng.uniform(0.0, 0.05))  # somewhere inside the chunks in flight
                self.server.kill()
                self.kills.append(time.monotonic())
                time.sleep(self.rng.uniform(0.0, 0.5))  # down for a while
                self.server.start()
        except BaseException as exc:  # reported by the test
            self.error = exc


def upload_until_done(tus, path, stats: dict, lock: threading.Lock, progress: Progress) -> str:
    """tuspy, restarted from the server's offset after every failure."""
    url = None
    while True:
        try:
            if url is None:
                uploader = tus.uploader(str(path), chunk_size=CHUNK, metadata={"filename": path.name})
                url = uploader.create_url()
            uploader = tus.uploader(str(path), chunk_size=CHUNK, url=url)  # HEAD: the server's offset
            if uploader.offset:
                with lock:
                    stats["resumed_at_offset"] += 1
            # uploader.upload(), one chunk at a time, counting what the server acknowledged.
            while uploader.offset < uploader.get_file_size():
                uploader.upload_chunk()
                progress.tick()
            return url
        except TusCommunicationError:
            with lock:
                stats["failures"] += 1
            time.sleep(0.1)


def test_uploads_survive_server_kills_and_leave_no_temporary_files(alice, tmp_path):
    """GIVEN 20 tuspy uploads of ~1 MiB files in 64 KiB chunks through gunicorn
    WHEN gunicorn (master and workers) is SIGKILLed at random moments and restarted
    THEN every upload resumes from the server's offset and completes with the
    right SHA-256, and after expiry no temporary file remains."""
    seed = _seed()
    rng = random.Random(seed)
    sources = []
    for index in range(UPLOADS):
        path = tmp_path / "sources" / f"part-{index:02d}.dat"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(rng.randbytes(1024 * 1024 + rng.randrange(-100_000, 100_000)))
        sources.append(path)
    token = Token.objects.create(user=alice).key
    server = Gunicorn(
        free_port(8700, 8719),
        gunicorn_env(tmp_path, DATABASE_URL=_test_database_url()),
        tmp_path / "gunicorn.log",
    )
    server.start()
    done = threading.Event()
    progress = Progress()
    killer = Killer(server, rng, progress, done)
    tus = tus_client.TusClient(f"{server.base}/api/v1/files/tus/", headers={"Authorization": f"Token {token}"})
    stats = {"failures": 0, "resumed_at_offset": 0}
    lock = threading.Lock()
    urls: dict[str, str] = {}
    pending = list(sources)

    def client() -> None:
        while True:
            with lock:
                if not pending:
                    return
                path = pending.pop(0)
            urls[path.name] = upload_until_done(tus, path, stats, lock, progress)

    started = time.monotonic()
    killer.start()
    clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()
    try:
        for thread in clients:
            thread.join(timeout=600)
        assert not any(thread.is_alive() for thread in clients), "uploads hung"
    finally:
        done.set()
        killer.join(timeout=180)
        server.stop()
    elapsed = time.monotonic() - started
    assert killer.error is None, f"restart failed: {killer.error}\n{server.log()[-3000:]}"
    print(
        f"{UPLOADS} uploads, {len(killer.kills)} kills, {stats['failures']} failed requests, "
        f"{stats['resumed_at_offset']} resumes from a non-zero offset, {elapsed:.1f} s"
    )
    # Every kill happened while uploads were in flight, not after.
    assert len(killer.kills) == KILLS
    assert stats["resumed_at_offset"] >= 1

    for path in sources:
        upload = FileUpload.objects.get(pk=urls[path.name].rstrip("/").rsplit("/", 1)[1])
        expected = hashlib.sha256(path.read_bytes()).hexdigest()
        assert upload.status != FileStatus.UPLOADING, path.name
        assert (upload.offset, upload.sha256) == (path.stat().st_size, expected), path.name
        with storage.open_stored(upload.blob.storage_name) as stored:
            assert hashlib.sha256(stored.read()).hexdigest() == expected, path.name

    # Creations whose answer was lost in a kill left unfinished uploads (and
    # perhaps partial files no row points to); expiry removes them all.
    file_uploads_expire(now=timezone.now() + timedelta(seconds=conf.UPLOAD_EXPIRY_SECONDS + 60))
    assert not FileUpload.objects.filter(status=FileStatus.UPLOADING).exists()
    assert sorted(os.listdir(conf.TEMP_DIR)) == []

"""Where bytes live: partial uploads on local disk, finished content in
Django's default storage (local by default, object storage by settings).

No ORM here; services decide what to keep and what to delete.
"""

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import default_storage

from files import conf


def temp_dir() -> Path:
    path = Path(conf.TEMP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def temp_path_for(upload_id: uuid.UUID | str) -> Path:
    return temp_dir() / f"{upload_id}.part"


def new_temp_file() -> Path:
    fd, name = tempfile.mkstemp(dir=temp_dir(), suffix=".part")
    os.close(fd)
    return Path(name)


BLOB_FOLDER = "blobs"


def blob_name(owner_id: int, sha256: str) -> str:
    # A random suffix keeps a deleted blob's late byte removal from ever
    # hitting a newer blob of the same content.
    return f"{BLOB_FOLDER}/{owner_id}/{sha256[:2]}/{sha256}-{uuid.uuid4().hex[:8]}"


def store(local_path: Path, name: str) -> str:
    """Put a finished local file into storage; returns the stored name.

    The local file is left in place for the caller to delete once its
    database transaction has committed: a crash in between must leave an
    unfinished upload with its bytes, so it can still be finished. On local
    storage it is hard-linked (no copy, the same cost as the rename it
    replaces); elsewhere, or across filesystems, it is copied."""
    try:
        default_storage.path(name)
    except NotImplementedError:
        return _copy_into_storage(local_path, name)
    name = default_storage.get_available_name(name)
    target = Path(default_storage.path(name))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(local_path, target)
    except OSError:  # another filesystem, or the name was just taken
        return _copy_into_storage(local_path, name)
    return name


def _copy_into_storage(local_path: Path, name: str) -> str:
    with open(local_path, "rb") as handle:
        return default_storage.save(name, File(handle, name=Path(name).name))


def temp_files() -> Iterator[Path]:
    """Every file in the temporary folder (partial uploads, local copies)."""
    folder = Path(conf.TEMP_DIR)
    if folder.is_dir():
        yield from (path for path in folder.iterdir() if path.is_file())


def stored_names_by_folder(folder: str = BLOB_FOLDER) -> Iterator[list[str]]:
    """The stored names under `folder`, one folder's files at a time.

    Walks with `listdir`, so only one folder's listing is held at once
    (blobs/<owner>/<2 hex digits>/ keeps each small), on local and on object
    storage alike."""
    try:
        folders, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    if names:
        yield [f"{folder}/{name}" for name in names]
    for sub in folders:
        yield from stored_names_by_folder(f"{folder}/{sub}")


def stored_changed_at(name: str) -> datetime | None:
    """When a stored file last appeared or changed; None if it is gone.

    On local storage a finished upload is hard-linked into place, so its
    mtime is that of the partial file's last chunk, possibly a day old; the
    link itself updates the inode's ctime, which is therefore counted too.
    Elsewhere the object is written when stored, and its modified time says
    so."""
    try:
        local = default_storage.path(name)
    except NotImplementedError:
        try:
            return default_storage.get_modified_time(name)
        except (FileNotFoundError, OSError):
            return None
    try:
        stat = os.stat(local)
    except FileNotFoundError:
        return None
    return datetime.fromtimestamp(max(stat.st_mtime, stat.st_ctime), tz=UTC)


def open_stored(name: str) -> BinaryIO:
    return default_storage.open(name, "rb")


def stored_size(name: str) -> int:
    return default_storage.size(name)


@contextmanager
def local_copy(name: str) -> Iterator[Path]:
    """A local path for a stored file (the file itself when storage is local)."""
    try:
        local = Path(default_storage.path(name))
    except NotImplementedError:
        local = None
    if local is not None:
        yield local
        return
    fd, tmp = tempfile.mkstemp(dir=temp_dir(), suffix=".local")
    try:
        with os.fdopen(fd, "wb") as out, default_storage.open(name, "rb") as src:
            shutil.copyfileobj(src, out, conf.IO_BLOCK_SIZE)
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def delete_stored(name: str) -> None:
    if name:
        default_storage.delete(name)


def delete_temp(path: str | Path) -> None:
    """Remove a partial file's name now and its blocks in the background
    (see close_file): the file is gone for everyone at once, but a request
    that finishes or terminates a multi-GB upload does not wait for ext4 to
    free it."""
    if not path:
        return
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    except OSError:  # not readable: remove it the plain way
        Path(path).unlink(missing_ok=True)
        return
    try:
        Path(path).unlink(missing_ok=True)
    finally:
        close_file(handle)


def close_file(handle: BinaryIO) -> None:
    """Close `handle`, in a helper thread when this may be the last reference
    to a file already unlinked: that close frees the file's blocks, which
    takes ext4 ~170 ms per GiB here (docs/BENCHMARKS-FILES.md), and the
    request that finished or terminated the upload need not wait for it."""
    try:
        unlinked = os.fstat(handle.fileno()).st_nlink == 0
    except (OSError, ValueError):
        unlinked = False
    if unlinked:
        threading.Thread(target=handle.close, name="files-close", daemon=True).start()
    else:
        handle.close()

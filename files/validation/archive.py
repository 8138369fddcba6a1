"""Archives (and xlsx, which is a zip): refused when they would unpack to
far more than they weigh (zip bombs) or write outside their folder
(path traversal, links). Only metadata is read; nothing is extracted."""

import bz2
import gzip
import lzma
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from files import conf
from files.validation.report import CheckFailed


def _check_member_name(name: str) -> None:
    normal = name.replace("\\", "/")
    path = PurePosixPath(normal)
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":") or ".." in path.parts:
        raise CheckFailed(f"archive entry {name[:200]!r} points outside the archive (path traversal)")
    if any(ord(ch) < 32 for ch in name):
        raise CheckFailed("an archive entry name contains control characters")


def _check_totals(entries: int, uncompressed: int, compressed: int) -> None:
    if entries > conf.ARCHIVE_MAX_ENTRIES:
        raise CheckFailed(f"archive has more than {conf.ARCHIVE_MAX_ENTRIES} entries")
    if uncompressed > conf.ARCHIVE_MAX_UNCOMPRESSED:
        raise CheckFailed(f"archive would unpack to {uncompressed} bytes, above {conf.ARCHIVE_MAX_UNCOMPRESSED}")
    if compressed and uncompressed / compressed > conf.ARCHIVE_MAX_RATIO:
        raise CheckFailed(
            f"archive would unpack to {uncompressed // max(compressed, 1)}x its size (a zip bomb?); "
            f"the limit is {conf.ARCHIVE_MAX_RATIO}x"
        )


def check_zip(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckFailed(f"not a readable zip archive (truncated or corrupt): {exc}") from None
    uncompressed = 0
    for info in infos:
        _check_member_name(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise CheckFailed(f"archive entry {info.filename[:200]!r} is a symbolic link")
        uncompressed += info.file_size
    _check_totals(len(infos), uncompressed, path.stat().st_size)
    return {"entries": len(infos), "uncompressed_size": uncompressed}


def check_tar(path: Path) -> dict[str, Any]:
    entries = uncompressed = 0
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:  # streamed: members are read one by one
                entries += 1
                _check_member_name(member.name)
                if member.issym() or member.islnk() or member.isdev():
                    raise CheckFailed(f"archive entry {member.name[:200]!r} is a link or device")
                uncompressed += member.size
                _check_totals(entries, uncompressed, 0)
    except (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib_error()) as exc:
        raise CheckFailed(f"not a readable tar archive (truncated or corrupt): {exc}") from None
    _check_totals(entries, uncompressed, path.stat().st_size)
    return {"entries": entries, "uncompressed_size": uncompressed}


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def check_compressed_stream(path: Path, opener) -> dict[str, Any]:
    """A single compressed stream (.gz/.bz2/.xz): count what it inflates to,
    stopping as soon as a limit is crossed."""
    compressed = path.stat().st_size
    limit = min(conf.ARCHIVE_MAX_UNCOMPRESSED, max(compressed, 1) * conf.ARCHIVE_MAX_RATIO)
    total = 0
    try:
        with opener(path, "rb") as stream:
            while block := stream.read(1 << 20):
                total += len(block)
                if total > limit:
                    raise CheckFailed(
                        f"compressed file inflates past {limit} bytes ({conf.ARCHIVE_MAX_RATIO}x its size; a bomb?)"
                    )
    except (OSError, EOFError, lzma.LZMAError, zlib_error()) as exc:
        raise CheckFailed(f"compressed stream is truncated or corrupt: {exc}") from None
    return {"uncompressed_size": total}


def check_archive(path: Path, *, extension: str, mime: str) -> dict[str, Any]:
    if mime == "application/zip" or extension == "zip":
        return check_zip(path)
    if extension in ("tar", "tgz") or path.name.endswith((".tar.gz", ".tar.bz2", ".tar.xz")):
        return check_tar(path)
    if tarfile.is_tarfile(path):
        return check_tar(path)
    openers = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}
    mime_openers = {"application/gzip": gzip.open, "application/x-gzip": gzip.open, "application/x-bzip2": bz2.open}
    opener = openers.get(extension) or mime_openers.get(mime) or (lzma.open if mime == "application/x-xz" else None)
    if opener is None:
        raise CheckFailed(f"archive format {mime} is not supported")
    return check_compressed_stream(path, opener)

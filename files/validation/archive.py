"""Archives (and xlsx, which is a zip): refused when they would unpack to
far more than they weigh (zip bombs), write outside their folder (path
traversal, links), or carry executables.

Nested archives (a zip in a zip, a tar.gz in a zip, a gz of a gz...) are
opened too, to `FILES_ARCHIVE_MAX_DEPTH` levels, and every layer spends one
budget: all that the file expands to, summed over every layer, must stay
under `FILES_ARCHIVE_MAX_RATIO` times the uploaded size (and
`FILES_ARCHIVE_MAX_UNCOMPRESSED`). Nothing is held in memory whole: zip and
tar sizes come from their headers (which bound what can be inflated), a
compressed stream is inflated block by block and counted, and a nested zip,
which needs random access, is copied to a temporary file first, capped.
"""

import bz2
import gzip
import lzma
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from files import conf
from files.validation.report import CheckFailed

_BLOCK = 1 << 20
_HEAD = 512
# Inflating or reading any of these can fail on a hostile archive.
_READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error, ValueError)

_COMPRESSED_OPENERS = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
_TAR_MODES = {"gzip": "r:gz", "bzip2": "r:bz2", "xz": "r:xz", None: "r:"}


def _kind(head: bytes) -> str | None:
    """The container format from its magic bytes (names and declared types lie)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def _executable(head: bytes) -> str | None:
    """What kind of program the first bytes are, if any (PE/DOS, ELF,
    Mach-O, Java class, or a script with a #! line)."""
    if head.startswith(b"MZ") and b"\x00" in head[:64]:
        return "a Windows/DOS executable"
    if head.startswith(b"\x7fELF"):
        return "an ELF executable"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
        return "a Mach-O executable"
    if head.startswith(b"\xca\xfe\xba\xbe"):
        return "a Java class or Mach-O universal binary"
    if head.startswith(b"#!"):
        return "a script"
    return None


@dataclass
class _Budget:
    """What the whole file may expand to, over all its layers."""

    limit: int
    expanded: int = 0
    entries: int = 0
    deepest: int = 1

    def entry(self) -> None:
        self.entries += 1
        if self.entries > conf.ARCHIVE_MAX_ENTRIES:
            raise CheckFailed(f"archive has more than {conf.ARCHIVE_MAX_ENTRIES} entries (nested ones included)")

    def check(self, more: int) -> None:
        if self.expanded + more <= self.limit:
            return
        if self.limit == conf.ARCHIVE_MAX_UNCOMPRESSED:
            raise CheckFailed(
                f"archive would unpack to more than {conf.ARCHIVE_MAX_UNCOMPRESSED} bytes "
                "(nested archives included), above the limit"
            )
        raise CheckFailed(
            f"archive would unpack to more than {conf.ARCHIVE_MAX_RATIO}x its size "
            "(nested archives included; a zip bomb?)"
        )

    def spend(self, nbytes: int) -> None:
        self.check(nbytes)
        self.expanded += nbytes


def _check_member_name(name: str) -> None:
    normal = name.replace("\\", "/")
    path = PurePosixPath(normal)
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":") or ".." in path.parts:
        raise CheckFailed(f"archive entry {name[:200]!r} points outside the archive (path traversal)")
    if any(ord(ch) < 32 for ch in name):
        raise CheckFailed("an archive entry name contains control characters")


def _check_member_type(name: str, head: bytes) -> None:
    """Executables and scripts are refused inside archives as they are outside."""
    base = PurePosixPath(name.replace("\\", "/")).name
    blocked = sorted({part.lower() for part in base.split(".")[1:]} & set(conf.BLOCKED_EXTENSIONS))
    if blocked:
        raise CheckFailed(
            f"archive entry {name[:200]!r} has the blocked extension .{blocked[0]} "
            "(executables and scripts are not allowed)"
        )
    program = _executable(head)
    if program:
        raise CheckFailed(f"archive entry {name[:200]!r} is {program} (executables are not allowed)")


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
    """The container checks for a zip whose members are not files of the
    user's (xlsx): names, links, entry count, total size and ratio."""
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


# --- Inspecting archives the user uploaded, layer by layer ------------------------


@contextmanager
def _copy_to_temp(source: IO[bytes], cap: int) -> Iterator[Path]:
    """A nested archive that needs random access, copied to disk in blocks
    (never more than `cap` bytes), removed afterwards."""
    if cap > conf.ARCHIVE_MAX_NESTED_SIZE:
        raise CheckFailed(
            f"a nested archive of {cap} bytes is larger than the {conf.ARCHIVE_MAX_NESTED_SIZE} bytes "
            "that can be inspected"
        )
    folder = Path(conf.TEMP_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".nested") as out:
        copied = 0
        while block := source.read(_BLOCK):
            copied += len(block)
            if copied > cap:
                raise CheckFailed("a nested archive holds more than its header says (corrupt or hostile)")
            out.write(block)
        out.flush()
        yield Path(out.name)


def _descend(label: str, depth: int, budget: _Budget) -> int:
    deeper = depth + 1
    if deeper > conf.ARCHIVE_MAX_DEPTH:
        raise CheckFailed(
            f"archive entry {label[:200]!r} is an archive nested more than {conf.ARCHIVE_MAX_DEPTH} levels deep"
        )
    budget.deepest = max(budget.deepest, deeper)
    return deeper


def _inspect(path: Path, kind: str, label: str, depth: int, budget: _Budget) -> None:
    if kind == "zip":
        _inspect_zip(path, label, depth, budget)
    elif kind == "tar":
        _inspect_tar(path, None, label, depth, budget)
    else:
        _inspect_compressed(path, kind, label, depth, budget)


def _inspect_zip(path: Path, label: str, depth: int, budget: _Budget) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except _READ_ERRORS as exc:
        raise CheckFailed(f"not a readable zip archive (truncated or corrupt): {exc}") from None
    with archive:
        for info in archive.infolist():
            name = f"{label}{info.filename}"
            budget.entry()
            _check_member_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise CheckFailed(f"archive entry {name[:200]!r} is a symbolic link")
            # The declared size bounds what zipfile will ever inflate for the entry.
            budget.spend(info.file_size)
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise CheckFailed(f"archive entry {name[:200]!r} is encrypted and cannot be checked")
            try:
                with archive.open(info) as member:
                    _inspect_member(name, member, info.file_size, depth, budget)
            except CheckFailed:
                raise
            except (*_READ_ERRORS, NotImplementedError, RuntimeError) as exc:
                raise CheckFailed(
                    f"archive entry {name[:200]!r} cannot be read (truncated or corrupt): {exc}"
                ) from None


def _inspect_member(name: str, member, size: int, depth: int, budget: _Budget) -> None:
    """One regular entry of a zip or tar: refused if it is an executable; if
    it is itself an archive, copied out (bounded) and inspected one level
    deeper under the same budget."""
    head = member.read(_HEAD)
    _check_member_type(name, head)
    kind = _kind(head)
    if kind is None:
        return
    deeper = _descend(name, depth, budget)
    member.seek(0)
    with _copy_to_temp(member, size) as nested:
        _inspect(nested, kind, f"{name}/", deeper, budget)


def _inspect_tar(path: Path, compression: str | None, label: str, depth: int, budget: _Budget) -> None:
    # Sequential reading: headers and data are visited in order, so a
    # compressed tar is inflated once, forwards, without a temporary copy.
    try:
        archive = tarfile.open(path, mode=_TAR_MODES[compression])
    except _READ_ERRORS as exc:
        raise CheckFailed(f"not a readable tar archive (truncated or corrupt): {exc}") from None
    try:
        with archive:
            for member in archive:
                name = f"{label}{member.name}"
                budget.entry()
                _check_member_name(member.name)
                if member.issym() or member.islnk() or member.isdev():
                    raise CheckFailed(f"archive entry {name[:200]!r} is a link or device")
                # For a sparse member this is the expanded size, which is what counts.
                budget.spend(member.size)
                if not member.isfile():
                    continue
                _inspect_member(name, archive.extractfile(member), member.size, depth, budget)
    except CheckFailed:
        raise
    except _READ_ERRORS as exc:
        raise CheckFailed(f"not a readable tar archive (truncated or corrupt): {exc}") from None


def _xz_blocks(path: Path) -> Iterator[bytes]:
    """Inflate an .xz in blocks with a memory limit: the decoder allocates
    the dictionary its header asks for (up to 1.5 GiB), and lzma.open()
    cannot be told a limit."""
    with open(path, "rb") as raw:
        decompressor = lzma.LZMADecompressor(memlimit=conf.ARCHIVE_XZ_MEMLIMIT)
        first = True
        while True:
            if decompressor.eof:
                rest = decompressor.unused_data or raw.read(_BLOCK)
                if not rest:
                    return
                # Another stream follows (or padding, ignored as lzma.open does).
                decompressor, data, first = lzma.LZMADecompressor(memlimit=conf.ARCHIVE_XZ_MEMLIMIT), rest, False
            elif decompressor.needs_input:
                data = raw.read(_BLOCK)
                if not data:
                    raise EOFError("the xz stream ends before its end marker")
            else:
                data = b""
            try:
                block = decompressor.decompress(data, max_length=_BLOCK)
            except lzma.LZMAError as exc:
                if "memory usage limit" in str(exc).lower():
                    raise CheckFailed(
                        f"the xz stream needs more than {conf.ARCHIVE_XZ_MEMLIMIT} bytes of memory to unpack"
                    ) from None
                if not first:
                    return
                raise
            if block:
                yield block


def _compressed_blocks(path: Path, compression: str) -> Iterator[bytes]:
    if compression == "xz":
        yield from _xz_blocks(path)
        return
    with _COMPRESSED_OPENERS[compression](path, "rb") as stream:
        while block := stream.read(_BLOCK):
            yield block


def _inflate(path: Path, compression: str, budget: _Budget) -> tuple[int, bytes]:
    """Inflate a compressed stream block by block, counting, and stop as soon
    as it would exceed what is left of the budget. Returns (size, head)."""
    total = 0
    head = b""
    try:
        for block in _compressed_blocks(path, compression):
            if not head:
                head = block[:_HEAD]
            total += len(block)
            budget.check(total)
    except CheckFailed:
        raise
    except _READ_ERRORS as exc:
        raise CheckFailed(f"compressed stream is truncated or corrupt: {exc}") from None
    return total, head


def _inspect_compressed(path: Path, compression: str, label: str, depth: int, budget: _Budget) -> None:
    """A .gz/.bz2/.xz: always inflated in full (capped), because a tar or a
    bomb may hide behind a harmless first block."""
    size, head = _inflate(path, compression, budget)
    inner = _kind(head)
    name = label.rstrip("/") or "the compressed file"
    program = _executable(head)
    if program:
        raise CheckFailed(f"{name} contains {program} (executables are not allowed)")
    if inner == "tar":
        # The tar's member sizes are spent instead (they include sparse
        # expansion); the stream itself was only checked against the budget.
        _inspect_tar(path, compression, label, depth, budget)
        return
    budget.spend(size)
    if inner is None:
        return
    deeper = _descend(f"{name} (inside)", depth, budget)
    try:
        with _COMPRESSED_OPENERS[compression](path, "rb") as stream, _copy_to_temp(stream, size) as nested:
            _inspect(nested, inner, f"{label}", deeper, budget)
    except CheckFailed:
        raise
    except _READ_ERRORS as exc:
        raise CheckFailed(f"compressed stream is truncated or corrupt: {exc}") from None


def check_archive(path: Path, *, extension: str, mime: str) -> dict[str, Any]:
    """Inspect an uploaded archive and everything nested in it."""
    with open(path, "rb") as handle:
        head = handle.read(_HEAD)
    kind = _kind(head)
    if kind is None and tarfile.is_tarfile(path):
        kind = "tar"  # an old-style tar without the ustar magic
    if kind is None:
        raise CheckFailed(f"archive format {mime} is not supported (or the archive is corrupt)")
    uploaded = max(path.stat().st_size, 1)
    budget = _Budget(limit=min(conf.ARCHIVE_MAX_UNCOMPRESSED, uploaded * conf.ARCHIVE_MAX_RATIO))
    _inspect(path, kind, "", 1, budget)
    return {"format": kind, "entries": budget.entries, "uncompressed_size": budget.expanded, "depth": budget.deepest}

"""A SHA-256 whose running state can be saved between requests.

hashlib objects cannot be pickled, yet a tus upload arrives over many
requests, perhaps in different worker processes, and finishing it must not
re-read gigabytes. OpenSSL's SHA256_CTX is a plain 112-byte struct, so we
drive OpenSSL through ctypes and store the struct's bytes on the upload row.
The struct also records how many bytes it has hashed, which lets a caller
check that a saved state matches the bytes on disk.

Where libcrypto is missing, `ResumableSha256.restore()` returns None and the
caller re-hashes the on-disk prefix instead (correct, only slower).
"""

import ctypes
import ctypes.util
import hashlib
import struct
from typing import BinaryIO

_CTX_SIZE = 112  # unsigned int h[8], Nl, Nh, data[16], num, md_len
_VERSION = b"s1"


def _load() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypto")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.SHA256_Init.argtypes = [ctypes.c_void_p]
        lib.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return lib


_lib = _load()


class ResumableSha256:
    """hashlib-like SHA-256 with `state()` / `restore()`."""

    def __init__(self) -> None:
        self._hashed = 0
        if _lib is not None:
            self._ctx = ctypes.create_string_buffer(_CTX_SIZE)
            _lib.SHA256_Init(self._ctx)
            self._fallback = None
        else:
            self._fallback = hashlib.sha256()

    @property
    def hashed_bytes(self) -> int:
        return self._hashed

    def update(self, data: bytes | memoryview) -> None:
        self._hashed += len(data)
        if self._fallback is not None:
            self._fallback.update(data)
        elif isinstance(data, memoryview) and not data.readonly:
            # A view into a reused buffer is hashed where it is, without a copy.
            _lib.SHA256_Update(self._ctx, (ctypes.c_char * len(data)).from_buffer(data), len(data))
        else:
            _lib.SHA256_Update(self._ctx, bytes(data), len(data))

    def hexdigest(self) -> str:
        if self._fallback is not None:
            return self._fallback.hexdigest()
        out = ctypes.create_string_buffer(32)
        # Finalising destroys the context, so finalise a copy.
        _lib.SHA256_Final(out, ctypes.create_string_buffer(self._ctx.raw, _CTX_SIZE))
        return out.raw.hex()

    def state(self) -> bytes | None:
        """The running state as bytes, or None when it cannot be saved."""
        if self._fallback is not None:
            return None
        return _VERSION + struct.pack("<Q", self._hashed) + self._ctx.raw

    @classmethod
    def restore(cls, state: bytes | None, *, expected_bytes: int) -> "ResumableSha256 | None":
        """A hasher continuing from `state`, or None if the state is missing,
        foreign or does not cover exactly `expected_bytes`."""
        if _lib is None or not state:
            return None
        state = bytes(state)  # PostgreSQL hands back a memoryview
        if not state.startswith(_VERSION):
            return None
        body = state[len(_VERSION) :]
        if len(body) != 8 + _CTX_SIZE:
            return None
        (hashed,) = struct.unpack("<Q", body[:8])
        if hashed != expected_bytes:
            return None
        hasher = cls()
        hasher._ctx = ctypes.create_string_buffer(body[8:], _CTX_SIZE)
        hasher._hashed = hashed
        return hasher

    @classmethod
    def of_prefix(cls, fileobj: BinaryIO, length: int, block_size: int = 1 << 20) -> "ResumableSha256":
        """Hash the first `length` bytes of a file (the slow path, after a lost state)."""
        hasher = cls()
        fileobj.seek(0)
        remaining = length
        while remaining > 0:
            block = fileobj.read(min(block_size, remaining))
            if not block:
                raise ValueError(f"file is shorter than {length} bytes")
            hasher.update(block)
            remaining -= len(block)
        return hasher

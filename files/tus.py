"""The tus 1.0.0 protocol's vocabulary: headers in, headers out.

Parsing is strict: anything malformed is a 4xx with a clear detail, never an
exception further down. No ORM here; views call services with the values.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from aggregator.exceptions import DomainError, InvalidInput

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,expiration,checksum,termination"
CHECKSUM_ALGORITHMS = ("sha256", "sha1", "md5")
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
_METADATA_KEY = re.compile(r"^[!-+\--~]+$")  # printable ASCII without space or comma
_MAX_METADATA_LENGTH = 8192


class PreconditionFailed(DomainError):
    status_code = 412


class UnsupportedMediaType(DomainError):
    status_code = 415


class Locked(DomainError):
    status_code = 423


class ChecksumMismatch(DomainError):
    status_code = 460


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes


def check_version(value: str | None) -> None:
    if value != TUS_VERSION:
        raise PreconditionFailed(f"Tus-Resumable must be {TUS_VERSION}; got {value!r}.")


def parse_non_negative(value: str | None, header: str, *, required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{header} header is required.")
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        raise InvalidInput(f"{header} must be a non-negative integer; got {value[:40]!r}.")
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str]:
    """Decode `key base64,key base64` pairs; values must be UTF-8 text."""
    if not value or not value.strip():
        return {}
    if len(value) > _MAX_METADATA_LENGTH:
        raise InvalidInput("Upload-Metadata is too long.")
    result: dict[str, str] = {}
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if len(parts) > 2 or not parts[0]:
            raise InvalidInput(f"Upload-Metadata pair {pair.strip()[:40]!r} is malformed.")
        key = parts[0]
        if not _METADATA_KEY.match(key):
            raise InvalidInput(f"Upload-Metadata key {key[:40]!r} is not allowed.")
        if key in result:
            raise InvalidInput(f"Upload-Metadata key {key!r} appears twice.")
        try:
            decoded = base64.b64decode(parts[1], validate=True) if len(parts) == 2 else b""
            result[key] = decoded.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidInput(f"Upload-Metadata value of {key!r} is not base64 of UTF-8 text.") from None
    return result


def encode_metadata(metadata: dict[str, str]) -> str:
    # Re-encoded from the decoded values, so nothing a client sent is echoed raw.
    return ",".join(f"{key} {base64.b64encode(str(val).encode()).decode()}" for key, val in metadata.items())


def parse_checksum(value: str | None) -> Checksum | None:
    if not value:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise InvalidInput("Upload-Checksum must be '<algorithm> <base64 digest>'.")
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise InvalidInput(
            f"Checksum algorithm {algorithm[:20]!r} is not supported; use one of {', '.join(CHECKSUM_ALGORITHMS)}."
        )
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("Upload-Checksum digest is not valid base64.") from None
    return Checksum(algorithm=algorithm, digest=digest)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)

"""The resumable SHA-256 behind tus uploads."""

import hashlib
import io

from files.hashing import ResumableSha256


def test_a_saved_state_resumes_to_the_same_digest_as_hashlib():
    data = bytes(range(256)) * 5000 + b"tail"
    first = ResumableSha256()
    first.update(data[:333_333])
    state = first.state()
    assert state is not None and isinstance(state, bytes)
    resumed = ResumableSha256.restore(memoryview(state), expected_bytes=333_333)  # as PostgreSQL returns it
    resumed.update(data[333_333:])
    assert resumed.hexdigest() == hashlib.sha256(data).hexdigest()
    assert resumed.hashed_bytes == len(data)


def test_a_state_for_a_different_offset_or_garbage_is_refused():
    hasher = ResumableSha256()
    hasher.update(b"abc")
    assert ResumableSha256.restore(hasher.state(), expected_bytes=4) is None
    assert ResumableSha256.restore(b"junk", expected_bytes=0) is None
    assert ResumableSha256.restore(None, expected_bytes=0) is None


def test_the_digest_can_be_read_without_ending_the_hash():
    hasher = ResumableSha256()
    hasher.update(b"ab")
    assert hasher.hexdigest() == hashlib.sha256(b"ab").hexdigest()
    hasher.update(b"c")
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_the_prefix_of_a_file_can_be_rehashed():
    assert ResumableSha256.of_prefix(io.BytesIO(b"abcdef"), 3).hexdigest() == hashlib.sha256(b"abc").hexdigest()

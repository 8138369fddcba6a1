"""Every case of the hostile corpus goes through the tus API (so any file
name, NUL and RTL characters included, reaches the server as sent) and is
validated: it ends COMPLETED or FAILED with a clear reason as the corpus
says, never a 5xx, and the Python heap of the whole upload + validation
stays bounded (tracemalloc peak), so no bomb was expanded in memory.

Virus cases need clamd (CLAMAV_URL); on the embedded run they skip.
"""

import base64
import json
import os
import tracemalloc

import pytest
from django.conf import settings

from files import conf as files_conf
from files.models import FileUpload
from tests.acceptance.conftest import TUS
from tests.acceptance.hostile_corpus import CASES, MIB, Case
from tests.services import need

pytestmark = pytest.mark.django_db

# The heap may hold the request body a few times over (test client, stream
# buffers) but never what a bomb expands to (50 MiB and more).
HEAP_ALLOWANCE = 24 * MIB
PEAKS: dict[str, int] = {}


def _metadata(filename: str) -> str:
    encoded = base64.b64encode(filename.encode("utf-8", "surrogatepass")).decode()
    return f"filename {encoded}"


def upload_through_tus(client, filename: str, data: bytes) -> FileUpload | str:
    """The stored upload, or the detail of a 400 refusal at creation."""
    created = client.post(
        "/api/v1/files/tus/", **TUS, HTTP_UPLOAD_LENGTH=str(len(data)), HTTP_UPLOAD_METADATA=_metadata(filename)
    )
    assert created.status_code in (201, 400), created.content
    if created.status_code == 400:
        return created.json()["detail"]
    location = created["Location"]
    if data:
        patched = client.generic(
            "PATCH",
            location,
            data=data,
            content_type="application/offset+octet-stream",
            **TUS,
            HTTP_UPLOAD_OFFSET="0",
        )
        assert patched.status_code == 204, patched.content
    return FileUpload.objects.get(pk=location.rstrip("/").rsplit("/", 1)[-1])


@pytest.fixture
def scanner(monkeypatch):
    url = os.environ.get("CLAMAV_URL", "")
    if url:
        monkeypatch.setattr(files_conf, "CLAMAV_URL", url)
    return url


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hostile_file_is_classified_with_a_clear_reason(
    case: Case, alice_client, scanner, django_capture_on_commit_callbacks, request
):
    if case.needs_scanner:
        need("CLAMAV_URL", 3310)
    if case.known_bug:
        request.applymarker(pytest.mark.xfail(reason=case.known_bug))
    data = case.build()
    tracemalloc.start()
    try:
        # Validation is queued on commit; run it (eagerly) as the upload ends.
        with django_capture_on_commit_callbacks(execute=True):
            upload = upload_through_tus(alice_client, case.filename, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    PEAKS[case.name] = peak
    assert peak < 3 * len(data) + (case.max_heap or HEAP_ALLOWANCE), (
        f"heap peak {peak / MIB:.1f} MiB for {len(data)} bytes"
    )
    if isinstance(upload, str):
        assert case.expect == "refused", f"{case.name}: refused at creation ({upload!r}), expected {case.expect}"
        assert any(word in upload.lower() for word in case.reason), f"{case.name}: unclear refusal {upload!r}"
        return
    assert case.expect != "refused", f"{case.name}: accepted at creation, expected a refusal"

    upload.refresh_from_db()
    shown = alice_client.get(f"/api/v1/files/{upload.pk}/")
    assert shown.status_code == 200
    body = shown.json()
    reason = (body["failure_reason"] or "").lower()
    assert body["status"] == case.expect, f"{case.name}: {body['status']} ({reason!r}), expected {case.expect}"
    if case.expect == "failed":
        assert reason, "a failed file must say why"
        assert any(word in reason for word in case.reason), f"{case.name}: unclear reason {reason!r}"
    # Reasons speak of the user's file, never of our storage paths.
    assert str(settings.MEDIA_ROOT) not in json.dumps(body)
    # The report is always there and JSON, whatever the content was.
    assert isinstance(body["validation_report"], dict)

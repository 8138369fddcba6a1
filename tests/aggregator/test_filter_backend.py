"""The filter backend (aggregator/filters.py) builds a list's FilterSet only
when the request names one of its filters: a plain list answers the same
rows without paying for the FilterSet's deep copies and form, and any
named filter, valid or not, still goes through django-filter."""

import pytest

from files.filters import FileUploadFilter
from files.models import FileStatus, FileUpload

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(monkeypatch):
    """Counts the FileUploadFilter instances the requests build."""
    made = []
    original = FileUploadFilter.__init__

    def counting(self, *args, **kwargs):
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(FileUploadFilter, "__init__", counting)
    return made


@pytest.fixture
def files(alice, bob):
    def make(owner, name, status):
        return FileUpload.objects.create(owner=owner, filename=name, size=1, offset=1, status=status)

    return [
        make(alice, "done.csv", FileStatus.COMPLETED),
        make(alice, "failed.csv", FileStatus.FAILED),
        make(bob, "bobs.csv", FileStatus.COMPLETED),
    ]


def _names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["filename"] for row in response.json()["results"]}


def test_a_plain_list_builds_no_filterset_and_answers_every_row(alice_client, files, built):
    assert _names(alice_client.get("/api/v1/files/")) == {"done.csv", "failed.csv"}
    assert _names(alice_client.get("/api/v1/files/?page=1&ordering=filename&unknown=1")) == {"done.csv", "failed.csv"}
    assert built == []


def test_a_named_filter_is_applied(alice_client, files, built):
    assert _names(alice_client.get("/api/v1/files/?status=failed")) == {"failed.csv"}
    assert _names(alice_client.get("/api/v1/files/?name=done")) == {"done.csv"}
    assert _names(alice_client.get("/api/v1/files/?created_after=2999-01-01T00:00:00Z")) == set()
    assert len(built) == 3


def test_an_invalid_filter_value_is_still_a_400_with_a_detail(alice_client, files):
    response = alice_client.get("/api/v1/files/?status=NOT-A-STATUS")
    assert response.status_code == 400
    assert "status" in str(response.json())

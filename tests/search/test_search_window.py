"""The ranked window on PostgreSQL: past SEARCH_RANK_WINDOW matches a search
ranks the first found, counts are lower bounds (`exact: false`), and paging
still walks every match exactly once. The SQLite fallback always counts
exactly."""

import pytest
from django.db import connection

from aggregator.models import Pipeline
from search import conf

pytestmark = pytest.mark.django_db(transaction=True)


def _search(client, **params):
    response = client.get("/api/v1/search/", params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the ranked window is PostgreSQL's (the fallback counts every match)")


def test_below_the_window_counts_are_exact(alice, alice_client, make, monkeypatch):
    monkeypatch.setattr(conf, "RANK_WINDOW", 5)
    for index in range(3):
        make(Pipeline, alice, f"Harbor {index}")
    body = _search(alice_client, q="harbor")
    assert body["exact"] is True and body["count"] == 3 and len(body["results"]) == 3


def test_past_the_window_counts_are_lower_bounds_and_paging_sees_every_match_once(
    postgres_only, alice, alice_client, make, monkeypatch
):
    monkeypatch.setattr(conf, "RANK_WINDOW", 3)
    made = {make(Pipeline, alice, f"Lantern {index}").pk for index in range(8)}
    first = _search(alice_client, q="lantern", limit=2)
    assert first["exact"] is False
    assert first["count"] == first["counts"]["pipelines"] == 3
    seen = []
    for offset in range(0, 10, 2):
        seen += [row["id"] for row in _search(alice_client, q="lantern", limit=2, offset=offset)["results"]]
    assert sorted(seen) == sorted(made)


def test_a_phrase_tests_a_bounded_number_of_candidates(postgres_only, alice, alice_client, make, monkeypatch):
    monkeypatch.setattr(conf, "RANK_WINDOW", 2)
    # Rows with both words but not as the phrase: candidates that fail it.
    for index in range(6):
        make(Pipeline, alice, f"Copper wire {index}", description="wire, then copper")
    body = _search(alice_client, q='"wire copper"')
    assert body["exact"] is False and body["results"] == []
    assert _search(alice_client, q='"copper wire"', limit=1)["results"][0]["title"].startswith("Copper wire")

"""Bad input to the search endpoints: a clear 4xx with a detail, or an
empty result; never a 500."""

import pytest

from aggregator.models import Pipeline

pytestmark = pytest.mark.django_db(transaction=True)

NASTY_QUERIES = [
    "'",
    '"',
    '"unterminated',
    "a & b | !c",
    "foo:* <-> bar",
    "(((",
    "))) !!! &&&",
    "-",
    "or",
    "the and of",
    "'; DROP TABLE search_searchentry; --",
    "%_\\",
    "\\x00",
    "🙂 ünïcödé",
    "a" * 200,
]


@pytest.fixture
def indexed(alice):
    return Pipeline.objects.create(owner=alice, name="Orders pipeline", description="loads orders")


def test_syntax_characters_never_break_search(alice_client, indexed):
    for q in NASTY_QUERIES:
        for path in ("/api/v1/search/", "/api/v1/search/pipelines", "/api/v1/search/suggestions"):
            response = alice_client.get(path, {"q": q})
            assert response.status_code == 200, (path, q, response.content)
            assert isinstance(response.json()["results"], list)


def test_it_refuses_a_nul_byte_before_it_reaches_the_database(alice_client, indexed):
    for path in ("/api/v1/search/", "/api/v1/search/suggestions"):
        response = alice_client.get(path, {"q": "orders\x00"})
        assert response.status_code == 400
        assert "q" in response.json()["detail"]


def test_it_rejects_an_empty_query(alice_client):
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "\x01\x02"}):
        response = alice_client.get("/api/v1/search/", params)
        assert response.status_code == 400
        assert "q" in response.json()["detail"]


def test_suggestions_for_an_empty_query_are_empty(alice_client):
    for params in ({}, {"q": ""}, {"q": "  "}):
        response = alice_client.get("/api/v1/search/suggestions", params)
        assert response.status_code == 200 and response.json()["results"] == []


def test_it_rejects_a_10_kb_query(alice_client):
    for path in ("/api/v1/search/", "/api/v1/search/suggestions", "/api/v1/search/pipelines"):
        response = alice_client.get(path, {"q": "x" * 10_240})
        assert response.status_code == 400
        assert "q" in response.json()["detail"]


def test_it_rejects_an_unknown_type(alice_client):
    response = alice_client.get("/api/v1/search/", {"q": "x", "types": "pipelines,spaceships"})
    assert response.status_code == 400
    assert "spaceships" in response.json()["detail"]
    response = alice_client.get("/api/v1/search/spaceships", {"q": "x"})
    assert response.status_code == 404 and "spaceships" in response.json()["detail"]
    assert alice_client.get("/api/v1/search/suggestions", {"q": "x", "types": "nope"}).status_code == 400


BAD_PAGING = [
    {"limit": "-1"},
    {"limit": "0"},
    {"limit": "1000000000000"},
    {"limit": "ten"},
    {"offset": "-5"},
    {"offset": "99999999999999999999"},
    {"limit": "1.5"},
]


def test_it_rejects_out_of_range_paging(alice_client):
    for params in BAD_PAGING:
        response = alice_client.get("/api/v1/search/", {"q": "orders", **params})
        assert response.status_code == 400, params
        assert response.json()["detail"]
    assert alice_client.get("/api/v1/search/suggestions", {"q": "o", "limit": "-1"}).status_code == 400


def test_blank_types_mean_every_type(alice_client, indexed):
    assert alice_client.get("/api/v1/search/", {"q": "orders", "types": ",,"}).json()["count"] == 1


def test_a_type_whose_app_has_not_landed_is_empty_not_unknown(staff_client):
    response = staff_client.get("/api/v1/search/files", {"q": "report"})
    assert response.status_code == 200 and response.json()["results"] == []

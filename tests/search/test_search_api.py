"""Global search, per-type search and suggestions over HTTP.

Real commits (transactional tests): the index is written on commit, as in
production. On the embedded run this covers the SQLite fallback; on the
services run, PostgreSQL full-text and trigram search.
"""

import pytest
from django.db import connection

from aggregator.models import Connector, Pipeline, PipelineTemplate, Transformation, TransformationFunction
from search.models import SearchEntry

pytestmark = pytest.mark.django_db(transaction=True)


def _search(client, **params):
    response = client.get("/api/v1/search/", params)
    assert response.status_code == 200, response.content
    return response.json()


def _titles(body):
    return [row["title"] for row in body["results"]]


def test_it_finds_every_core_type_in_one_ranked_list(alice, alice_client, make):
    make(Pipeline, alice, "Orders nightly load", description="moves orders to the warehouse")
    make(Connector, alice, "Orders bucket")
    make(Transformation, alice, "Clean orders")
    make(PipelineTemplate, alice, "Orders template")
    make(TransformationFunction, alice, "orders_dedupe", code="def dedupe(orders): ...")
    make(Pipeline, alice, "Invoices", description="unrelated")

    body = _search(alice_client, q="orders")

    assert {row["type"] for row in body["results"]} == {
        "pipelines",
        "connectors",
        "transformations",
        "templates",
        "functions",
    }
    assert "Invoices" not in _titles(body)
    assert body["counts"]["pipelines"] >= 1 and body["count"] == len(body["results"])
    first = body["results"][0]
    assert set(first) == {"type", "id", "title", "snippet", "url", "score"}
    assert first["url"].startswith("/api/v1/")
    scores = [row["score"] for row in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_snippets_highlight_the_match_and_escape_html(alice, alice_client, make):
    make(Pipeline, alice, "Loader", description="copies <script>alert(1)</script> warehouse rows")
    body = _search(alice_client, q="warehouse")
    snippet = body["results"][0]["snippet"]
    assert "<mark>warehouse</mark>" in snippet.lower()
    assert "<script>" not in snippet


def test_a_title_match_outranks_a_description_match(alice, alice_client, make):
    make(Pipeline, alice, "Something else", description="mentions telemetry once")
    make(Pipeline, alice, "Telemetry", description="plain")
    assert _titles(_search(alice_client, q="telemetry"))[0] == "Telemetry"


def test_types_limit_and_offset_narrow_the_list(alice, alice_client, make):
    for index in range(5):
        make(Pipeline, alice, f"Metrics {index}")
    make(Connector, alice, "Metrics source")
    body = _search(alice_client, q="metrics", types="connectors")
    assert _titles(body) == ["Metrics source"]
    page = _search(alice_client, q="metrics", types="pipelines", limit=2, offset=2)
    assert len(page["results"]) == 2 and page["count"] == 5
    everything = _search(alice_client, q="metrics", types="pipelines", limit=10)
    assert _titles(page) == _titles(everything)[2:4]


def test_per_type_endpoint_searches_one_type(alice, alice_client, make):
    make(Pipeline, alice, "Billing run")
    make(Connector, alice, "Billing api")
    response = alice_client.get("/api/v1/search/connectors", {"q": "billing"})
    assert response.status_code == 200
    assert [row["type"] for row in response.json()["results"]] == ["connectors"]
    assert alice_client.get("/api/v1/search/connectors/", {"q": "billing"}).status_code == 200


def test_a_user_never_sees_another_users_objects(alice, bob, alice_client, bob_client, make):
    make(Pipeline, alice, "Secret ledger")
    assert _search(bob_client, q="ledger")["count"] == 0
    assert bob_client.get("/api/v1/search/suggestions", {"q": "secr"}).json()["results"] == []
    assert _search(alice_client, q="ledger")["count"] == 1


def test_staff_see_everyones_objects(alice, bob, staff_client, make):
    make(Pipeline, alice, "Quarterly close")
    make(Pipeline, bob, "Quarterly close")
    assert _search(staff_client, q="quarterly")["counts"]["pipelines"] == 2


def test_users_find_themselves_and_staff_find_everyone(alice, bob, alice_client, staff_client):
    assert _titles(_search(alice_client, q="bob")) == []
    assert _titles(_search(alice_client, q="alice")) == ["alice"]
    assert "bob" in _titles(_search(staff_client, q="bob", types="users"))


def test_staff_only_types_are_closed_to_users(alice_client, staff_client):
    for type_name in ("logs", "alerts", "alert-rules"):
        response = alice_client.get(f"/api/v1/search/{type_name}", {"q": "disk"})
        assert response.status_code == 403 and "detail" in response.json()
        assert staff_client.get(f"/api/v1/search/{type_name}", {"q": "disk"}).status_code == 200
    assert _search(alice_client, q="disk", types="logs,alerts")["count"] == 0


def test_anonymous_callers_are_refused(anon_client):
    assert anon_client.get("/api/v1/search/", {"q": "x"}).status_code in (401, 403)
    assert anon_client.get("/api/v1/search/suggestions", {"q": "x"}).status_code in (401, 403)


def test_the_index_follows_create_update_and_delete(alice, alice_client, make):
    pipeline = make(Pipeline, alice, "Harvest")
    assert _titles(_search(alice_client, q="harvest")) == ["Harvest"]
    alice_client.patch(f"/api/v1/pipelines/{pipeline.pk}/", {"name": "Gather"}, format="json")
    assert _titles(_search(alice_client, q="harvest")) == []
    assert _titles(_search(alice_client, q="gather")) == ["Gather"]
    alice_client.delete(f"/api/v1/pipelines/{pipeline.pk}/")
    assert _search(alice_client, q="gather")["count"] == 0
    assert not SearchEntry.objects.filter(type="pipelines", object_id=str(pipeline.pk)).exists()


def test_cascade_and_bulk_deletes_leave_nothing_behind(alice, alice_client, make):
    host = make(Pipeline, alice, "Parent flow")
    Transformation.objects.create(owner=alice, pipeline=host, name="Child step")
    make(Connector, alice, "Lonely source")
    host.delete()
    Connector.objects.filter(owner=alice).delete()
    assert _search(alice_client, q="child")["count"] == 0
    assert _search(alice_client, q="lonely")["count"] == 0
    alice.delete()
    assert SearchEntry.objects.count() == 0


def test_an_object_deleted_without_signals_never_appears(alice, alice_client, make):
    # GIVEN a row removed by raw SQL, which sends no signal
    pipeline = make(Pipeline, alice, "Phantom")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM aggregator_pipeline WHERE id = %s", [pipeline.pk])
    # WHEN it is searched for, THEN it is not found, and its entry is gone
    assert _search(alice_client, q="phantom")["results"] == []
    assert alice_client.get("/api/v1/search/suggestions", {"q": "phan"}).json()["results"] == []
    assert not SearchEntry.objects.filter(type="pipelines", object_id=str(pipeline.pk)).exists()


def test_a_rolled_back_write_is_not_indexed(alice, alice_client):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        Pipeline.objects.create(owner=alice, name="Never committed")
        raise RuntimeError("roll back")
    assert _search(alice_client, q="committed")["count"] == 0


def test_suggestions_complete_prefixes(alice, alice_client, make):
    make(Pipeline, alice, "Revenue daily")
    make(Connector, alice, "Revenue warehouse")
    make(Pipeline, alice, "Costs")
    response = alice_client.get("/api/v1/search/suggestions", {"q": "reve"})
    assert response.status_code == 200
    assert sorted(_titles(response.json())) == ["Revenue daily", "Revenue warehouse"]
    limited = alice_client.get("/api/v1/search/suggestions/", {"q": "rev", "limit": 1}).json()
    assert len(limited["results"]) == 1


def test_suggestions_tolerate_typos_on_postgresql(alice, alice_client, make):
    if connection.vendor != "postgresql":
        pytest.skip("typo tolerance needs pg_trgm")
    make(Pipeline, alice, "Marketing attribution")
    results = alice_client.get("/api/v1/search/suggestions", {"q": "markting"}).json()["results"]
    assert [row["title"] for row in results] == ["Marketing attribution"]


def test_search_falls_back_to_similar_titles_on_postgresql(alice, alice_client, make):
    if connection.vendor != "postgresql":
        pytest.skip("typo tolerance needs pg_trgm")
    make(Pipeline, alice, "Marketing attribution")
    body = _search(alice_client, q="atribution")
    assert body["fuzzy"] is True
    assert _titles(body) == ["Marketing attribution"]


def test_a_known_word_is_not_corrected_into_another(alice, bob, alice_client, make):
    if connection.vendor != "postgresql":
        pytest.skip("typo tolerance needs pg_trgm")
    # "harbor" is a title word (bob's), so it is no typo of alice's "harbour":
    # alice's search finds nothing rather than something she did not ask for.
    make(Pipeline, alice, "Harbour cranes")
    make(Pipeline, bob, "Harbor cranes")
    body = _search(alice_client, q="harbor")
    assert body["fuzzy"] is False and body["results"] == [] and body["count"] == 0
    # A word no title has is corrected to the closest known one.
    body = _search(alice_client, q="harbourr")
    assert body["fuzzy"] is True and _titles(body) == ["Harbour cranes"]


def test_the_trigram_threshold_is_the_fuzzy_threshold_on_every_connection():
    if connection.vendor != "postgresql":
        pytest.skip("pg_trgm is PostgreSQL's")
    from search import conf

    with connection.cursor() as cursor:
        cursor.execute("SHOW pg_trgm.similarity_threshold")
        assert float(cursor.fetchone()[0]) == conf.FUZZY_THRESHOLD


def test_only_the_page_is_returned_with_snippets_and_counts_cover_every_match(alice, alice_client, make):
    for index in range(7):
        make(Pipeline, alice, f"Beacon {index}", description="a beacon for the <b>harbour</b>")
    first = _search(alice_client, q="beacon", limit=3)
    second = _search(alice_client, q="beacon", limit=3, offset=3)
    assert first["count"] == second["count"] == 7 and first["counts"] == {"pipelines": 7}
    assert len(first["results"]) == len(second["results"]) == 3
    assert not {row["id"] for row in first["results"]} & {row["id"] for row in second["results"]}
    for row in first["results"] + second["results"]:
        assert "<mark>" in row["snippet"].lower() and "<b>" not in row["snippet"]
    scores = [row["score"] for row in first["results"] + second["results"]]
    assert scores == sorted(scores, reverse=True)


def test_reindex_repairs_what_bulk_paths_changed(alice, alice_client, make):
    from django.core.management import call_command

    make(Pipeline, alice, "Original bulk")
    Pipeline.objects.filter(owner=alice).update(name="Renamed bulk")
    Connector.objects.bulk_create([Connector(owner=alice, name="Bulk source", kind="s3")])
    assert _search(alice_client, q="renamed")["count"] == 0
    call_command("reindex", "--no-progress")
    assert _titles(_search(alice_client, q="renamed")) == ["Renamed bulk"]
    assert _titles(_search(alice_client, q="original")) == []
    assert _titles(_search(alice_client, q="bulk", types="connectors")) == ["Bulk source"]

"""API fuzzing: schemathesis generates requests for every operation in the
OpenAPI schema served at /api/schema/ and sends them through the WSGI app, as
a normal user and as staff. No answer may be a 5xx, and every documented
answer must match the schema. Examples are bounded (FUZZ_EXAMPLES, default 10
per operation and persona) so the whole run takes minutes.

One pytest item per operation and persona; hypothesis drives the examples
inside it (schemathesis' own pytest loader does not run on pytest 9).
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from aggregator.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, response_schema_conformance]


def _load_schema():
    # The same generator the /api/schema/ view uses (test_the_served_schema_is_the_one_fuzzed
    # checks that), without a request at collection time.
    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = application
    return loaded


SCHEMA = _load_schema()
OPERATIONS = {f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in SCHEMA.get_all_operations())}


@pytest.fixture
def wsgi_in_test_transaction(db):
    # The real WSGI app closes the database connection when a request ends,
    # which would end the test's transaction; Django's test client unhooks
    # the same handlers for the same reason.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_the_served_schema_is_the_one_fuzzed(anon_client):
    served = anon_client.get("/api/schema/?format=json").json()
    assert sorted(served["paths"]) == sorted(SCHEMA.raw_schema["paths"])
    assert len(OPERATIONS) > 40


@pytest.mark.parametrize("persona", ["alice", "staff"])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_operation_answers_5xx_or_off_schema(label, persona, request, wsgi_in_test_transaction):
    user = request.getfixturevalue(persona)
    token, _ = Token.objects.get_or_create(user=user)
    headers = {"Authorization": f"Token {token.key}"}

    @given(case=OPERATIONS[label].as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        # Each example in its own savepoint: a value PostgreSQL refuses (a
        # 400) aborts the transaction, and the next example must not inherit it.
        with transaction.atomic():
            case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()

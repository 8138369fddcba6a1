"""aggregator.renderers.JSONRenderer writes the bytes DRF's JSONRenderer
writes, with orjson."""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from aggregator.renderers import JSONRenderer
from files.models import FileStatus


def _both(data, media_type=None):
    return JSONRenderer().render(data, media_type), renderers.JSONRenderer().render(data, media_type)


SAMPLES = {
    "nested serializer output": ReturnDict(
        {
            "count": 2,
            "results": ReturnList(
                [{"id": 1, "ok": True, "none": None}, {"id": 2, "f": 0.1, "neg": -3}], serializer=None
            ),
        },
        serializer=None,
    ),
    "aware datetime in UTC": {"at": datetime(2026, 11, 30, 4, 5, 6, 789, tzinfo=UTC)},
    "aware datetime elsewhere": {"at": datetime(2026, 11, 30, 4, 5, 6, tzinfo=ZoneInfo("Europe/Paris"))},
    "naive datetime": {"at": datetime(2026, 11, 30, 4, 5, 6)},
    "date, time, timedelta": {"d": date(2026, 1, 2), "t": time(3, 4, 5, 6), "delta": timedelta(hours=1, seconds=1)},
    "decimal and uuid": {"n": Decimal("1.25"), "id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    "lazy string and choices": {"label": gettext_lazy("Invalid token."), "status": FileStatus.COMPLETED},
    "unicode": {"text": "é ✓ 日本 \U0001f600", "control": "a\tb\nc\x00d"},
    "line separators": {"text": "one\u2028two\u2029three"},
    "tuples and sets of one": {"t": (1, 2), "empty": [], "nested": {"a": {"b": [{"c": []}]}}},
    "big but 64-bit integers": {"n": 2**63 - 1, "m": -(2**63)},
}


@pytest.mark.parametrize("data", SAMPLES.values(), ids=SAMPLES.keys())
def test_the_same_bytes_as_drf(data):
    ours, drf = _both(data)
    assert ours == drf


@pytest.mark.parametrize(
    "data",
    [{1: "integer key"}, {"n": 2**64}, {"deep": json.loads("[" * 300 + "]" * 300)}],
    ids=["integer key", "beyond 64 bits", "nested past 254 levels"],
)
def test_what_orjson_refuses_is_written_by_drf(data):
    ours, drf = _both(data)
    assert ours == drf


def test_an_indent_asked_for_is_honoured_as_drf_does():
    ours, drf = _both({"a": [1, 2]}, "application/json; indent=4")
    assert ours == drf
    assert b"\n    " in ours


def test_an_object_json_has_no_type_for_is_refused_as_before():
    with pytest.raises(TypeError):
        JSONRenderer().render({"x": object()})


def test_a_not_a_number_float_is_null_instead_of_an_error():
    assert JSONRenderer().render({"x": float("nan")}) == b'{"x":null}'


def test_api_answers_go_through_it(client):
    from django.conf import settings

    assert settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"][0] == "aggregator.renderers.JSONRenderer"
    response = client.get("/api/v1/pipelines/")
    assert response.status_code == 401
    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.json()["detail"]

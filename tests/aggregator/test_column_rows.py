"""A list page rendered from column values (aggregator.api.column_rows) holds
exactly what the serializer gives for the same rows as model instances."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from aggregator.api import column_rows, column_values
from aggregator.models import Pipeline
from files.models import FileStatus, FileUpload
from files.serializers import FileUploadSerializer

pytestmark = pytest.mark.django_db


def test_rows_from_columns_equal_the_serializers_output(alice, bob):
    pipeline = Pipeline.objects.create(name="p", owner=alice)
    first = FileUpload.objects.create(
        owner=alice,
        filename="with everything.csv",
        size=10,
        offset=10,
        progress=100,
        status=FileStatus.COMPLETED,
        pipeline=pipeline,
        sha256="ab" * 32,
        validation_report={"checks": [{"name": "csv", "passed": True}], "rows": 2, "note": "é ✓"},
        completed_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
        failure_reason="",
    )
    FileUpload.objects.create(owner=bob, filename="bare.bin", size=5, source=first)
    FileUpload.objects.create(owner=alice, filename="failed.json", size=0, status=FileStatus.FAILED, failure_reason="x")
    queryset = FileUpload.objects.order_by("filename")

    expected = FileUploadSerializer(queryset, many=True).data
    got = column_rows(FileUploadSerializer, column_values(FileUploadSerializer, queryset))

    assert got == expected
    assert [list(row) for row in got] == [list(row) for row in expected]  # the same keys in the same order
    assert {row["owner"] for row in got} == {"alice", "bob"}
    assert next(row for row in got if row["filename"] == "bare.bin")["source"] == first.pk


def test_a_field_that_is_not_one_column_is_refused():
    class Nested(serializers.ModelSerializer):
        label = serializers.SerializerMethodField()

        class Meta:
            model = FileUpload
            fields = ["id", "label"]

        def get_label(self, obj):
            return obj.filename

    with pytest.raises(TypeError, match="Nested.label"):
        column_rows(Nested, [])


def test_times_are_rendered_in_the_time_zone_current_for_the_request(alice):
    FileUpload.objects.create(owner=alice, filename="a.csv", size=1, completed_at=timezone.now())
    queryset = FileUpload.objects.all()
    with timezone.override("America/New_York"):
        expected = FileUploadSerializer(queryset, many=True).data
        got = column_rows(FileUploadSerializer, column_values(FileUploadSerializer, queryset))
    assert got == expected
    assert got[0]["created_at"].endswith(("-05:00", "-04:00"))
    # The next page, in UTC again, is not rendered in the zone of the last one.
    utc = column_rows(FileUploadSerializer, column_values(FileUploadSerializer, queryset))
    assert utc == FileUploadSerializer(queryset, many=True).data
    assert utc[0]["created_at"].endswith("Z")

import pytest

from aggregator.models import Connector, Pipeline, PipelineTemplate, Transformation, TransformationFunction


@pytest.fixture
def make(db):
    """Creates a core entity through the ORM (signals index it on commit)."""

    def create(model, owner, name, **fields):
        if model is Transformation and "pipeline" not in fields:
            fields["pipeline"] = Pipeline.objects.create(owner=owner, name=f"{name} host")
        if model is Connector:
            fields.setdefault("kind", "s3")
        return model.objects.create(owner=owner, name=name, **fields)

    return create


__all__ = ["Connector", "Pipeline", "PipelineTemplate", "Transformation", "TransformationFunction"]

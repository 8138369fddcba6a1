"""Query parameters of the search endpoints: shape and bounds only."""

from rest_framework import serializers

from search import conf, providers


class SuggestionParams(serializers.Serializer):
    q = serializers.CharField(
        max_length=conf.MAX_QUERY_LENGTH, trim_whitespace=True, allow_blank=True, required=False, default=""
    )
    types = serializers.CharField(required=False, allow_blank=True, max_length=500)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=conf.MAX_LIMIT)

    def validate_q(self, value: str) -> str:
        # NUL is refused by PostgreSQL, and control characters mean nothing to a search.
        return "".join(char for char in value if char.isprintable()).strip()

    def validate_types(self, value: str) -> list[str]:
        names = list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
        unknown = [name for name in names if name not in providers.known_types()]
        if unknown:
            known = ", ".join(providers.known_types())
            raise serializers.ValidationError(f"Unknown type(s): {', '.join(unknown)}. Known types: {known}.")
        return names


class SearchParams(SuggestionParams):
    q = serializers.CharField(max_length=conf.MAX_QUERY_LENGTH, trim_whitespace=True)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=conf.MAX_OFFSET, default=0)

    def validate_q(self, value: str) -> str:
        value = super().validate_q(value)
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value

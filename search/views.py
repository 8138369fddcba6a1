"""Search endpoints: translate query parameters, call search.query, answer JSON."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from search import conf, providers, query
from search.serializers import SearchParams, SuggestionParams

_PARAMS = [
    OpenApiParameter("q", str, description='Words to find (websearch syntax: "phrase", or, -word).'),
    OpenApiParameter("types", str, description=f"Comma-separated subset of: {', '.join(providers.CONTRACT_TYPES)}."),
    OpenApiParameter("limit", int, description=f"Results per page, 1-{conf.MAX_LIMIT}."),
    OpenApiParameter("offset", int, description=f"Results to skip, 0-{conf.MAX_OFFSET}."),
]


def _types_for(user, requested: list[str] | None) -> list[str]:
    visible = query.visible_types(user)
    if not requested:
        return visible
    # A staff-only or not-yet-indexed type asked for by name is simply empty.
    return [name for name in requested if name in visible]


def _page_response(page: query.Page, *, limit: int, offset: int) -> Response:
    return Response(
        {
            "query": page.query,
            "count": page.count,
            "counts": page.counts,
            "exact": page.exact,
            "fuzzy": page.fuzzy,
            "limit": limit,
            "offset": offset,
            "results": page.results,
        }
    )


class SearchView(APIView):
    """One ranked list across every entity type the caller may see."""

    @extend_schema(operation_id="search", parameters=_PARAMS, responses={200: dict})
    def get(self, request, type_name: str | None = None):
        requested = None
        if type_name is not None:
            if type_name not in providers.known_types():
                raise NotFound(f"Unknown search type {type_name!r}.")
            if providers.is_staff_only(type_name) and not request.user.is_staff:
                raise PermissionDenied(f"Only staff may search {type_name}.")
            requested = [type_name]
        params = SearchParams(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if requested is None:
            requested = data.get("types")
        limit = data.get("limit") or conf.DEFAULT_LIMIT
        page = query.search(
            user=request.user,
            q=data["q"],
            types=_types_for(request.user, requested),
            limit=limit,
            offset=data["offset"],
        )
        return _page_response(page, limit=limit, offset=data["offset"])


class TypeSearchView(SearchView):
    """The same as SearchView, for one entity type."""

    @extend_schema(operation_id="search_type", parameters=[_PARAMS[0], *_PARAMS[2:]], responses={200: dict})
    def get(self, request, type_name: str | None = None):
        return super().get(request, type_name=type_name)


class SuggestionsView(APIView):
    """Autocomplete on titles: prefix first, then typo-tolerant."""

    @extend_schema(operation_id="search_suggestions", parameters=_PARAMS[:3], responses={200: dict})
    def get(self, request):
        params = SuggestionParams(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        q = data["q"]
        limit = data.get("limit") or conf.SUGGESTION_LIMIT
        if not q:
            return Response({"query": q, "results": []})
        results = query.suggest(user=request.user, q=q, types=_types_for(request.user, data.get("types")), limit=limit)
        return Response({"query": q, "results": results})

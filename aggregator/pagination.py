from rest_framework.pagination import LimitOffsetPagination, PageNumberPagination


class Pagination(PageNumberPagination):
    """DRF page-number pagination with a client-chosen, capped page size."""

    page_size_query_param = "page_size"
    max_page_size = 1000


class LimitOffset(LimitOffsetPagination):
    default_limit = 50
    max_limit = 1000

from django.urls import re_path

from search import views

urlpatterns = [
    re_path(r"^search/?$", views.SearchView.as_view(), name="search"),
    re_path(r"^search/suggestions/?$", views.SuggestionsView.as_view(), name="search-suggestions"),
    re_path(r"^search/(?P<type_name>[^/]+)/?$", views.TypeSearchView.as_view(), name="search-type"),
]

from django.urls import re_path

from monitoring.logs import views

urlpatterns = [
    re_path(r"^logs/?$", views.LogListView.as_view(), name="log-list"),
    re_path(r"^logs/search/?$", views.LogSearchView.as_view(), name="log-search"),
    re_path(r"^logs/correlation/(?P<correlation_id>[^/]+)/?$", views.CorrelationChainView.as_view(), name="log-chain"),
    re_path(r"^logs/errors/recent/?$", views.RecentErrorsView.as_view(), name="log-errors-recent"),
    re_path(r"^logs/statistics/?$", views.StatisticsView.as_view(), name="log-statistics"),
    re_path(r"^logs/trends/errors/?$", views.ErrorTrendView.as_view(), name="log-error-trend"),
    re_path(r"^logs/archive/?$", views.ArchiveView.as_view(), name="log-archive"),
    re_path(r"^logs/archives/cleanup/?$", views.ArchiveCleanupView.as_view(), name="log-archive-cleanup"),
    re_path(r"^logs/archives/?$", views.ArchiveListView.as_view(), name="log-archive-list"),
    re_path(r"^logs/archives/(?P<pk>[0-9]+)/?$", views.ArchiveDetailView.as_view(), name="log-archive-detail"),
    re_path(
        r"^logs/archives/(?P<pk>[0-9]+)/restore/?$", views.ArchiveRestoreView.as_view(), name="log-archive-restore"
    ),
]

import django_filters

from files.models import FileStatus, FileType, FileUpload


class FileUploadFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=FileStatus.choices)
    file_type = django_filters.MultipleChoiceFilter(choices=FileType.choices)
    sha256 = django_filters.CharFilter(method="filter_sha256")
    name = django_filters.CharFilter(field_name="filename", lookup_expr="icontains")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    owner = django_filters.CharFilter(field_name="owner__username")

    class Meta:
        model = FileUpload
        fields = ["status", "file_type", "pipeline", "sha256", "name", "source"]

    def filter_sha256(self, queryset, name, value):
        return queryset.filter(sha256=value.strip().lower())

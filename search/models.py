"""The search index: one row per searchable object of any app.

Rows are written only by search.services (kept in sync by signals and by
`manage.py reindex`). On PostgreSQL, migration 0002 adds a stored, generated
`search_vector` column (title weighted A, body B) with a GIN index, and
trigram and prefix indexes on the title; the model does not declare it so
that the ORM never writes it and SQLite never sees it.
"""

from django.conf import settings
from django.db import models


class SearchEntry(models.Model):
    type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    # Who may see the row: its owner, and staff. Staff-only rows (logs,
    # alerts) are hidden from everyone else whatever the owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    staff_only = models.BooleanField(default=False)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "search entries"
        constraints = [models.UniqueConstraint(fields=["type", "object_id"], name="uniq_search_entry_object")]
        indexes = [models.Index(fields=["type", "updated_at"], name="search_entry_type_updated")]

    def __str__(self) -> str:
        return f"{self.type}:{self.object_id} {self.title}"


class SearchTerm(models.Model):
    """The distinct words of every indexed title: a small lexicon that
    suggestions and the search fallback match typos and word prefixes
    against (trigram and prefix indexes on PostgreSQL), instead of running
    fuzzy matching over every title. Words are only added; a word whose
    titles are gone costs one wasted lookup and goes at the next reindex."""

    word = models.CharField(max_length=64, primary_key=True)

    def __str__(self) -> str:
        return self.word

"""Django's in-memory storage without local paths: what object storage
(django-storages' S3 backend and the like) looks like to the files app.

Django's own InMemoryStorage answers `path()` with a name under MEDIA_ROOT,
so code that asks for a local path would write beside it; S3Storage raises
NotImplementedError there, and so does this."""

import os

from django.core.files.storage import InMemoryStorage


class ObjectStorage(InMemoryStorage):
    def path(self, name):
        raise NotImplementedError("This backend doesn't support absolute paths.")

    def _relative_path(self, name):
        # InMemoryStorage resolves its own names through path().
        return os.path.relpath(InMemoryStorage.path(self, name), self.location)

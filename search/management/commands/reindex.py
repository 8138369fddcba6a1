"""`manage.py reindex [TYPE ...]`: rebuild the search index from the models,
with a progress bar. Run it after bulk imports or updates that bypass signals."""

import time

from django.core.management.base import BaseCommand, CommandError

from search import providers, services


class Command(BaseCommand):
    help = "Rebuild the search index (all types, or the ones named)."

    def add_arguments(self, parser):
        parser.add_argument("types", nargs="*", help=f"Types to reindex: {', '.join(providers.known_types())}")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs and cron).")

    def handle(self, *args, types, batch_size, no_progress, **options):
        installed = [provider.type for provider in providers.all_providers()]
        unknown = [name for name in types if name not in installed]
        if unknown:
            raise CommandError(f"Not indexed here: {', '.join(unknown)}. Indexed types: {', '.join(installed)}.")
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        started = time.monotonic()
        show = not no_progress
        written = services.reindex(types=types or None, batch_size=batch_size, progress=self._bar if show else None)
        for type_name, count in written.items():
            self.stdout.write(f"{type_name}: {count} entries")
        self.stdout.write(
            self.style.SUCCESS(f"Reindexed {sum(written.values())} entries in {time.monotonic() - started:.1f}s")
        )

    def _bar(self, type_name: str, done: int, total: int) -> None:
        width = 30
        filled = width if not total else int(width * done / total)
        percent = 100 if not total else int(100 * done / total)
        line = f"\r{type_name:<16} [{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {done}/{total}"
        self.stdout.write(line, ending="\n" if done >= total else "")
        self.stdout.flush()

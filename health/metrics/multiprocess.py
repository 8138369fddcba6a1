"""Keeps the multiprocess folder small: one archive per kind for the
counters and histograms of processes that have exited.

prometheus-client writes one file per kind and process (`counter_<pid>.db`)
and a scrape reads and merges every file in the folder. `mark_process_dead`
removes only a dead process's live gauges; its counters and histograms must
stay, or the totals would go backwards. So every worker that gunicorn ever
restarted would otherwise leave two files behind, and scrapes would grow
slower for as long as the server runs. Here the master folds them into
`counter_archive.db` / `histogram_archive.db` instead (files
prometheus-client reads like any other), so the folder holds the live
processes' files plus two.

Folding replaces the archive and removes the dead file: a scrape that read
the folder between the two steps would count the dead process twice. An
flock on a file in the folder keeps them apart: scrapes take it shared,
folding takes it exclusive (for a few milliseconds).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

# Kinds whose files outlive their process. Gauges are "livesum": removed
# by mark_process_dead.
KEPT_KINDS = ("counter", "histogram")
ARCHIVE = "archive"  # stands where the pid stands in the file name
_LOCK_NAME = ".compaction.lock"  # not *.db, so never read as samples


@contextmanager
def folder_lock(folder: str | os.PathLike, *, exclusive: bool) -> Iterator[None]:
    with open(Path(folder) / _LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LockedMultiProcessCollector(MultiProcessCollector):
    """prometheus-client's collector, reading the folder under the shared lock."""

    def collect(self):
        with folder_lock(self._path, exclusive=False):
            return list(super().collect())


def _write(path: Path, metrics) -> None:
    values = MmapedDict(str(path))
    try:
        for metric in metrics:
            for sample in metric.samples:
                key = mmap_key(
                    metric.name, sample.name, list(sample.labels), list(sample.labels.values()), metric.documentation
                )
                values.write_value(key, sample.value, 0.0)
    finally:
        values.close()


def fold_dead_process(pid: int, folder: str | os.PathLike) -> None:
    """Adds the counters and histograms of the exited process `pid` into the
    archives and removes its files. Call only once the process is gone."""
    folder = Path(folder)
    with folder_lock(folder, exclusive=True):
        for kind in KEPT_KINDS:
            dead = folder / f"{kind}_{pid}.db"
            if not dead.exists():
                continue
            archive = folder / f"{kind}_{ARCHIVE}.db"
            sources = [str(path) for path in (archive, dead) if path.exists()]
            # accumulate=False: bucket counts stay per bucket, as written
            # by the processes, so the archive merges like any other file.
            merged = MultiProcessCollector.merge(sources, accumulate=False)
            building = folder / f".{kind}_{ARCHIVE}.building"
            building.unlink(missing_ok=True)
            _write(building, merged)
            os.replace(building, archive)
            dead.unlink()

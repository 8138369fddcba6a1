"""Storage: MEDIA_ROOT is writable and has room."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from health import conf
from health.checks.base import Check, CheckFailed, Observation, Status


def _percent_status(percent: float) -> Status:
    if percent >= conf.DISK_FAIL:
        return Status.FAIL
    if percent >= conf.DISK_WARN:
        return Status.WARN
    return Status.PASS


class StorageCheck(Check):
    name = "storage"
    component_type = "datastore"

    def run(self) -> list[Observation]:
        root = Path(settings.MEDIA_ROOT)
        try:
            root.mkdir(parents=True, exist_ok=True)
            # A real create+write+delete: permissions, a read-only remount and
            # a full disk all show up here, which os.access() would miss. No
            # fsync: it would make every probe wait on the disk.
            with tempfile.NamedTemporaryFile(dir=root, prefix=".health-", delete=True) as probe:
                probe.write(b"ok")
                probe.flush()
        except OSError as exc:
            raise CheckFailed(f"MEDIA_ROOT {root} is not writable: {exc.strerror or exc}") from None
        usage = shutil.disk_usage(root)
        used_percent = round(usage.used / usage.total * 100, 2) if usage.total else 0.0
        status = _percent_status(used_percent)
        output = f"{used_percent:.0f}% of the media disk is used" if status is not Status.PASS else None
        return [
            Observation("writable", Status.PASS, True, component_id=str(root)),
            Observation("free", status, usage.free, "bytes", output=output, component_id=str(root)),
            Observation("utilization", status, used_percent, "percent", component_id=str(root)),
        ]

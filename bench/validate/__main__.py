"""bench/validate: validate a CSV of the given size with the files app's
CSV check, next to a plain pass of Python's csv module over the same file.

    .venv/bin/python -m bench.validate 1G [--data /var/tmp/bench-1g.csv]

Each pass runs in its own process and reports its own peak memory (max
RSS). With --data the CSV is made once and reused by later runs.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def make_csv(path: Path, size: int) -> int:
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("id,station,timestamp,value,flag,comment\n")
        block = []
        written = 0
        while written < size:
            line = f'{rows},st{rows % 97},2026-01-01T00:{rows % 60:02d}:00Z,{rows * 0.37:.3f},{rows % 2},"ok, Zoë"\n'
            block.append(line)
            rows += 1
            if len(block) == 10_000:
                chunk = "".join(block)
                out.write(chunk)
                written += len(chunk.encode())
                block = []
    return rows


PLAIN = """
import csv, resource, sys, time
started = time.perf_counter()
rows = 0
with open(sys.argv[1], encoding="utf-8", newline="") as handle:
    for row in csv.reader(handle):
        rows += 1
print(rows, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

OURS = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
import django
django.setup()
from pathlib import Path
from files.validation.runner import validate_path
import resource, time
path = Path(sys.argv[1])
ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
report, file_type, mime = validate_path(path, filename="bench.csv", size=path.stat().st_size)
assert report.passed, report.as_dict()
rows = next(c for c in report.checks if c["name"] == "csv_content")["rows"]
print(ready, file=sys.stderr)
print(rows, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(code: str, path: Path) -> tuple[float, int, str, int]:
    """(seconds spent in the pass itself, peak RSS of its process, rows,
    peak RSS before the pass began — interpreter, Django and imports)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_DEBUG=os.environ.get("DJANGO_DEBUG", "1"))
    env.setdefault("AGG_VAR_DIR", tempfile.mkdtemp(prefix="bench-validate-var-"))
    result = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])
    rows, elapsed, peak_kib = result.stdout.strip().splitlines()[-1].split()
    ready = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "0"
    return float(elapsed), int(peak_kib) * 1024, rows, int(ready) * 1024 if ready.isdigit() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", help="CSV size, e.g. 1G or 200M")
    parser.add_argument("--data", help="where to keep the CSV between runs (made when missing or smaller)")
    args = parser.parse_args()
    size = parse_size(args.size)
    with tempfile.TemporaryDirectory(prefix="bench-validate-", dir=os.environ.get("BENCH_TMP")) as work:
        path = Path(args.data) if args.data else Path(work) / "bench.csv"
        if not path.exists() or not size <= path.stat().st_size < size + (1 << 20):
            make_csv(path, size)
        actual = path.stat().st_size
        mib = actual / (1 << 20)
        plain_s, plain_rss, plain_rows, _ = run(PLAIN, path)
        ours_s, ours_rss, our_rows, ours_ready = run(OURS, path)
        print(f"validating a {mib:.0f} MiB CSV ({int(plain_rows) - 1} data rows)")
        for label, seconds, rss in (
            ("plain csv.reader pass:", plain_s, plain_rss),
            ("files CSV validation:", ours_s, ours_rss),
        ):
            print(f"  {label:26} {mib / seconds:8.1f} MiB/s  ({seconds:.2f} s, peak RSS {rss / (1 << 20):.0f} MiB)")
        print(f"  ratio validation / plain:  {plain_s / ours_s:8.2f}x   (rows checked: {our_rows})")
        print(
            f"  validation process before the pass (Django, imports): {ours_ready / (1 << 20):.0f} MiB; "
            f"growth during the pass: {(ours_rss - ours_ready) / (1 << 20):.0f} MiB"
        )
        print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

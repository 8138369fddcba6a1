"""csv → parquet: our streaming converter next to pyarrow's own read_csv → write_table.

    .venv/bin/python -m bench.convert 1GiB [--keep]

Generates a CSV of the given size under var/bench/ (reused when present),
then converts it once with each side, each in a fresh child process so that
peak memory (ru_maxrss) is that side's alone. Prints throughput (MiB/s of
CSV read), the ratio, and peak memory.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    text = text.strip().lower().removesuffix("ib").removesuffix("b")
    if text and text[-1] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


def make_csv(path: Path, size: int) -> None:
    """Mixed columns: integers, decimals, dates, quoted text with commas."""
    if path.exists() and path.stat().st_size >= size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    words = ["alpha", "beta", "gamma", "delta", "Zoë", "naïve", 'quote"d', "comma, inside"]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("id,amount,day,label,count,note\n")
        written, row = 0, 0
        while written < size:
            lines = []
            for _ in range(10_000):
                row += 1
                label = rng.choice(words).replace('"', '""')
                note = " ".join(rng.choice(words) for _ in range(3)).replace('"', '""')
                lines.append(
                    f"{row},{rng.random() * 1e6:.4f},2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
                    f'"{label}",{rng.randint(0, 10**12)},"{note}"\n'
                )
            chunk = "".join(lines)
            handle.write(chunk)
            written += len(chunk.encode())


def run_ours(source: Path, target: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnop")
    from files.conversions import convert

    convert(source, source_fmt="csv", target=target, target_fmt="parquet")


def run_peer(source: Path, target: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pq.write_table(pacsv.read_csv(source), target)


def child(side: str, source: Path, target: Path) -> None:
    started = time.perf_counter()
    (run_ours if side == "ours" else run_peer)(source, target)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"seconds": elapsed, "peak": peak}))


def measure(side: str, source: Path, target: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.convert", "--child", side, str(source), str(target)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", nargs="?", default="1GiB")
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "SOURCE", "TARGET"), help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV")
    args = parser.parse_args()
    if args.child:
        side, source, target = args.child
        child(side, Path(source), Path(target))
        return

    size = parse_size(args.size)
    work = ROOT / "var" / "bench"
    source = work / f"convert-{size}.csv"
    print(f"generating {size / 2**20:.0f} MiB CSV at {source} …", flush=True)
    make_csv(source, size)
    actual = source.stat().st_size
    results = {}
    for side in ("ours", "pyarrow"):
        target = work / f"convert-{side}.parquet"
        results[side] = measure(side, source, target)
        target.unlink(missing_ok=True)
    if not args.keep:
        source.unlink()
    mib = actual / 2**20
    print(f"csv → parquet, {mib:.0f} MiB CSV")
    print(f"{'':10}{'seconds':>10}{'MiB/s':>10}{'peak MiB':>12}")
    for side, figures in results.items():
        print(f"{side:10}{figures['seconds']:10.2f}{mib / figures['seconds']:10.1f}{figures['peak'] / 2**20:12.0f}")
    ratio = results["pyarrow"]["seconds"] / results["ours"]["seconds"]
    print(f"throughput ratio ours/pyarrow: {ratio:.2f}x (target >= 0.8x); our peak memory target < 256 MiB")


if __name__ == "__main__":
    main()

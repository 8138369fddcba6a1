"""bench/upload: tuspy uploads of one file to this server (gunicorn) and to
the official @tus/server + @tus/file-store, side by side.

    .venv/bin/python -m bench.upload 1G [--memory-sizes 1G,4G] [--port 8110] [--rounds 5]

Prints both throughputs and their ratio, this server's peak memory growth for
each size in --memory-sizes, and the time to "re-upload" a stored file by its
sha256 in Upload-Metadata. Needs `npm install` in bench/peers first.

Both servers run for the whole measurement and the uploads alternate between
them, `--rounds` times (ours first in odd rounds, the peer first in even
ones, a second's pause after each), so a burst of load on the shared machine
hits both sides alike: the figures are the median per side and the ratio of
each round's pair.
Runs against the embedded defaults (SQLite, filesystem broker) in a temporary
folder, unless DATABASE_URL etc. are set.
"""

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests
from tusclient import client as tus_client

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / "peers"
CHUNK = 5 * 1024 * 1024
# A pause after each upload, so what a server does once an upload is over
# (freeing a deleted file's blocks, writing back pages) ends before the other
# side's upload starts.
SETTLE = 1.0


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def make_file(path: Path, size: int) -> str:
    """Pseudo-random content (incompressible, not de-duplicable by chunks); returns its sha256."""
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        written = 0
        counter = 0
        while written < size:
            piece = (counter.to_bytes(8, "little") + block)[: min(1 << 20, size - written)]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            counter += 1
    return digest.hexdigest()


def wait_port(port: int, process: subprocess.Popen) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            requests.options(f"http://127.0.0.1:{port}/", timeout=30)
            return
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"nothing answered on port {port}")


class PeakRss:
    """Samples the RSS of a process tree every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)

    def __enter__(self) -> "PeakRss":
        self.baseline = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def tus_upload(url: str, path: Path, headers: dict, metadata: dict | None = None) -> float:
    client = tus_client.TusClient(url, headers=headers)
    uploader = client.uploader(str(path), chunk_size=CHUNK, metadata=metadata or {"filename": path.name})
    started = time.perf_counter()
    uploader.upload()
    return time.perf_counter() - started


def django_env(work: Path, port: int) -> dict:
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "0")
    env.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-bench-only-secret-key")
    env.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
    env["DJANGO_HTTPS"] = "0"
    env["AGG_VAR_DIR"] = str(work / "var")
    env["MEDIA_ROOT"] = str(work / "media")
    env["THROTTLE_USER"] = "1000000/min"
    env.pop("CLAMAV_URL", None)
    return env


def start_django(work: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = django_env(work, port)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    script = (
        "from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token;"
        "u,_=get_user_model().objects.get_or_create(username='bench');"
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    token = (
        subprocess.run(
            [python, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    gunicorn = shutil.which("gunicorn", path=str(Path(python).parent)) or "gunicorn"
    # The production command line (Procfile, Dockerfile): its config file
    # (gthread workers, Prometheus multiprocess metrics); the structured log
    # lines, the access line among them, go to a file here. One worker
    # instead of 2: tuspy sends one request at a time.
    access_log = open(work / "access.log", "ab")  # noqa: SIM115 - the server's stdout for its lifetime
    process = subprocess.Popen(
        [
            gunicorn,
            "-c",
            "health/gunicorn_conf.py",
            "aggregator.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=access_log,
        stderr=subprocess.STDOUT,  # the log lines (the console handler writes to stderr)
    )
    access_log.close()
    wait_port(port, process)
    return process, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", help="upload size for the throughput comparison, e.g. 1G or 200M")
    parser.add_argument("--memory-sizes", default="", help="comma-separated sizes for peak memory, e.g. 1G,4G")
    parser.add_argument("--port", type=int, default=8110, help="this server's port (the peer uses port+1)")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--rounds", type=int, default=5, help="alternating uploads per server; medians count")
    args = parser.parse_args()
    size = parse_size(args.size)
    memory_sizes = [parse_size(s) for s in args.memory_sizes.split(",") if s.strip()]

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=os.environ.get("BENCH_TMP")))
    try:
        data = work / "data.bin"
        digest = make_file(data, size)
        django, token = start_django(work, args.port)
        headers = {"Authorization": f"Token {token}"}
        ours_url = f"http://127.0.0.1:{args.port}/api/v1/files/tus/"
        node = None
        try:
            if not args.skip_peer:
                node = subprocess.Popen(
                    ["node", str(PEERS / "tus-server.mjs"), str(args.port + 1), str(work / "peer-files")],
                    cwd=PEERS,
                    stdout=subprocess.DEVNULL,
                )
                wait_port(args.port + 1, node)
            peer_url = f"http://127.0.0.1:{args.port + 1}/files/"
            ours: list[float] = []
            peer: list[float] = []

            def upload_peer() -> None:
                peer.append(tus_upload(peer_url, data, {}))
                shutil.rmtree(work / "peer-files", ignore_errors=True)  # disk space; not timed
                (work / "peer-files").mkdir()
                time.sleep(SETTLE)

            def upload_ours() -> None:
                ours.append(tus_upload(ours_url, data, headers))
                time.sleep(SETTLE)

            with PeakRss(django.pid) as mem:
                for turn in range(args.rounds):
                    if node is not None and turn % 2:
                        upload_peer()
                    upload_ours()
                    if node is not None and not turn % 2:
                        upload_peer()
            growth = {size: mem.peak - mem.baseline}
            started = time.perf_counter()
            client = tus_client.TusClient(ours_url, headers=headers)
            again = client.uploader(str(data), chunk_size=CHUNK, metadata={"filename": "again.bin", "sha256": digest})
            again.upload()
            dedup_seconds = time.perf_counter() - started
            for extra in memory_sizes:
                if extra in growth:
                    continue
                big = work / f"mem-{extra}.bin"
                make_file(big, extra)
                with PeakRss(django.pid) as mem:
                    tus_upload(ours_url, big, headers)
                growth[extra] = mem.peak - mem.baseline
                big.unlink()
        finally:
            for process in (django, node):
                if process is not None:
                    process.terminate()
                    process.wait()

        mib = size / (1 << 20)
        print(f"upload of {mib:.0f} MiB with tuspy, {CHUNK >> 20} MiB chunks, {args.rounds} alternating rounds")
        ours_median = statistics.median(ours)
        label = "aggregator (gunicorn, 1 gthread worker):"
        print(f"  {label:38}{mib / ours_median:8.1f} MiB/s  (median {ours_median:.2f} s)")
        print("    rounds: " + ", ".join(f"{mib / t:.1f}" for t in ours))
        if peer:
            peer_median = statistics.median(peer)
            print(
                f"  {'@tus/server + @tus/file-store:':38}{mib / peer_median:8.1f} MiB/s  (median {peer_median:.2f} s)"
            )
            print("    rounds: " + ", ".join(f"{mib / t:.1f}" for t in peer))
            print(f"  {'ratio aggregator / @tus/server:':38}{peer_median / ours_median:8.2f}x  (of the medians)")
            ratios = [p / o for o, p in zip(ours, peer, strict=True)]
            listed = ", ".join(f"{r:.2f}" for r in ratios)
            print(f"    per round: {listed}; median {statistics.median(ratios):.2f}x")
        for mem_size, value in sorted(growth.items()):
            print(f"  peak server memory growth for {mem_size / (1 << 20):.0f} MiB: {value / (1 << 20):.1f} MiB")
        print(f"  re-upload of stored content by sha256 metadata: {dedup_seconds:.3f} s")
        loads = (" ".join(f"{x:.2f}" for x in load) for load in (load_before, os.getloadavg()))
        print("  load average before / after: {} / {}".format(*loads))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

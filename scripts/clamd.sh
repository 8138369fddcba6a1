#!/usr/bin/env bash
# Runs a local clamd for development and CI, offline.
#
# The official signature databases cannot be downloaded here, so clamd runs
# on one local signature: the EICAR test file, which is what the tests scan.
# Usage: scripts/clamd.sh start|stop|status   (listens on 127.0.0.1:3310)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="$here/var/clamd"
port="${CLAMD_PORT:-3310}"
conf="$dir/clamd.conf"

answering() { python3 - "$port" <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
        s.sendall(b"zPING\0")
        sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

install() {
  command -v clamd >/dev/null && return 0
  if [ "$(id -u)" != 0 ]; then echo "clamd is missing: apt-get install clamav-daemon" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clamav-daemon >/dev/null
}

configure() {
  mkdir -p "$dir/db"
  # MD5:size:name of the 68-byte EICAR string.
  echo "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature" > "$dir/db/test.hdb"
  cat > "$conf" <<CONF
DatabaseDirectory $dir/db
TCPSocket $port
TCPAddr 127.0.0.1
StreamMaxLength 4000M
MaxScanSize 4000M
MaxFileSize 4000M
LogFile $dir/clamd.log
PidFile $dir/clamd.pid
User root
Foreground no
CONF
}

case "${1:-start}" in
  start)
    answering && { echo "clamd already answering on 127.0.0.1:$port"; exit 0; }
    install
    configure
    clamd -c "$conf"
    for _ in $(seq 1 50); do answering && { echo "clamd answering on 127.0.0.1:$port"; exit 0; }; sleep 0.2; done
    echo "clamd did not start; see $dir/clamd.log" >&2; exit 1 ;;
  stop)
    [ -f "$dir/clamd.pid" ] && kill "$(cat "$dir/clamd.pid")" 2>/dev/null || true ;;
  status)
    answering && echo "up" || { echo "down"; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

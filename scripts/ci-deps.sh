#!/usr/bin/env bash
# OS packages the full test suite uses beyond the platform's own needs:
# promtool (Debian `prometheus`) to lint the metrics output, and Chromium for
# the operator console's browser tests. Installed only when missing.
set -euo pipefail
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing test tools (install them for the full suite): ${missing[*]}" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

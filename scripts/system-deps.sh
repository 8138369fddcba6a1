#!/usr/bin/env bash
# OS packages the Python dependencies need at run time (libmagic for type
# detection). Installs them with apt when missing and we are allowed to.
set -euo pipefail
missing=()
ldconfig -p 2>/dev/null | grep -q "libmagic.so.1" || missing+=(libmagic1)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "Please install these OS packages first: ${missing[*]}" >&2
  exit 1
fi

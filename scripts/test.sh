#!/usr/bin/env bash
# Install what the tests need (Debian's Chromium and HAProxy, the pinned Python packages),
# then run the whole test suite. Extra arguments go to pytest, e.g. `bash scripts/test.sh -m browser`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium for the browser tests, HAProxy for the two-replica load-balancer test.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python -m pip install -q -r requirements-test.txt

# The real data: the shared folder beside the checkout, unless the caller points elsewhere.
export FASHIONNET_DATA_DIR="${FASHIONNET_DATA_DIR:-$(cd .. && pwd)/shared/data/fashion-mnist}"
exec python -m pytest "$@"

#!/usr/bin/env bash
# The whole test suite against etcd 3.5 (what users run), then the etcd tests once more against
# the system's etcd (Debian bookworm: 3.4). Arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/python -m pytest "$@"
system_etcd=$(command -v etcd || true)
if [ -n "$system_etcd" ] && [ -x .venv/etcd-3.5/usr/bin/etcd ]; then
  echo
  echo "== the etcd tests again, against $("$system_etcd" --version | head -n 1)"
  KETUI_TEST_ETCD="$system_etcd" KETUI_TEST_ETCDCTL="$(command -v etcdctl)" \
    .venv/bin/python -m pytest -m etcd "$@"
fi

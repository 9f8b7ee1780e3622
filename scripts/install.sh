#!/usr/bin/env bash
# Install everything ketui needs on Debian (bookworm or later): the etcd server and client used by
# the tests, tmux for the end-to-end test, and ketui itself with its dev tools in ./.venv.
# etcd 3.5 (what users run; bookworm packages only 3.4) is fetched from Debian trixie and unpacked
# into .venv/etcd-3.5 without being installed into the system (scripts/debian_fetch.sh).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need_apt+=(etcd-client)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

# etcd 3.5 for the tests (tests/etcd_harness.py prefers it; scripts/test.sh also runs 3.4).
ETCD_35=3.5.16-4
if [ ! -x .venv/etcd-3.5/usr/bin/etcd ]; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
    scripts/debian_fetch.sh trixie .venv/etcd-3.5 "etcd-server=$ETCD_35" "etcd-client=$ETCD_35"
  else
    echo "install.sh: no apt-get/dpkg: the tests use the etcd on PATH only" >&2
  fi
fi

#!/usr/bin/env bash
# Long mode of the reliability suite (issue 5, docs/reliability.md).
#
#   scripts/reliability.sh              # 1,000,000 fuzzed values, then tests/reliability long
#   FUZZ_COUNT=200000 scripts/reliability.sh
#   scripts/reliability.sh --no-fuzz    # only the tests
#   scripts/reliability.sh --no-fuzz tests/reliability/test_bad_files.py   # pytest arguments
#
# Environment: PYTHON (default .venv/bin/python), FUZZ_COUNT (1000000), FUZZ_SEED (1),
# FUZZ_WORKERS (2), FUZZ_FINDINGS (where the findings go as JSON, default in $TMPDIR).
# The tests run with KETUI_LONG=1: a 200 MB dump, more bit-flipped variants, the CLI on every bad
# file, and the long fault runs. Exit code: non-zero if any part found something.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
FUZZ_COUNT=${FUZZ_COUNT:-1000000}
FUZZ_SEED=${FUZZ_SEED:-1}
FUZZ_WORKERS=${FUZZ_WORKERS:-2}
FUZZ_FINDINGS=${FUZZ_FINDINGS:-${TMPDIR:-/tmp}/ketui-fuzz-findings.json}
fuzz=1
if [[ "${1:-}" == "--no-fuzz" ]]; then
    fuzz=0
    shift
fi
pytest_args=("$@")
if [[ ${#pytest_args[@]} -eq 0 ]]; then
    pytest_args=(tests/reliability)
fi
status=0

if [[ $fuzz == 1 ]]; then
    echo "== fuzzing the decoder: $FUZZ_COUNT inputs, seed $FUZZ_SEED"
    if ! "$PYTHON" scripts/fuzz.py --count "$FUZZ_COUNT" --seed "$FUZZ_SEED" \
            --workers "$FUZZ_WORKERS" --findings "$FUZZ_FINDINGS"; then
        echo "!! the fuzzer found problems (details: $FUZZ_FINDINGS)"
        status=1
    fi
fi

echo "== ${pytest_args[*]} (long mode)"
if ! KETUI_LONG=1 "$PYTHON" -m pytest -q -p no:cacheprovider -o timeout=1800 "${pytest_args[@]}"; then
    status=1
fi
exit "$status"

"""Running the real ``ketui`` command in the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.paths import REPO


def ketui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``python -m ketui ARGS`` from the repository, without the user's ETCDCTL_ variables and
    with ``env`` added; a traceback on stderr fails the test (user errors are one line)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "ketui", *args], cwd=REPO, env=env, capture_output=True, timeout=60
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result

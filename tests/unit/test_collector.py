"""A serving process freezes what it loaded and collects its young generation less often."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Run in a child: freezing this test process would keep every later test's garbage.
_CHILD = """
import gc
from keystead.api.app import create_app_from_environment
before = gc.get_threshold()
create_app_from_environment()
print(before[0], gc.get_threshold()[0], gc.get_freeze_count() > 10_000)
"""


def test_a_worker_process_freezes_its_start_up_objects_and_raises_the_threshold(
    tmp_path: Path,
) -> None:
    env = {"KEYSTEAD_DATA_DIR": str(tmp_path), "KEYSTEAD_INSECURE_HTTP": "true"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=False,
        env={**env, "PATH": ""}, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["700", "10000", "True"]

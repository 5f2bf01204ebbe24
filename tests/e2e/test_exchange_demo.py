"""``make demo`` end to end: the demo script starts Keystead and the exchange and runs the steps.

It runs ``scripts/exchange_demo.py`` as a subprocess, as ``make demo`` does, and checks that it
exits 0, that each of the seven steps ran, that the signatures verified, and that no
password or root token reached its output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "exchange_demo.py"
STEPS = (
    "=== Step 1: alice and bob register and log in",
    "=== Step 2: Keystead generated their key pairs",
    "=== Step 3: the operator deposits",
    "=== Step 4: bob signs a sell, alice a crossing buy",
    "=== Step 5: the exchange verified the signatures and executed the trade",
    "=== Step 6: the confirmation and the ledger verify offline",
    "=== Step 7: alice's key is rotated; her next order verifies with version 2",
)


def test_the_demo_runs_every_step() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for header in STEPS:
        assert header in output, header
    assert output.count("signature valid") >= 3
    assert output.count("Ledger valid.") == 2
    assert "alice's new order was verified with her key version 2." in output
    assert "Demo complete: every step passed." in output
    assert "Root token:" not in output
    assert "Traceback" not in output

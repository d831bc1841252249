"""Shared by the formats parity tests: runs the test-only formats_tool (the C++ readers and writers)."""
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

TOOL = os.environ.get("TAILOR_FORMATS_TOOL", str(harness.BINARY_DIR / "tests" / "formats" / "formats_tool"))


def run_tool(*args, expect_ok=True):
    """Returns (returncode, parsed stdout JSON or None, stderr). A crash (signal) always fails the test."""
    proc = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True, errors="replace", timeout=300)
    harness.expect(proc.returncode in (0, 2), f"formats_tool {args} crashed or misbehaved (rc {proc.returncode}):\n{proc.stderr}")
    if expect_ok and proc.returncode != 0:
        raise AssertionError(f"formats_tool {args} failed:\n{proc.stderr}")
    out = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None
    return proc.returncode, out, proc.stderr

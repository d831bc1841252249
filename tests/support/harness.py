"""Tiny helpers shared by the Python tests CTest runs (parity against reference implementations,
CLI behaviour). A test is a script: it raises on failure, calls skip() to be reported as skipped."""
import os
import subprocess
import sys
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("TAILOR_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BINARY_DIR = Path(os.environ.get("TAILOR_BINARY_DIR", SOURCE_DIR / "build"))
TAILOR = os.environ.get("TAILOR_BIN", str(BINARY_DIR / "cli" / "tailor"))
SHARED_DIR = SOURCE_DIR.parent / "shared"
DEFAULT_MODEL = SOURCE_DIR / ".cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def skip(reason: str):
    print(f"SKIPPED: {reason}")
    sys.exit(77)


def tailor(*args, check=True, input=None, timeout=600):
    """Runs the tailor binary; returns the CompletedProcess (text mode)."""
    proc = subprocess.run([TAILOR, *map(str, args)], capture_output=True, text=True, input=input, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"tailor {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def expect(cond, message):
    if not cond:
        raise AssertionError(message)

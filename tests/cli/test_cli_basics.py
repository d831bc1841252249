"""The CLI's contract: verbs listed, `version` facts, one-line errors with exit code 2, and a configure
that names the Debian package of a missing dependency."""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import SOURCE_DIR, expect, tailor  # noqa: E402

help_text = tailor("--help").stdout
expect("version" in help_text, f"--help does not list the version verb:\n{help_text}")

version = tailor("version").stdout
for pattern in [r"^tailor \d+\.\d+\.\d+", r"^LibTorch 2\.11\.0", r"CUDA devices: \d+", r"AVX-512 (yes|no)", r"AMX-BF16 (yes|no)"]:
    expect(re.search(pattern, version, re.M), f"`tailor version` lacks {pattern!r}:\n{version}")

bogus = tailor("bogus", check=False)
expect(bogus.returncode == 2, f"`tailor bogus` exited {bogus.returncode}, expected 2")
lines = bogus.stderr.strip().splitlines()
expect(len(lines) == 1 and "bogus" in lines[0], f"`tailor bogus` should print one line naming the verb: {bogus.stderr!r}")

bad_flag = tailor("version", "--no-such-flag", check=False)
expect(bad_flag.returncode == 2 and len(bad_flag.stderr.strip().splitlines()) == 1, f"bad flag: {bad_flag.stderr!r}")

# A missing dependency stops the configure with the package to install.
with tempfile.TemporaryDirectory() as build:
    proc = subprocess.run(["cmake", "-S", str(SOURCE_DIR), "-B", build, "-DTAILOR_CUDA=OFF",
                           "-DCMAKE_DISABLE_FIND_PACKAGE_yaml-cpp=ON"], capture_output=True, text=True)
    expect(proc.returncode != 0, "configure succeeded without yaml-cpp")
    expect("libyaml-cpp-dev" in proc.stderr, f"configure error does not name the Debian package:\n{proc.stderr}")
print("ok")

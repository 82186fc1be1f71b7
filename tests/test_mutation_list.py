"""bench/mutation_test.py's mutants still apply: each edit's text occurs once in its file."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_mutant_applies():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "mutation_test.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "mutants apply" in proc.stdout

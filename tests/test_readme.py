"""README.md stays true: its Python example runs and prints what it claims."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md has no Python example"
    out = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    # the example claims the weighted mean of the tilted Gaussian is about 1.5
    value = float(re.search(r"tensor\(([-0-9.]+)", out.stdout).group(1))
    assert abs(value - 1.5) < 0.05, out.stdout

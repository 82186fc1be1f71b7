"""docs/fkc-align.md stays true: each of its Python examples runs as printed.

The guide's examples are fragments of a user's script (``task``, ``run_dir``, ``config`` and
``reward`` come from the user's own code), so each runs in a fresh interpreter after a short
prelude that defines those names, then a check of what the guide says the example gives. A
fresh process keeps a registered strategy out of the other tests' registry.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "fkc-align.md"

# what the example shows: (the names it takes from the user's script; edits of the printed
# code, each of which must still apply: a result bound to a name, no progress bars in the test
# log; what the example must give)
CASES = {
    "a strategy of one's own": (
        "from fkc_align import tasks\ntask = tasks.gmm()\n",
        [('run_active(task, budget=64, k=8, strategy="most-uncertain")',
          'r = run_active(task, budget=64, k=8, strategy="most-uncertain", progress=False)')],
        "assert r.rounds[-1]['queries_used'] == 64, r.rounds[-1]\n"
        "assert r.settings['strategy'] == 'most-uncertain', r.settings\n",
    ),
    "a variant of the default": (
        "",
        [],
        "from fkc_align import run_active, tasks\n"
        "r = run_active(tasks.gmm(), budget=16, k=4, strategy='novelty-only', progress=False)\n"
        "assert r.settings['strategy'] == 'novelty-only', r.settings\n"
        "assert r.rounds[-1]['queries_used'] == 16, r.rounds[-1]\n",
    ),
    "the run lock and an answering page": (
        "from fkc_align import RunConfig, tasks\n"
        "task = tasks.gmm()\nrun_dir = 'run'\nreward = 0.0\n"
        "config = RunConfig.resolve(task, budget=16, k=4)\n",
        [("Runtime(out_dir=run_dir, lock=lock)",
          "Runtime(out_dir=run_dir, lock=lock, progress=False)")],
        "assert list(page.pending()) == []\n"
        "assert sum(1 for _ in open('run/feedback.jsonl')) > 0\n",
    ),
    "the result of a run": (
        "",
        [('out_dir="runs/d7")', 'out_dir="runs/d7", progress=False)')],
        "assert set(result.rounds[-1]) >= {'round', 'n_shown', 'queries_used', 'mean_reward',"
        " 'hit_rate'}\n"
        "r = result.observed_r\n"
        "assert len(result.observed_x) == len(r) == 64 and bool((r[:-1] >= r[1:]).all())\n"
        "assert result.reward_model.predict(result.observed_x[:5]).shape == (5,)\n",
    ),
}


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)


def test_every_example_has_a_case():
    assert len(_examples()) == len(CASES), (
        f"docs/fkc-align.md has {len(_examples())} Python examples and this test "
        f"{len(CASES)} cases: give the new one a prelude and a check")


@pytest.mark.parametrize("index, name", list(enumerate(CASES)), ids=list(CASES))
def test_guide_example_runs(index, name, tmp_path):
    prelude, edits, check = CASES[name]
    example = _examples()[index]
    for old, new in edits:
        assert old in example, f"{name}: the guide no longer has {old!r}"
        example = example.replace(old, new)
    script = prelude + example + check
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, f"{name}:\n{script}\n{out.stderr[-3000:]}"

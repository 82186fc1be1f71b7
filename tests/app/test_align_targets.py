"""The active loop's targets on the default task (issue: last-round hit rates, FKC above random)."""

import pytest

from fkc_align import run_active, tasks


@pytest.mark.slow
def test_default_digits_run_meets_hit_rate_targets(tmp_path):
    task = tasks.digits(target=3)
    fkc = run_active(task, budget=128, k=16, seed=0, progress=False, strategy="fkc-eps",
                     out_dir=tmp_path / "fkc")
    last = fkc.rounds[-1]
    assert last["queries_used"] == 128 and sum(r["n_shown"] for r in fkc.rounds) == 128
    assert last["hit_rate_top"] >= 0.9 and last["hit_rate"] >= 0.75, last
    rnd = run_active(task, budget=128, k=16, seed=0, progress=False, strategy="random",
                     out_dir=tmp_path / "random")
    # the base model hits about 0.1; guidance must beat unguided random picks by a wide margin
    assert rnd.rounds[-1]["hit_rate"] <= 0.3
    assert last["mean_reward"] > rnd.rounds[-1]["mean_reward"] + 1.0
    mean_fkc = sum(fkc.observed_r.tolist()) / 128
    mean_rnd = sum(rnd.observed_r.tolist()) / 128
    assert mean_fkc > mean_rnd

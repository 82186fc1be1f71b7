"""End-to-end: a small active run on 2 gloo ranks (spawned, loopback only, bounded in time)."""

from __future__ import annotations

import os
import traceback

import torch
from test_distributed_ops import spawn  # the bounded spawner

SETTINGS = dict(budget=7, k=3, n_particles=48, n_steps=12, seed=5, backend="reference",
                train_options={"max_epochs": 20, "patience": 5})


def _active_worker(rank: int, world: int, store: str, out_dir: str) -> None:
    import torch.distributed as dist

    from fkc_align import tasks
    from fkc_align.distributed_loop import run_active_distributed

    torch.set_num_threads(1)
    res: dict = {}
    try:
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                                world_size=world)
        # the oracle is rank 0's only: any other rank asking would be a bug
        oracle = None if rank == 0 else _NoOracle()
        out = run_active_distributed(tasks.gmm(), out_dir=os.path.join(out_dir, "run"),
                                     oracle=oracle, **SETTINGS)
        res["model"] = {n: t.clone() for n, t in out.reward_model.state_dict().items()}
        if rank == 0:
            res["rounds"] = out.rounds
            res["observed_r"] = out.observed_r
            res["observed_x"] = out.observed_x
            res["summary"] = out.summary
        else:
            res["n_rounds"] = out.n_rounds
        dist.destroy_process_group()
    except BaseException:
        res["__error__"] = traceback.format_exc()
    torch.save(res, os.path.join(out_dir, f"rank{rank}.pt"))


class _NoOracle:
    def ask(self, store, queries):
        raise AssertionError("only rank 0 may ask the oracle")


def test_two_rank_active_run(tmp_path):
    from fkc_align import tasks
    from fkc_align.store import FeedbackStore

    res = spawn(_active_worker, 2, tmp_path)
    rounds = res[0]["rounds"]
    # budget 7, k 3: rounds of 3, 3, 1; the budget is spent exactly
    assert [r["n_shown"] for r in rounds] == [3, 3, 1]
    assert rounds[-1]["queries_used"] == 7
    assert res[1]["n_rounds"] == 3
    # the reward model trained on rank 0 reached rank 1
    for name, t in res[0]["model"].items():
        assert torch.equal(res[1]["model"][name], t), name
    # one store, written by rank 0: every answer is the task's oracle of its particle
    store = FeedbackStore.open(tmp_path / "run")
    recs = store.records()
    assert len(recs) == 7 and not store.pending()
    x = torch.stack([r.x for r in recs])
    r = torch.tensor([r.reward for r in recs])
    torch.testing.assert_close(r, tasks.gmm().oracle(x).float(), rtol=1e-5, atol=1e-5)
    assert torch.isfinite(res[0]["observed_x"]).all()
    assert [q.pick for q in store.queries(0)] == ["cold"] * 3

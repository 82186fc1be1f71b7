"""Kept picks from variations of the liked answers (docs/feedback-benchmark.md, "Variations
of the liked answers"). One JSON row per run.

The default's kept pick for a strong liked answer shows the best predicted of the 4 candidates
(guided sample ∪ pool) nearest to it. Where two liked classes overlap in the task's features
(4s and 9s, 8s and 9s, 2s and 5s) a candidate near a 9 can be an 8 or a miss (the default's
exploitation picks hit 0.83-0.88 on 2s and 5s and on 1s, 4s and 9s, "Where the UCB gap comes
from"). Here
each round also makes *variations* of the strong liked answers: each is noised to the
forward time of ``tau`` and denoised by the base model (SDEdit, ``FKCSampler.noised`` and
``sample(latents=..., start_step=...)``, unguided, ``per_anchor`` each). The variations join the
kept picks' candidates only: the tilted draw and the exploration see the same rows as the
default's. At tau 0.2 on the digits a variation keeps its answer's class in 0.99 of the cases
and lies as far from it as two neighbouring samples do (`probe.py`).

- ``var2``: tau 0.2, two variations per strong liked answer (up to 32 answers, the most
  recent); ``var1``: one; ``var3``: tau 0.3; ``var2-half``: ``var2`` with kept picks making at
  most half of the exploitation picks (the tilted draw the rest);
- ``var3-half``: ``var2-half`` at tau 0.3;
- a built-in strategy's name (``fkc-explore``, ``ucb``): it as it is (rows depend on the
  processor: run the baselines beside the variants).

    python docs/feedback-benchmark/variations/variant.py MODE SCENARIO LIKED SEEDS
"""

import math
import sys
from pathlib import Path

import torch

from fkc_align import pick_rules as R
from fkc_align import picks as P
from fkc_align import strategies as S
from fkc_align.strategies import StrategyPicks
from fkc_kernels import LinearTilt

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import cpu_name, print_rows  # noqa: E402


class Variations(S.FKCExplore):
    """The default, its kept picks also choosing among variations of the strong liked answers
    (rows ``n_base`` on of the round view, added by :func:`with_variations`)."""

    def __init__(self, tau: float = 0.2, per_anchor: int = 2, max_anchors: int = 32,
                 keep_share: float = 1.0) -> None:
        super().__init__(keep_share=keep_share)
        self.tau, self.per_anchor, self.max_anchors = tau, per_anchor, max_anchors
        self.n_base = None

    def pick(self, view):
        n_base = self.n_base if self.n_base is not None else len(view.x)
        base = torch.arange(len(view.x), device=view.x.device) < n_base
        guided = torch.nonzero(~view.in_pool & base)[:, 0]
        n_explore = self.n_explore(view)
        n_exploit = view.n_show - n_explore
        anchors = R.liked_answers(view.asked_features, view.asked_r, strong=True)
        n_keep = min(len(anchors), int(n_exploit * self.keep_share))
        chosen: list[int] = []
        if n_exploit - n_keep:
            guided = R.likely_liked(guided, view.mean, view.asked_r, n_exploit - n_keep)
            local = R.draw_by_weight(view.features[guided], view.log_w[guided],
                                     n_exploit - n_keep, view.generator,
                                     score=view.mean[guided])
            chosen = guided[torch.tensor(local, dtype=torch.int64)].tolist()
        chosen += R.keep_picks(view.features, anchors, chosen, n_keep, view.mean, near=self.near)
        chosen += R.unexplored_picks(view.features, view.in_pool, view.asked_features, chosen,
                                     view.n_show - len(chosen), self.clusters)
        chosen += R.explore_picks(view.features, view.in_pool, view.asked_features, chosen,
                                  view.n_show - len(chosen), view.std)
        idx = torch.tensor(chosen, dtype=torch.int64, device=view.x.device)
        labels = ["top"] * n_exploit + ["explore"] * (len(chosen) - n_exploit)
        return StrategyPicks(idx, labels, view.mean[idx].float())


def variations(particles, task, cfg, strat, asked_x, asked_r, gen, backend, device):
    """``(m, *S)`` variations of the most recent strong liked answers, or None."""
    tau = R.median_liked(asked_r)
    if tau is None:
        return None
    strong = torch.nonzero(asked_r.to(asked_x.device) >= tau)[:, 0][-strat.max_anchors:]
    x0 = asked_x[strong].repeat_interleave(strat.per_anchor, 0)

    def zero_reward(x):
        return torch.zeros(x.shape[0], device=x.device), torch.zeros_like(x)

    sampler = particles.make_sampler(task.score_fn, zero_reward, task.schedule, LinearTilt(0.0),
                                     cfg.n_steps, weights="seed", resample=None, reward_at="x",
                                     backend=backend)
    start = min(max(int(round(cfg.n_steps * (1.0 - strat.tau))), 0), cfg.n_steps - 1)
    noisy = sampler.noised(x0, start, generator=gen)
    return sampler.sample(len(x0), task.shape, generator=gen, device=device, latents=noisy,
                          start_step=start).x


def with_variations(original):
    def round_view(particles, task, cfg, plan, model, asked_x, asked_r, gen, strat, kw):
        view = original(particles, task, cfg, plan, model, asked_x, asked_r, gen, strat, kw)
        if not isinstance(strat, Variations):
            return view
        strat.n_base = len(view.x)
        y = variations(particles, task, cfg, strat, asked_x, asked_r, gen, kw["backend"],
                       kw["device"])
        if y is None:
            return view
        feats = task.features if task.features is not None else P._flat
        y = y.to(view.x.device, view.x.dtype)
        view.x = torch.cat([view.x, y])
        view.log_w = torch.cat([view.log_w, torch.full((len(y),), -math.inf,
                                                       device=view.x.device)])
        view.in_pool = torch.cat([view.in_pool, torch.zeros(len(y), dtype=torch.bool,
                                                            device=view.x.device)])
        view.features = torch.cat([view.features, feats(y).float().to(view.features.device)])
        view.members = torch.cat([view.members,
                                  P._member_predictions(model, y).to(view.members.device)], 1)
        return view

    return round_view


def main(argv: list[str]) -> None:
    modes = {"var2": Variations(0.2, 2), "var1": Variations(0.2, 1), "var3": Variations(0.3, 2),
             "var2-half": Variations(0.2, 2, keep_share=0.5),
             "var3-half": Variations(0.3, 2, keep_share=0.5), "same": Variations()}
    if argv[0] in modes:  # else a built-in strategy (fkc-explore, ucb, ...), run as it is
        S.register_strategy(argv[0], modes[argv[0]], replace=True)
        if argv[0] != "same":  # "same": the copied pick alone, no variations
            P._round_view = with_variations(P._round_view)
    print_rows(argv[1], tuple(int(c) for c in argv[2].split(",")), argv[3], argv[0],
               cpu=cpu_name())


if __name__ == "__main__":
    main(sys.argv[1:])

"""Exploration among far variations of the liked answers (docs/feedback-benchmark.md,
"Far variations of the liked answers"). One JSON row per run.

The default's exploration shows pool members: one per pool region nothing asked falls in, then
the pool's most novel members (nearest distance to everything asked times the ensemble's
disagreement). A liked class in the middle of the features (the 9s) is neither: its region is
visited by asked neighbours, and its members are never the most novel. Here each guided round
also makes *far* variations of the strong liked answers (SDEdit, one per answer, the 32 most
recent, noised to the forward time ``tau`` and denoised by the base model). At ``tau`` >= 0.4
a variation changes class more often than not; the hypothesis was that it lands in a class
next to a liked one (``trace.txt``: it does not, the classes are spread as the base model's).
The exploration picks left after the region picks come from those instead of the pool:

- ``far5-all``, ``far6-all``: ``tau`` 0.5 or 0.6, every exploration pick after the region
  picks from the far variations (novelty times disagreement among them);
- ``far5-one``: ``tau`` 0.5, the round's first exploration pick from the far variations
  (before the region picks), the rest as the default;
- ``far-none``: no far variations (a check: the default's rows, bit for bit);
- a built-in strategy's name (``fkc-explore``): it as it is.

The far variations are never candidates of the kept picks or the tilted draw.

    python docs/feedback-benchmark/far-variations/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from dataclasses import replace
from pathlib import Path

import torch

from fkc_align import picks as P
from fkc_align import strategies as S
from fkc_align.pick_rules import explore_picks, unexplored_picks

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402

FAR = {"tau": None, "n": 0}
_variations = P._variations


def variations_with_far(task, cfg, spec, asked_x, asked_r, gen, kw):
    """The default's variations, then (when ``FAR["tau"]`` is set) one far variation of each
    of the 32 most recent strong liked answers; their count in ``FAR["n"]``."""
    near = _variations(task, cfg, spec, asked_x, asked_r, gen, kw)
    FAR["n"] = 0
    if FAR["tau"] is None or spec is None or near is None:
        return near
    far = _variations(task, cfg, S.Variations(tau=FAR["tau"], per_answer=1), asked_x, asked_r,
                      gen, kw)
    FAR["n"] = len(far)
    return torch.cat([near, far])


class FarExplore(S.FKCExplore):
    """The default whose exploration after the region picks (``first_only``: its first
    exploration pick, before the regions) comes from the far variations."""

    def __init__(self, first_only: bool) -> None:
        super().__init__()
        self.first_only = first_only

    def exploit(self, view: S.RoundView) -> tuple[list[int], int]:
        """The default's, blind to the far variations (the view's last ``FAR["n"]`` rows)."""
        keep = len(view.x) - FAR["n"]
        return super().exploit(replace(
            view, x=view.x[:keep], log_w=view.log_w[:keep], in_pool=view.in_pool[:keep],
            features=view.features[:keep], members=view.members[:, :keep],
            in_variations=view.variation_rows[:keep]))

    def explore(self, view: S.RoundView, chosen: list[int]) -> list[int]:
        n_far = FAR["n"]
        far = torch.zeros(len(view.x), dtype=torch.bool, device=view.x.device)
        far[len(view.x) - n_far:] = True
        chosen, std = list(chosen), view.std
        if self.first_only and n_far and self.n_explore(view):
            chosen += explore_picks(view.features, far, view.asked_features, chosen, 1, std)
        chosen += unexplored_picks(view.features, view.in_pool, view.asked_features, chosen,
                                   view.n_show - len(chosen), self.clusters)
        if not self.first_only and n_far:
            chosen += explore_picks(view.features, far, view.asked_features, chosen,
                                    view.n_show - len(chosen), std)
        chosen += explore_picks(view.features, view.in_pool, view.asked_features, chosen,
                                view.n_show - len(chosen), std)
        return chosen


MODES = {"far-none": (None, False), "far5-all": (0.5, False), "far6-all": (0.6, False),
         "far5-one": (0.5, True)}


def main(argv: list[str]) -> None:
    strategies = {}
    if argv[0] in MODES:  # else a built-in strategy (fkc-explore), run as it is
        FAR["tau"], first_only = MODES[argv[0]]
        P._variations = variations_with_far
        strategies[argv[0]] = FarExplore(first_only)
    variant_rows(argv, strategies)


if __name__ == "__main__":
    main(sys.argv[1:])

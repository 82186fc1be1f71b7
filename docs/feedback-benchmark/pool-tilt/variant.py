"""The default with its unguided pool tilted by the reward model: the pool the exploration
picks (and the kept picks' candidates) come from is drawn with guidance ``explore_lam``
instead of none (docs/feedback-benchmark.md, "A tilted exploration pool"). One JSON row per
run.

The exploration picks are a seventh of a run's guided questions and hit 0.07-0.35, which is
most of UCB's lead in hit rate. A pool tilted by ``exp(explore_lam · f_θ)`` (z units) holds
fewer particles of the classes already answered as disliked, so its unvisited regions and its
novel particles should be liked more often, while a class the networks have not learned keeps
its mass relative to the others. Modes:

- ``tiltL`` (``tilt1``, ``tilt2``, ``tilt4``): the default with ``explore_lam = L``;
- ``ctiltL``: the same with the pool's reward capped at the liked threshold (the top quarter
  of the answers' range, in the networks' z units): the pool is pushed out of the regions
  predicted disliked, and every region predicted liked is worth the same, so a learned class
  does not draw the pool onto itself (the experiment wraps the pool's reward; nothing in the
  library changes);
- a built-in strategy's name (``fkc-explore``, ``ucb``, ...): it as it is.

    python docs/feedback-benchmark/pool-tilt/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align import picks as P
from fkc_align.pick_rules import liked_threshold

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import cpu_name, print_rows  # noqa: E402

_ROUND: dict = {}


class _Capped(torch.nn.Module):
    """``min(model(x), cap)``: the pool's reward (z units), flat above the liked threshold."""

    def __init__(self, model: torch.nn.Module, cap: float) -> None:
        super().__init__()
        self.model, self.cap = model, cap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).clamp(max=self.cap)


def _cap_the_pool() -> None:
    """Wrap the pool's draw (the round's first ``draw``, the one without ``weights``) so that
    it is tilted by the capped reward; the round's answers come from ``_round_view``."""
    original_view, original_draw = P._round_view, P.draw

    def round_view(particles, task, cfg, plan, model, asked_x, asked_r, *rest):
        _ROUND["asked_r"] = asked_r
        return original_view(particles, task, cfg, plan, model, asked_x, asked_r, *rest)

    def draw(particles, task, cfg, model, lam, n, gen, **kw):
        thr = (liked_threshold(_ROUND["asked_r"]) if _ROUND.get("asked_r") is not None
               else None)
        if "weights" not in kw and model is not None and lam > 0 and thr is not None:
            model = _Capped(model, (thr - float(model.r_mean)) / float(model.r_std))
        return original_draw(particles, task, cfg, model, lam, n, gen, **kw)

    P._round_view, P.draw = round_view, draw


def main(argv: list[str]) -> None:
    mode, name, liked, seeds = argv
    liked_t = tuple(int(c) for c in liked.split(","))
    if mode.startswith("ctilt"):
        _cap_the_pool()
    if mode.startswith(("tilt", "ctilt")):
        lam = float(mode.split("tilt")[1])
        print_rows(name, liked_t, seeds, "fkc-explore", label=mode,
                   options={"explore_lam": lam}, cpu=cpu_name())
    else:
        print_rows(name, liked_t, seeds, mode, cpu=cpu_name())


if __name__ == "__main__":
    main(sys.argv[1:])

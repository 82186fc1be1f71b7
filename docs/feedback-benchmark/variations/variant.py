"""Kept picks from variations of the liked answers (docs/feedback-benchmark.md, "Variations
of the liked answers"). One JSON row per run.

The default's kept pick for a strong liked answer shows the best predicted of the 4 candidates
(guided sample ∪ pool) nearest to it. Where two liked classes overlap in the task's features
(4s and 9s, 8s and 9s, 2s and 5s) a candidate near a 9 can be an 8 or a miss (the default's
exploitation picks hit 0.83-0.88 on 2s and 5s and on 1s, 4s and 9s, "Where the UCB gap comes
from"). Here each round also makes *variations* of the strong liked answers: each is noised
to the forward time of ``tau`` and denoised by the base model (SDEdit, ``FKCSampler.noised``
and ``sample(latents=..., start_step=...)``, unguided, ``per_answer`` each). The variations
join the kept picks' candidates only: the tilted draw and the exploration see the same rows as the
default's. At tau 0.2 on the digits a variation keeps its answer's class in 0.99 of the cases
and lies as far from it as two neighbouring samples do (`probe.py`).

- ``var2``: tau 0.2, two variations per strong liked answer (up to 32 answers, the most
  recent); ``var1``: one; ``var3``: tau 0.3 (the default since this experiment);
  ``var2-half``: ``var2`` with kept picks making at most half of the exploitation picks (the
  tilted draw the rest); ``var3-half``: ``var2-half`` at tau 0.3;
- a built-in strategy's name (``fkc-explore``, ``ucb``): it as it is (rows depend on the
  processor: run the baselines beside the variants).

The rows here were made by an experiment-only copy of the default's pick with the variations
added to the round view; the variants are now the library's own ``FKCExplore(variations=...)``
(``picks._variations``), which gives the same rows (``check.sh``).

    python docs/feedback-benchmark/variations/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

from fkc_align.strategies import FKCExplore, Variations

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402

MODES = {"var2": FKCExplore(variations=Variations(0.2, 2)),
         "var1": FKCExplore(variations=Variations(0.2, 1)),
         "var3": FKCExplore(variations=Variations(0.3, 2)),
         "var2-half": FKCExplore(variations=Variations(0.2, 2), keep_share=0.5),
         "var3-half": FKCExplore(variations=Variations(0.3, 2), keep_share=0.5)}


def main(argv: list[str]) -> None:
    variant_rows(argv, MODES)  # a name not in MODES: a built-in (fkc-explore, ucb, ...)


if __name__ == "__main__":
    main(sys.argv[1:])

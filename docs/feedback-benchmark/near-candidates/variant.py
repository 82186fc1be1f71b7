"""The default with fewer candidates per kept pick (docs/feedback-benchmark.md, "A kept pick
shows its anchor's nearest candidate"). One JSON row per run.

A kept pick goes to a strong liked answer (its anchor) and shows the best predicted of the
anchor's ``near`` = 4 nearest candidates (guided sample, pool, variations of liked answers).
The reward is capped, so every clear liked digit is predicted alike whatever its class, and the
best predicted of four can be of another liked class than the anchor: on 1s, 4s and 9s the
1s gain answers round after round (design seed 201: 25 strong 1s to 15 4s by round 7, and no
9 ever shown). Modes:

- ``near1``: the anchor's nearest candidate; ``near2``: the better predicted of its two nearest;
- a built-in strategy's name: it as it is.

    python docs/feedback-benchmark/near-candidates/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

from fkc_align import strategies as S

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import variant_rows  # noqa: E402

if __name__ == "__main__":
    variant_rows(sys.argv[1:], {"near1": S.FKCExplore(near=1), "near2": S.FKCExplore(near=2)})

"""The default with its kept picks capped at a share of the exploitation picks, so that the
tilted draw keeps making picks in every round (docs/feedback-benchmark.md, "The kept picks'
share under the floor"). One JSON row per run.

Once the strong liked answers outnumber the exploitation picks, every exploitation pick is a
kept pick, and the draw from the tilted target makes none ("A kept pick for every liked
region"): a liked class no answer anchors can then be shown only by the exploration. With
``keep_share`` below 1 the draw makes at least the rest in every round. Measured twice under
older defaults, on the design seeds only (``heldout-third/keep_share.py``; ``var3-half``,
"Variations of the liked answers"). Modes:

- ``shareS`` (``share0.75``, ``share0.5``): the default with ``keep_share=S``;
- a built-in strategy's name: it as it is.

    python docs/feedback-benchmark/keep-share/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

from fkc_align import strategies

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import patched_rows  # noqa: E402


def share(s: float) -> None:
    """The registered default's ``keep_share``."""
    strategies.get_strategy("fkc-explore").keep_share = s


if __name__ == "__main__":
    patched_rows(sys.argv[1:], "share", share)

"""The default with another novelty representation for the digits: the top ``d`` principal
components of the training images instead of 16 (docs/feedback-benchmark.md, "How many
principal components the picks see"). One JSON row per run.

Every pick rule measures distances in this representation: the kept picks' density and
kernel width, the floor's regions, the draw's clusters, the exploration's regions and novelty.
The 16 components were never varied. On 1s, 4s and 9s the last rounds are often mostly 1s
(design seed 201: ``41111111`` in round 7): if the answers of one class spread wider in the
representation than another's, the density order serves it more. Modes:

- ``pcaD`` (``pca8``, ``pca32``, ``pca64``): the default with ``D`` components (64: every
  direction of the 8x8 images, i.e. centred pixels);
- a built-in strategy's name: it as it is.

    python docs/feedback-benchmark/feature-dims/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

from fkc_align.tasks import digits_data

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import patched_rows  # noqa: E402


def components(n: float) -> None:
    """``digits_features`` reads the module's ``_digits_pca`` when called."""
    pca = digits_data._digits_pca
    digits_data._digits_pca = lambda n_components=int(n): pca(n_components)


if __name__ == "__main__":
    patched_rows(sys.argv[1:], "pca", components)

"""The default with the digits' novelty representation whitened: each of the 16 principal
components divided by its standard deviation to the power ``p`` (docs/feedback-benchmark.md,
"The features' weighting: whitened and sharpened"). One JSON row per run.

In the 16 components as they are, the first few (the broad strokes) dominate every distance,
and the 9s sit in the middle of them, close to 3s, 4s, 5s, 7s and 8s: exploration reaches them
last ("Fresh instances and a central liked class"). Whitening gives the later components (the
finer strokes) equal weight. The total variance is kept, so distances keep their scale. Modes:

- ``whiteP`` (``white1``: fully whitened; ``white0.5``: divided by the square root of each
  standard deviation; ``white-0.5``, ``white-1``: the other way, multiplied by it, so that the
  leading components weigh more);
- a built-in strategy's name: it as it is.

    python docs/feedback-benchmark/whitened-features/variant.py MODE SCENARIO LIKED SEEDS
"""

import sys
from pathlib import Path

import torch

from fkc_align.tasks import digits_data

sys.path.insert(0, str(Path(__file__).parent.parent))

from design_rows import patched_rows  # noqa: E402


def whiten(p: float) -> None:
    """``digits_features`` reads the module's ``_digits_pca`` when called: its basis scaled per
    component by ``std ** -p``, then by one constant that keeps the total variance."""
    mean, basis = digits_data._digits_pca()
    images, _ = digits_data.load_digits_data()
    flat = images.reshape(len(images), -1).float()
    std = ((flat - mean) @ basis).std(0)
    scale = std ** -p
    scale = scale * torch.sqrt((std ** 2).sum() / ((std * scale) ** 2).sum())
    scaled = (mean, (basis * scale).contiguous())
    digits_data._digits_pca = lambda n_components=None: scaled


if __name__ == "__main__":
    patched_rows(sys.argv[1:], "white", whiten)

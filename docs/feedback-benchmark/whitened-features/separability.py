"""How well each representation tells the digits apart: a 5-nearest-neighbour vote over the
1797 training images (leave one out), the share of each class voted right, for the 16
components as they are and weighted by ``std ** -p``. Output: ``separability.txt``.

    python docs/feedback-benchmark/whitened-features/separability.py > .../separability.txt
"""

import sys
from pathlib import Path

import torch

from fkc_align.tasks import digits_data

sys.path.insert(0, str(Path(__file__).parent))

import variant  # noqa: E402


def vote(features: torch.Tensor, labels: torch.Tensor, k: int = 5) -> list[float]:
    d = torch.cdist(features, features)
    d.fill_diagonal_(float("inf"))
    pred = torch.mode(labels[d.topk(k, largest=False).indices], 1).values
    return [round(float((pred[labels == c] == c).float().mean()), 3) for c in range(10)]


def main() -> None:
    images, labels = digits_data.load_digits_data()
    labels = torch.as_tensor(labels)
    pca = digits_data._digits_pca
    print("as they are:", vote(digits_data.digits_features(images), labels))
    for p in (1.0, 0.5, -0.5, -1.0):
        digits_data._digits_pca = pca
        variant.whiten(p)
        print(f"white{p:g}:", vote(digits_data.digits_features(images), labels))


if __name__ == "__main__":
    main()

"""scikit-learn's 8x8 digits: the images, the synthetic user's classifier, the novelty features.

Loaded once (cached); sklearn is imported only when a digits task is first used.
"""

from __future__ import annotations

import functools

import torch

DIGITS_SMOOTHING_STD = 0.1  # data std around each training image, in [-1, 1] units
DIGITS_FEATURES = 16  # principal components in the novelty representation


@functools.lru_cache(maxsize=2)
def load_digits_data() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8x8 digits: images float32 ``(1797, 1, 8, 8)`` in [-1, 1], labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32) / 8.0 - 1.0  # pixel range 0..16
    return images[:, None], torch.tensor(bunch.target, dtype=torch.long)


@functools.lru_cache(maxsize=2)
def _digit_classifier(c: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression on the digits: weights ``(10, 64)``, bias ``(10,)``."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    images, labels = load_digits_data()
    clf = LogisticRegression(C=c, max_iter=2000)
    # one BLAS thread: a 1797x64 fit gains nothing from more, and oversubscribed BLAS threads
    # on a busy 2-core machine made it 20x slower
    with threadpool_limits(limits=1):
        clf.fit(images.reshape(len(images), -1).numpy(), labels.numpy())
    return (torch.tensor(clf.coef_, dtype=torch.float32),
            torch.tensor(clf.intercept_, dtype=torch.float32))


def digit_log_probs(x: torch.Tensor) -> torch.Tensor:
    """The synthetic user's classifier: log-probabilities ``(n, 10)`` for ``x`` ``(n, 1, 8, 8)``."""
    weight, bias = _digit_classifier()
    logits = x.flatten(1).float().cpu() @ weight.T + bias
    return torch.log_softmax(logits, dim=1)


@functools.lru_cache(maxsize=1)
def _digits_pca(n_components: int = DIGITS_FEATURES) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(64,)`` and top principal directions ``(64, n_components)`` of the digit images."""
    images, _ = load_digits_data()
    flat = images.reshape(len(images), -1).double()
    mean = flat.mean(0)
    _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    return mean.float(), vh[:n_components].T.float().contiguous()


def digits_features(x: torch.Tensor) -> torch.Tensor:
    """Novelty representation of digit particles: the top principal components of the training
    images (unsupervised: no labels), ``(n, 64) -> (n, DIGITS_FEATURES)``."""
    mean, basis = _digits_pca()
    return (x.reshape(x.shape[0], -1).float().cpu() - mean) @ basis


__all__ = ["DIGITS_FEATURES", "DIGITS_SMOOTHING_STD", "digit_log_probs", "digits_features",
           "load_digits_data"]

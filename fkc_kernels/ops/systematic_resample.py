"""Public systematic resampling and effective sample size."""

from __future__ import annotations

import torch

from . import _validate as v
from ._backends import resolve_backend
from .noise import draw_uniform


def systematic_resample(
    logw: torch.Tensor, *, generator: torch.Generator | None = None, backend: str = "auto"
) -> torch.Tensor:
    """Systematic resampling of ``N`` particles from log-weights.

    One uniform ``u`` from ``generator``; offspring ``i`` takes the first ancestor whose
    cumulative normalized weight exceeds ``(i + u)/N``. Ancestor ``j`` gets
    ``floor(N W_j)`` or ``ceil(N W_j)`` offspring.

    Non-finite log-weights, the same on every backend: NaN and ``-inf`` count as zero weight;
    ``+inf`` anywhere, or no finite entry at all (all NaN/``-inf``), raises ``ValueError``
    naming ``logw`` and what it holds (checked on the host: one device sync).

    Args:
        logw: ``(N,)`` floating log-weights (unnormalised).
        generator: source of ``u`` (device default when ``None``).
        backend: ``"auto"`` or a backend name.

    Returns:
        int64 ``(N,)`` ancestor indices (non-decreasing) on ``logw.device``.
    """
    logw = v.check_weights("logw", logw)
    if logw.shape[0] == 0:
        raise ValueError("logw: expected at least one particle, got shape (0,)")
    v.check_generator(generator, logw.device)
    v.check_usable_log_weights("logw", logw)
    impl = resolve_backend(backend, logw.device)
    return impl.systematic_resample(logw, draw_uniform(generator, logw.device))


def effective_sample_size(logw: torch.Tensor) -> torch.Tensor:
    """Effective sample size ``(Σ W)² / Σ W²`` of ``exp(logw)``, computed stably.

    Args:
        logw: ``(N,)`` floating log-weights; the non-finite policy of
            :func:`systematic_resample` (NaN/``-inf`` weigh zero; ``+inf`` or no finite entry
            raises ``ValueError``, after one host sync).

    Returns:
        0-d float32 tensor in ``[1, N]`` on ``logw.device``.
    """
    from ..reference import effective_sample_size as _ess

    logw = v.check_weights("logw", logw)
    if logw.shape[0] == 0:
        raise ValueError("logw: expected at least one particle, got shape (0,)")
    v.check_usable_log_weights("logw", logw)
    return _ess(logw)

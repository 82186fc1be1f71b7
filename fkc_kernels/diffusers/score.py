"""A score function ``score_fn(x, tau)`` from a diffusers UNet and a noise schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..guidance import cfg_log_weight_from_gap
from ..rewards import check_batch_size
from ..schedules import PREDICTION_TYPES, StepCoefficients, score_from_prediction


def _timestep_tensor(t, n: int, device) -> torch.Tensor:
    if isinstance(t, int) or (isinstance(t, float) and t.is_integer()):
        return torch.full((n,), int(t), dtype=torch.long, device=device)
    return torch.full((n,), float(t), dtype=torch.float32, device=device)


def _rows(t: torch.Tensor | None, start: int, stop: int, n: int) -> torch.Tensor | None:
    """Rows ``start:stop`` of a per-particle tensor; a batch-1 tensor broadcasts."""
    if t is None:
        return None
    if t.shape[0] == 1:
        return t.expand(stop - start, *t.shape[1:])
    if t.shape[0] != n:
        raise ValueError(f"encoder_hidden_states: expected a batch of 1 or of N={n} particles, "
                         f"got {t.shape[0]}")
    return t[start:stop]


def output_to_score_slope(prediction_type: str, alpha: float, sigma: float) -> float:
    """``|d score / d output|``: the score is affine in the network output with this slope
    (times -1 for eps, v and flow), so ``||s_c - s_u|| = slope * ||out_c - out_u||``."""
    v_slope = alpha / ((alpha * alpha + sigma * sigma) * sigma)
    return {"epsilon": 1.0 / sigma, "v_prediction": v_slope, "sample": alpha / (sigma * sigma),
            "flow_prediction": alpha / sigma}[prediction_type]


class UNetScore:
    """``score_fn(x, tau) -> ∇log q_tau(x)`` for a diffusers UNet (or any ``model(x, t, ...)``).

    The network's output is converted by its ``prediction_type``, it is called with the
    schedule's timestep for ``tau`` (``schedule.timestep(tau)``: ``tau*T - 1`` for a
    :class:`~fkc_kernels.schedules.DiscreteVPSchedule`), in its own dtype, ``batch_size``
    particles at a time, optionally with classifier-free guidance.

    Args:
        unet: ``unet(x, t, [encoder_hidden_states=...], **unet_kwargs)`` returning a tensor,
            a tuple or an output with ``.sample`` (diffusers ``UNet2DModel``,
            ``UNet2DConditionModel``).
        schedule: gives ``alpha(tau)``, ``sigma(tau)`` and (unless ``timestep_fn``)
            ``timestep(tau)``.
        prediction_type: ``"epsilon"``, ``"v_prediction"``, ``"sample"`` or
            ``"flow_prediction"`` (a diffusers scheduler's ``config.prediction_type``).
        timestep_fn: ``tau -> timestep`` overriding ``schedule.timestep``.
        encoder_hidden_states: conditioning ``(1 or N, L, E)`` for a conditional UNet.
        guidance_scale: classifier-free guidance scale ``w`` (``None``: no CFG); needs
            ``negative_encoder_hidden_states`` (the unconditional embedding, ``(1 or N, L, E)``).
            The guided output is ``u + w*(c - u)`` as in diffusers pipelines.
        batch_size: particles per network call (``None``: all; with CFG a call holds twice as
            many rows).
        dtype: the network's input dtype (default: ``unet.dtype`` when it has one, else ``x``'s);
            the output is converted in float32 and returned in ``x``'s dtype.
        unet_kwargs: extra keyword arguments for every call (``class_labels=...``, ...).
        edm_sigma_data: diffusers' EDM preconditioning (``EDMEulerScheduler``'s
            ``config.sigma_data``, with an :class:`~fkc_kernels.grid_schedules.EDMSchedule`): the
            network gets ``c_in·x`` with ``c_in = 1/√(σ² + σ_d²)`` at ``c_noise = ln(σ)/4``, and
            its output ``F`` is the denoiser's ``c_skip·x + c_out·F`` (``c_skip = σ_d²/(σ² +
            σ_d²)``, ``c_out = ±σ·σ_d/√(σ² + σ_d²)``, minus for v-prediction).

    After a call with CFG, ``last_cfg_gap`` holds ``||s_c - s_u||²`` per particle (float32
    ``(N,)``) and :meth:`cfg_extra_dw` turns it into FKC's CFG log-weight term.
    """

    def __init__(
        self,
        unet: Callable[..., Any],
        schedule: Any,
        *,
        prediction_type: str = "epsilon",
        timestep_fn: Callable[[float], float] | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        negative_encoder_hidden_states: torch.Tensor | None = None,
        guidance_scale: float | None = None,
        batch_size: int | None = None,
        dtype: torch.dtype | None = None,
        unet_kwargs: dict[str, Any] | None = None,
        edm_sigma_data: float | None = None,
    ) -> None:
        if edm_sigma_data is not None and (prediction_type not in PREDICTION_TYPES[:2]
                                           or not float(edm_sigma_data) > 0):
            raise ValueError(f"edm_sigma_data: expected a positive number with prediction_type "
                             f"'epsilon' or 'v_prediction', got {edm_sigma_data!r} with "
                             f"{prediction_type!r}")
        self.edm_sigma_data = None if edm_sigma_data is None else float(edm_sigma_data)
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type: expected one of {PREDICTION_TYPES}, got "
                             f"{prediction_type!r}")
        if timestep_fn is None and not callable(getattr(schedule, "timestep", None)):
            raise ValueError(
                f"timestep_fn: {type(schedule).__name__} has no timestep(tau), so the network's "
                f"timestep is unknown; pass timestep_fn=tau -> timestep, or use a schedule that "
                f"has one (DiscreteVPSchedule, EDMSchedule, FlowMatchingSchedule)")
        if guidance_scale is not None:
            if encoder_hidden_states is None or negative_encoder_hidden_states is None:
                raise ValueError("guidance_scale: classifier-free guidance needs both "
                                 "encoder_hidden_states and negative_encoder_hidden_states")
            guidance_scale = float(guidance_scale)
        self.unet, self.schedule, self.prediction_type = unet, schedule, prediction_type
        self.timestep_fn = timestep_fn if timestep_fn is not None else schedule.timestep
        self.encoder_hidden_states = encoder_hidden_states
        self.negative_encoder_hidden_states = negative_encoder_hidden_states
        self.guidance_scale = guidance_scale
        self.batch_size = check_batch_size("batch_size", batch_size)
        self.dtype = dtype
        self.unet_kwargs = dict(unet_kwargs or {})
        self.last_cfg_gap: torch.Tensor | None = None

    def _model_dtype(self, x: torch.Tensor) -> torch.dtype:
        if self.dtype is not None:
            return self.dtype
        dt = getattr(self.unet, "dtype", None)
        return dt if isinstance(dt, torch.dtype) else x.dtype

    def _call(self, x_in: torch.Tensor, t, cond: torch.Tensor | None) -> torch.Tensor:
        kwargs = dict(self.unet_kwargs)
        if cond is not None:
            kwargs["encoder_hidden_states"] = cond.to(x_in.dtype)
        out = self.unet(x_in, _timestep_tensor(t, x_in.shape[0], x_in.device), **kwargs)
        if isinstance(out, tuple):
            out = out[0]
        return getattr(out, "sample", out).float()

    def model_output(self, x: torch.Tensor, tau: float) -> torch.Tensor:
        """The (CFG-combined) network output for ``x`` at ``tau``, float32 ``(N, *S)``."""
        n = x.shape[0]
        t = self.timestep_fn(tau)
        dt = self._model_dtype(x)
        step = self.batch_size or max(n, 1)
        c_in = 1.0 if self.edm_sigma_data is None else self._edm(tau)[0]
        outs, gaps = [], []
        for start in range(0, n, step):
            stop = min(start + step, n)
            xb = (x[start:stop] * c_in).to(dt) if c_in != 1.0 else x[start:stop].to(dt)
            cond = _rows(self.encoder_hidden_states, start, stop, n)
            if self.guidance_scale is None:
                outs.append(self._call(xb, t, cond))
                continue
            uncond = _rows(self.negative_encoder_hidden_states, start, stop, n)
            both = self._call(torch.cat([xb, xb]), t, torch.cat([uncond, cond]))
            u, c = both.chunk(2)
            outs.append(u + self.guidance_scale * (c - u))
            gaps.append(((c - u).reshape(stop - start, -1) ** 2).sum(1))
        if self.guidance_scale is not None:
            # ||s_c - s_u||^2 from the outputs' gap: the score is linear in the output with
            # slope -1/sigma (eps), -alpha/((alpha^2+sigma^2) sigma) (v), alpha/sigma^2 (x0)
            self.last_cfg_gap = torch.cat(gaps) * self._output_to_score_slope(tau) ** 2
        return torch.cat(outs)

    def _edm(self, tau: float) -> tuple[float, float, float]:
        """EDM's ``(c_in, c_skip, c_out)`` at ``sigma(tau)``."""
        sig, sd = self.schedule.sigma(tau), self.edm_sigma_data
        norm = (sig * sig + sd * sd) ** 0.5
        sign = 1.0 if self.prediction_type == "epsilon" else -1.0
        return 1.0 / norm, sd * sd / (norm * norm), sign * sig * sd / norm

    def _output_to_score_slope(self, tau: float) -> float:
        if self.edm_sigma_data is not None:  # s = (c_skip·x + c_out·F − x)/σ²
            return abs(self._edm(tau)[2]) / self.schedule.sigma(tau) ** 2
        return output_to_score_slope(self.prediction_type, self.schedule.alpha(tau),
                                     self.schedule.sigma(tau))

    def __call__(self, x: torch.Tensor, tau: float) -> torch.Tensor:
        out = self.model_output(x, tau)
        a, s = self.schedule.alpha(tau), self.schedule.sigma(tau)
        if self.edm_sigma_data is not None:
            _, c_skip, c_out = self._edm(tau)
            x0 = c_skip * x.float() + c_out * out
            return score_from_prediction(x0, x.float(), a, s, "sample").to(x.dtype)
        return score_from_prediction(out, x.float(), a, s, self.prediction_type).to(x.dtype)

    def cfg_extra_dw(self, x: torch.Tensor, score: torch.Tensor,
                     c: StepCoefficients) -> torch.Tensor:
        """FKC's CFG log-weight term ``h*(g²/2)*w*(w-1)*||s_c - s_u||²`` of the last call.

        The signature of an ``extra_dw`` callback of :class:`~fkc_kernels.FKCSampler`.
        """
        if self.guidance_scale is None or self.last_cfg_gap is None:
            raise ValueError("cfg_extra_dw: needs a UNetScore with guidance_scale, called first")
        return cfg_log_weight_from_gap(self.last_cfg_gap, self.guidance_scale, h=c.h,
                                       g=c.g).to(x.device)

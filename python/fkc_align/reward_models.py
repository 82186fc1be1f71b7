"""Reward networks f_θ: a small CNN for image particles, an MLP for flat ones, and their trainer.

The networks predict the *standardised* reward (z-score over the answers seen so far), so the
guidance strength ``lam_max`` means the same thing whatever the oracle's units are.
``RewardModel.predict`` maps back to the oracle's units.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn


class SmallCNN(nn.Module):
    """``(n, C, H, W) -> (n,)``: two 3x3 convolutions (the second strided) and a 2-layer head."""

    def __init__(self, shape: tuple[int, int, int], width: int = 8) -> None:
        super().__init__()
        c, h, w = shape
        self.features = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2), nn.SiLU(),
        )
        flat = 2 * width * math.ceil(h / 2) * math.ceil(w / 2)
        # SiLU rather than ReLU: the sampler follows the gradient, which should be smooth
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, 32), nn.SiLU(), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)


class SmallMLP(nn.Module):
    """``(n, *S) -> (n,)``: flatten, two hidden SiLU layers."""

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class RewardModel(nn.Module):
    """A network that predicts standardised rewards, with the standardisation it was trained with.

    ``forward(x)`` returns the z-scored prediction ``(n,)`` (what the sampler is guided by);
    ``predict(x)`` returns it in the oracle's units: ``r_mean + r_std * forward(x)``.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("r_mean", torch.zeros(()))
        self.register_buffer("r_std", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.r_mean + self.r_std * self.net(x)


def make_reward_model(shape: tuple[int, ...], seed: int = 0) -> RewardModel:
    """A freshly initialised reward model for particles of ``shape`` (seeded, CPU, float32).

    ``(C, H, W)`` with ``H, W >= 3`` gets :class:`SmallCNN`; anything else :class:`SmallMLP`.
    """
    shape = tuple(int(s) for s in shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if len(shape) == 3 and shape[1] >= 3 and shape[2] >= 3:
            net: nn.Module = SmallCNN(shape)  # type: ignore[arg-type]
        else:
            net = SmallMLP(math.prod(shape))
        return RewardModel(net)


@dataclass
class TrainStats:
    """What one call of :func:`train_reward_model` did."""

    n_train: int
    n_holdout: int
    epochs: int
    train_loss: float
    holdout_loss: float | None


def _answers_for_training(x: torch.Tensor, r: torch.Tensor, seed: int,
                          holdout_fraction: float):
    """Checked answers for both trainers: float ``x``, z-scored rewards ``z``, their ``mean`` and
    ``std``, and the seeded hold-out split ``(hold, train)`` of indices (none under 8 answers)."""
    if x.shape[0] != r.shape[0] or r.dim() != 1:
        raise ValueError(f"x, r: expected (n, *S) and (n,), got {tuple(x.shape)} and "
                         f"{tuple(r.shape)}")
    if x.shape[0] < 1:
        raise ValueError("x: expected at least one answer to train on, got 0")
    if not torch.isfinite(r).all():
        raise ValueError("r: expected finite rewards, got non-finite values")
    x, r = x.float(), r.float().to(x.device)
    n = x.shape[0]
    mean = r.mean()
    std = torch.clamp(r.std() if n > 1 else torch.ones(()), min=1e-6)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(x.device)
    n_hold = int(math.floor(holdout_fraction * n)) if n >= 8 else 0
    return x, (r - mean) / std, mean, std, perm[:n_hold], perm[n_hold:]


def train_reward_model(
    model: RewardModel,
    x: torch.Tensor,
    r: torch.Tensor,
    *,
    seed: int,
    max_epochs: int = 400,
    patience: int = 40,
    holdout_fraction: float = 0.2,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
) -> TrainStats:
    """Fit ``model`` (in place, warm-started from its current weights) to rewards ``r``.

    Full-batch Adam on the mean squared error of z-scored rewards. A seeded ``holdout_fraction``
    slice (when there are at least 8 answers) stops training after ``patience`` epochs without
    improvement and the best held-out weights are kept; the model then stays on the CPU/device
    of ``x``.

    Args:
        x: ``(n, *S)`` float particles.
        r: ``(n,)`` finite rewards.
        seed: seeds the hold-out split (the same seed and data give the same model).
    """
    x, z, mean, std, hold, train = _answers_for_training(x, r, seed, holdout_fraction)
    n_hold = int(hold.numel())
    model.r_mean.copy_(mean)
    model.r_std.copy_(std)
    opt = torch.optim.Adam(model.net.parameters(), lr=lr, weight_decay=weight_decay)
    best_loss, best_state, since_best = math.inf, None, 0
    model.train()
    epochs, train_loss, hold_loss = 0, math.nan, None
    for epochs in range(1, max_epochs + 1):  # noqa: B007 (the count is reported)
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(x[train]) - z[train]) ** 2)
        loss.backward()
        opt.step()
        train_loss = float(loss.detach())
        if n_hold:
            with torch.no_grad():
                hold_loss = float(torch.mean((model(x[hold]) - z[hold]) ** 2))
            if hold_loss < best_loss - 1e-6:
                best_loss, best_state, since_best = hold_loss, copy.deepcopy(
                    model.net.state_dict()), 0
            else:
                since_best += 1
                if since_best >= patience:
                    break
    if best_state is not None:
        model.net.load_state_dict(best_state)
        hold_loss = best_loss
    model.eval()
    return TrainStats(n_train=int(train.numel()), n_holdout=n_hold, epochs=epochs,
                      train_loss=train_loss, holdout_loss=hold_loss)


class RewardEnsemble(nn.Module):
    """``M`` reward networks trained on bootstrap resamples of the answers, used as one model.

    ``forward(x)`` ``(n,)`` is the members' mean prediction standardised by the answers' mean
    and standard deviation (``r_mean``, ``r_std``), so the guidance strength means what it means
    for one :class:`RewardModel`; ``predict(x)`` is the mean in the oracle's units and
    ``predict_members(x)`` ``(M, n)`` each member's, for picks that should differ by member.
    With ``M = 1`` the single member is trained on every answer, exactly as one model. Members
    of one architecture are evaluated together (``torch.func.vmap`` over their stacked
    parameters: one batched call instead of ``M``).
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("members: expected at least one reward network, got none")
        self.members = nn.ModuleList(members)
        self.register_buffer("r_mean", torch.zeros(()))
        self.register_buffer("r_std", torch.ones(()))

    def _member_units(self, x: torch.Tensor) -> torch.Tensor:
        """``(M, n)`` member predictions in the oracle's units."""
        if len(self.members) > 1 and _same_architecture(self.members):
            return _stacked_call(list(self.members), x)
        outs = []
        for m in self.members:
            out = m(x)
            if isinstance(m, RewardModel):
                out = m.r_mean + m.r_std * out
            outs.append(out)
        return torch.stack(outs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self._member_units(x).mean(0) - self.r_mean) / self.r_std

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self._member_units(x).mean(0)

    @torch.no_grad()
    def predict_members(self, x: torch.Tensor) -> torch.Tensor:
        return self._member_units(x)


def _same_architecture(members) -> bool:
    first = members[0]
    if not isinstance(first, RewardModel):
        return False
    ref = [(k, v.shape) for k, v in first.state_dict().items()]
    return all(type(m) is type(first) and type(m.net) is type(first.net)
               and [(k, v.shape) for k, v in m.state_dict().items()] == ref for m in members)


def _stacked_call(members: list[RewardModel], x: torch.Tensor,
                  params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """``(M, n)``: every member's ``r_mean + r_std * net(x)`` in one vmapped call (``params``:
    stacked net parameters to use instead of the members' own, e.g. while training them)."""
    from torch.func import functional_call, stack_module_state, vmap

    nets = [m.net for m in members]
    if params is None:
        params, buffers = stack_module_state(nets)
    else:
        buffers = stack_module_state(nets)[1]
    template = copy.deepcopy(nets[0]).to("meta")

    def one(p, b):
        return functional_call(template, (p, b), (x,))

    out = vmap(one)(params, buffers)
    mean = torch.stack([m.r_mean for m in members])[:, None]
    std = torch.stack([m.r_std for m in members])[:, None]
    return mean + std * out


def train_ensemble(ensemble: RewardEnsemble, x: torch.Tensor, r: torch.Tensor, *, seed: int,
                   **options) -> list[TrainStats]:
    """Fit every member of ``ensemble`` (in place, warm-started) to rewards ``r``.

    One member trains on all answers (:func:`train_reward_model`). With several, member ``j``
    trains on a bootstrap resample of the non-held-out answers (seeded by ``(seed, j)``) so the
    members disagree where the answers say little; members of one architecture train together
    (their stacked parameters, one vmapped forward a step, early stopping on the mean held-out
    loss), others one after the other. ``options`` are :func:`train_reward_model`'s.

    Args:
        x: ``(n, *S)`` float particles; r: ``(n,)`` finite rewards.
    """
    if x.shape[0] != r.shape[0] or r.dim() != 1:
        raise ValueError(f"x, r: expected (n, *S) and (n,), got {tuple(x.shape)} and "
                         f"{tuple(r.shape)}")
    members = list(ensemble.members)
    n = x.shape[0]
    if len(members) == 1:
        stats = [train_reward_model(members[0], x, r, seed=seed, **options)]
    elif _same_architecture(members):
        stats = [_train_stacked(members, x, r, seed=seed, **options)]
    else:
        stats = []
        for j, member in enumerate(members):
            idx = _bootstrap(n, seed, j, x.device)
            stats.append(train_reward_model(member, x[idx], r[idx], seed=(seed + j) % 2**63,
                                            **options))
    r = r.float()
    ensemble.r_mean.copy_(r.mean())
    ensemble.r_std.copy_(torch.clamp(r.std() if n > 1 else torch.ones(()), min=1e-6))
    ensemble.eval()
    return stats


def _bootstrap(n: int, seed: int, j: int, device) -> torch.Tensor:
    gen = torch.Generator().manual_seed((seed + 7919 * (j + 1)) % 2**63)
    return torch.randint(0, n, (n,), generator=gen).to(device)


def _train_stacked(members: list[RewardModel], x: torch.Tensor, r: torch.Tensor, *, seed: int,
                   max_epochs: int = 400, patience: int = 40, holdout_fraction: float = 0.2,
                   lr: float = 3e-3, weight_decay: float = 1e-4) -> TrainStats:
    """:func:`train_reward_model` for ``M`` members at once (bootstrap per member)."""
    from torch.func import stack_module_state

    x, z, mean, std, hold, train = _answers_for_training(x, r, seed, holdout_fraction)
    n_hold = int(hold.numel())
    for m in members:  # one standardisation for all: their z-scores are comparable
        m.r_mean.copy_(mean)
        m.r_std.copy_(std)
    boot = torch.stack([train[_bootstrap(len(train), seed, j, x.device)]
                        for j in range(len(members))])  # (M, n_train)
    params, _ = stack_module_state([m.net for m in members])
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.Adam(params.values(), lr=lr, weight_decay=weight_decay)
    best_loss, best, since_best = math.inf, None, 0
    epochs, train_loss, hold_loss = 0, math.nan, None
    for epochs in range(1, max_epochs + 1):  # noqa: B007 (the count is reported)
        opt.zero_grad(set_to_none=True)
        pred = (_stacked_call(members, x, params) - mean) / std  # (M, n)
        loss = ((pred.gather(1, boot) - z[boot]) ** 2).mean(1).sum()
        loss.backward()
        opt.step()
        train_loss = float(loss.detach()) / len(members)
        if n_hold:
            with torch.no_grad():
                hold_pred = (_stacked_call(members, x[hold], params) - mean) / std
                hold_loss = float(((hold_pred - z[hold]) ** 2).mean())
            if hold_loss < best_loss - 1e-6:
                best_loss, since_best = hold_loss, 0
                best = {k: v.detach().clone() for k, v in params.items()}
            else:
                since_best += 1
                if since_best >= patience:
                    break
    final = best if best is not None else {k: v.detach() for k, v in params.items()}
    with torch.no_grad():
        for j, m in enumerate(members):
            for name, p in m.net.named_parameters():
                p.copy_(final[name][j])
            m.eval()
    if best is not None:
        hold_loss = best_loss
    return TrainStats(n_train=int(train.numel()), n_holdout=n_hold, epochs=epochs,
                      train_loss=train_loss, holdout_loss=hold_loss)

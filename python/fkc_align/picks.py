"""How a round chooses the particles it shows: sampling the pools, then the picks.

Written once against :class:`~fkc_align.particles.Particles`, so the single-process and the
sharded loop pick the same particles from the same generator state.

- cold start and ``random``: an unguided sample, uniform picks ("cold" / "random");
- ``fkc-eps`` / ``greedy``: the guided sample, top by FKC log-weight ("top") plus uniform
  others ("random"), Algorithm 1;
- ``fkc-explore``: a guided pool (``lam_max``) and an exploration pool (``explore_lam``).
  Exploitation ("top") ranks both pools by predicted reward, so particles from differently
  tilted samples are comparable (their FKC weights are not), taking each ensemble member's best
  in turn so one member's favourite mode cannot fill the round (with ``exploit_candidates`` c >
  1: among the top c × n_exploit, the ones farthest from what was asked). Exploration
  ("explore") takes from the exploration pool the particle farthest (in the task's feature
  space) from everything asked so far and already picked, one at a time: novelty on the base
  model's own samples, so it stays on the data manifold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fkc_kernels import LinearTilt

from .config import EPS_GREEDY, RoundPlan, RunConfig
from .particles import Particles
from .tasks import Task


@dataclass
class RoundPicks:
    """The particles a round shows, identical on every rank.

    Attributes:
        x: ``(n_show, *S)`` particles; picks: ``"cold" | "top" | "random" | "explore"`` each;
        score: ``(n_show,)`` float32: the FKC log-weight (fkc-eps, greedy, random, cold start)
            or the predicted reward (fkc-explore), what the pick was ranked by.
    """

    x: torch.Tensor
    picks: list[str]
    score: torch.Tensor


def _zero_reward(x: torch.Tensor):
    return torch.zeros(x.shape[0], device=x.device), torch.zeros_like(x)


def draw(particles: Particles, task: Task, cfg: RunConfig, model: torch.nn.Module | None,
         lam: float, n: int, gen: torch.Generator, *, backend: str, device: torch.device,
         on_step: Callable[[], None] | None = None):
    """This rank's share of ``n`` particles tilted by ``lam`` times ``model`` (unguided when
    ``model`` is None or ``lam`` is 0). Returns ``(x (n_r, *S), w (n_r,))``."""
    guided = model is not None and lam > 0
    reward_fn = model if guided else _zero_reward

    def score_fn(x, tau):
        if on_step is not None:
            on_step()
        return task.score_fn(x, tau)

    sampler = particles.make_sampler(score_fn, reward_fn, task.schedule,
                                     LinearTilt(lam if guided else 0.0), cfg.n_steps,
                                     weights="seed",
                                     reward_at=cfg.reward_at if guided else "x", backend=backend)
    res = sampler.sample(max(n, particles.world), task.shape, generator=gen, device=device)
    return res.x, res.w


def pick_round(particles: Particles, task: Task, cfg: RunConfig, plan: RoundPlan,
               model: torch.nn.Module, asked_x: torch.Tensor, gen: torch.Generator, *,
               backend: str, device: torch.device,
               on_step: Callable[[], None] | None = None) -> RoundPicks:
    """Sample round ``plan.round``'s particles and choose the ``plan.n_show`` to show.

    Args:
        model: the reward network (ensemble) trained on every answer so far.
        asked_x: ``(n_asked, *S)`` every particle asked before this round (on every rank).
        gen: the round's generator (same state on every rank).
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # the sampler needs gradients in x only
    try:
        return _pick(particles, task, cfg, plan, model, asked_x, gen, backend=backend,
                     device=device, on_step=on_step)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)


def _pick(particles, task, cfg, plan, model, asked_x, gen, *, backend, device, on_step):
    kw = dict(backend=backend, device=device, on_step=on_step)
    if plan.n_base:  # cold start or random: unguided, uniform picks
        x, w = draw(particles, task, cfg, None, 0.0, plan.n_base, gen, **kw)
        idx = particles.pick(w, plan.n_show, plan.n_show, gen)
        label = "cold" if plan.round == 0 else "random"
        return RoundPicks(particles.fetch(x, idx), [label] * plan.n_show,
                          particles.fetch(w[:, None], idx)[:, 0])
    xg, wg = draw(particles, task, cfg, model, cfg.lam_max, plan.n_guided, gen, **kw)
    if cfg.strategy in EPS_GREEDY or cfg.strategy == "greedy":
        idx = particles.pick(wg, plan.n_show, plan.n_explore, gen)
        return RoundPicks(particles.fetch(xg, idx),
                          ["top"] * plan.n_exploit + ["random"] * plan.n_explore,
                          particles.fetch(wg[:, None], idx)[:, 0])
    # fkc-explore: one candidate block [guided shard, pool shard] on each rank
    if plan.n_pool:
        xu, _ = draw(particles, task, cfg, model, cfg.explore_lam, plan.n_pool, gen, **kw)
    else:
        xu = xg[:0]
    x = torch.cat([xg, xu])
    in_pool = torch.cat([torch.zeros(len(xg), dtype=torch.bool, device=x.device),
                         torch.ones(len(xu), dtype=torch.bool, device=x.device)])
    members = _member_predictions(model, x)  # (M, n_r)
    mean_pred = members.mean(0)

    feats = task.features if task.features is not None else _flat
    fx = feats(x).float()
    ref = [feats(asked_x.to(x.device)).float()] if asked_x.numel() else []
    chosen: list[int] = []
    if plan.n_exploit:
        n_cand = min(len(x) * particles.world, max(plan.n_exploit,
                                                   round(cfg.exploit_candidates * plan.n_exploit)))
        tops = [particles.top(members[j], n_cand, gen).tolist()
                for j in range(members.shape[0])]
        if n_cand == plan.n_exploit:
            chosen = _round_robin(tops, plan.n_exploit)
        else:  # the candidates (every rank has them all), picked far from what was asked
            cand = _round_robin(tops, n_cand)
            cand_f = feats(particles.fetch(x, torch.tensor(cand, device=x.device))).float()
            chosen = [cand[i] for i in _farthest_first(cand_f, ref, plan.n_exploit)]
    if chosen:
        ref.append(feats(particles.fetch(x, torch.tensor(chosen, device=x.device))).float())
    for _ in range(plan.n_explore):
        if ref:
            dist = torch.cdist(fx, torch.cat(ref)).min(1).values
        else:
            dist = torch.zeros(len(x), device=x.device)
        dist = torch.where(in_pool, dist, torch.full_like(dist, -float("inf")))
        (i,) = particles.top(dist, 1, gen).tolist()
        chosen.append(i)
        ref.append(feats(particles.fetch(x, torch.tensor([i], device=x.device))).float())
    idx = torch.tensor(chosen, dtype=torch.int64, device=x.device)
    return RoundPicks(particles.fetch(x, idx),
                      ["top"] * plan.n_exploit + ["explore"] * plan.n_explore,
                      particles.fetch(mean_pred[:, None].float(), idx)[:, 0])


def _farthest_first(cand: torch.Tensor, ref: list[torch.Tensor], m: int) -> list[int]:
    """``m`` rows of ``cand`` ``(c, F)`` chosen one at a time, each the farthest from ``ref``
    (rows ``(r_i, F)``) and the rows chosen before it; ties to the lower index."""
    picked: list[int] = []
    dist = (torch.cdist(cand, torch.cat(ref)).min(1).values if ref
            else torch.full((len(cand),), float("inf"), device=cand.device))
    for _ in range(m):
        d = dist.clone()
        if picked:
            d[picked] = -float("inf")
        i = int(torch.argmax(d))
        picked.append(i)
        dist = torch.minimum(dist, torch.cdist(cand, cand[i:i + 1])[:, 0])
    return picked


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


def _member_predictions(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``(M, n)`` predicted rewards: each ensemble member's, or the one model's."""
    with torch.no_grad():
        if hasattr(model, "predict_members"):
            return model.predict_members(x).float()
        if hasattr(model, "predict"):
            return model.predict(x).float()[None]
        return model(x).float()[None]


def _round_robin(tops: list[list[int]], m: int) -> list[int]:
    """``m`` distinct indices taking each list's next unused entry in turn."""
    chosen: list[int] = []
    seen: set[int] = set()
    pos = [0] * len(tops)
    while len(chosen) < m:
        moved = False
        for j, lst in enumerate(tops):
            while pos[j] < len(lst) and lst[pos[j]] in seen:
                pos[j] += 1
            if pos[j] < len(lst) and len(chosen) < m:
                chosen.append(lst[pos[j]])
                seen.add(lst[pos[j]])
                pos[j] += 1
                moved = True
        if not moved:
            break
    return chosen

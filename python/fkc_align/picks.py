"""How a round chooses the particles it shows: sampling the pools, then the picks.

Written once against :class:`~fkc_align.particles.Particles`, so the single-process and the
sharded loop pick the same particles from the same generator state.

- cold start and ``random``: an unguided sample, uniform picks ("cold" / "random"); a
  strategy with ``cold_start="regions"`` (``fkc-explore-regions``) shows one typical member
  of each region of an unguided pool instead;
- ``fkc-eps``: the guided sample (the seed's weights), top by FKC log-weight ("top") plus
  uniform others ("random"), Algorithm 1;
- every registered strategy (:mod:`fkc_align.strategies`: ``fkc-explore``, ``greedy``,
  ``ucb``, ``thompson``, the ablations, yours): an unguided pool when the strategy asks for one,
  then the guided sample with exact weights (``weights="smc"``, ESS resampling) at the
  strategy's ``lam``, then the variations of the liked answers the strategy asks for
  (``fkc-explore``: SDEdit of its strong liked answers, candidates for its kept picks); all are
  gathered on every rank into a :class:`~fkc_align.strategies.RoundView` and the strategy's
  ``pick`` chooses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from fkc_kernels import FKCSampler, LinearTilt, zero_reward

from .config import RoundPlan, RunConfig
from .particles import Particles
from .pick_rules import liked_answers, region_picks
from .strategies import RoundView, get_strategy
from .tasks import Task


@dataclass
class RoundPicks:
    """The particles a round shows, identical on every rank.

    Attributes:
        x: ``(n_show, *S)`` particles; picks: ``"cold" | "top" | "random" | "explore"`` each;
        score: ``(n_show,)`` float32: the FKC log-weight (fkc-eps, random, cold start) or what
            the registered strategy ranked by (the predicted reward for the built-ins).
    """

    x: torch.Tensor
    picks: list[str]
    score: torch.Tensor


def draw(particles: Particles, task: Task, cfg: RunConfig, model: torch.nn.Module | None,
         lam: float, n: int, gen: torch.Generator, *, backend: str, device: torch.device,
         on_step: Callable[[], None] | None = None, weights: str = "seed",
         resample: str | None = None):
    """This rank's share of ``n`` particles tilted by ``lam`` times ``model`` (unguided when
    ``model`` is None or ``lam`` is 0), with the sampler's ``weights`` and ``resample``
    settings. Returns ``(x (n_r, *S), w (n_r,))``."""
    guided = model is not None and lam > 0
    reward_fn = model if guided else zero_reward

    def score_fn(x, tau):
        if on_step is not None:
            on_step()
        return task.score_fn(x, tau)

    sampler = particles.make_sampler(score_fn, reward_fn, task.schedule,
                                     LinearTilt(lam if guided else 0.0), cfg.n_steps,
                                     weights=weights, resample=resample,
                                     reward_at=cfg.reward_at if guided else "x", backend=backend)
    res = sampler.sample(max(n, particles.world), task.shape, generator=gen, device=device)
    return res.x, res.w


def pick_round(particles: Particles, task: Task, cfg: RunConfig, plan: RoundPlan,
               model: torch.nn.Module, asked_x: torch.Tensor, gen: torch.Generator, *,
               backend: str, device: torch.device,
               on_step: Callable[[], None] | None = None,
               asked_r: torch.Tensor | None = None) -> RoundPicks:
    """Sample round ``plan.round``'s particles and choose the ``plan.n_show`` to show.

    Args:
        model: the reward network (ensemble) trained on every answer so far.
        asked_x: ``(n_asked, *S)`` every particle asked before this round (on every rank);
            asked_r: ``(n_asked,)`` their answers (zeros when None).
        gen: the round's generator (same state on every rank).
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # the sampler needs gradients in x only
    try:
        return _pick(particles, task, cfg, plan, model, asked_x, gen, backend=backend,
                     device=device, on_step=on_step, asked_r=asked_r)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)


def _pick(particles, task, cfg, plan, model, asked_x, gen, *, backend, device, on_step,
          asked_r=None):
    kw = dict(backend=backend, device=device, on_step=on_step)
    if plan.n_base:  # cold start or random: unguided, uniform picks
        x, w = draw(particles, task, cfg, None, 0.0, plan.n_base, gen, **kw)
        if plan.round == 0 and plan.n_base > plan.n_show:  # the "regions" cold start
            return _region_cold_start(particles, task, x, w, plan.n_show)
        idx = particles.pick(w, plan.n_show, plan.n_show, gen)
        label = "cold" if plan.round == 0 else "random"
        return RoundPicks(particles.fetch(x, idx), [label] * plan.n_show,
                          particles.fetch(w[:, None], idx)[:, 0])
    strat = get_strategy(cfg.strategy)
    if strat is None:  # fkc-eps: Algorithm 1, top by the seed's weights plus uniform picks
        xg, wg = draw(particles, task, cfg, model, cfg.lam_max, plan.n_guided, gen, **kw)
        idx = particles.pick(wg, plan.n_show, plan.n_explore, gen)
        return RoundPicks(particles.fetch(xg, idx),
                          ["top"] * plan.n_exploit + ["random"] * plan.n_explore,
                          particles.fetch(wg[:, None], idx)[:, 0])
    if asked_r is None:
        asked_r = torch.zeros(len(asked_x), device=asked_x.device)
    view = _round_view(particles, task, cfg, plan, model, asked_x, asked_r, gen, strat, kw)
    out = strat.pick(view)
    idx = torch.as_tensor(out.index, dtype=torch.int64, device=view.x.device).reshape(-1)
    _check_picks(idx, out.labels, len(view.x), plan.n_show)
    return RoundPicks(view.x[idx], list(out.labels),
                      torch.as_tensor(out.score, dtype=torch.float32).reshape(-1).cpu())


def _region_cold_start(particles: Particles, task: Task, x: torch.Tensor, w: torch.Tensor,
                       n_show: int) -> RoundPicks:
    """Round 0 of a ``cold_start="regions"`` strategy: of the unguided sample (this rank's rows
    ``x``, ``w``), one typical member of each of ``n_show`` regions (the same on every rank)."""
    x, w = _gather(particles, x), _gather(particles, w[:, None])[:, 0]
    feats = task.features if task.features is not None else _flat
    idx = torch.tensor(region_picks(feats(x).float(), n_show), dtype=torch.int64,
                       device=x.device)
    return RoundPicks(x[idx], ["cold"] * n_show, w[idx])


def _check_picks(idx: torch.Tensor, labels, n: int, n_show: int) -> None:
    if len(idx) != n_show or len(set(idx.tolist())) != n_show:
        raise ValueError(f"strategy: expected {n_show} distinct indices, got {idx.tolist()}")
    if int(idx.min()) < 0 or int(idx.max()) >= n:
        raise ValueError(f"strategy: expected indices in [0, {n}), got {idx.tolist()}")
    if len(labels) != n_show:
        raise ValueError(f"strategy: expected {n_show} labels, got {len(labels)}")


def _gather(particles: Particles, x: torch.Tensor) -> torch.Tensor:
    """Every rank's rows of ``x`` on every rank (the whole block, in global order)."""
    n = len(x) if particles.world == 1 else _global_count(particles, x)
    return particles.fetch(x, torch.arange(n, device=x.device))


def _global_count(particles: Particles, x: torch.Tensor) -> int:
    import torch.distributed as dist

    t = torch.tensor([len(x)], dtype=torch.int64, device=x.device)
    dist.all_reduce(t, group=particles.group)
    return int(t)


def merge_copies(x: torch.Tensor, log_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The weighted set ``(x (n, *S), log_w (n,))`` with identical rows merged into one whose
    weight is their sum (resampling at the last step leaves exact copies, which a pick must not
    show twice). Rows come back in first-occurrence order."""
    flat = x.reshape(len(x), -1)
    _, inv = torch.unique(flat, dim=0, return_inverse=True)
    first: dict[int, int] = {}
    for i, g in enumerate(inv.tolist()):
        first.setdefault(g, i)
    keep = torch.tensor(sorted(first.values()), dtype=torch.int64, device=x.device)
    if len(keep) == len(x):
        return x, log_w
    slot = torch.empty(len(first), dtype=torch.int64)
    for rank, i in enumerate(keep.tolist()):
        slot[inv[i]] = rank
    group = slot[inv.cpu()].to(x.device)
    top = log_w.max() if torch.isfinite(log_w.max()) else log_w.new_zeros(())
    mass = torch.zeros(len(keep), dtype=torch.float64, device=x.device).index_add_(
        0, group, torch.exp(log_w.double() - top))
    return x[keep], (torch.log(mass) + top).to(log_w.dtype)


def _round_view(particles, task, cfg, plan, model, asked_x, asked_r, gen, strat, kw):
    """Draw the pool, then the guided sample with the strategy's ``lam``; the whole round as
    a :class:`~fkc_align.strategies.RoundView` on every rank."""
    feats = task.features if task.features is not None else _flat
    if plan.n_pool:
        xu, _ = draw(particles, task, cfg, model, cfg.explore_lam, plan.n_pool, gen, **kw)
        xu = _gather(particles, xu)
    else:
        xu = asked_x.new_zeros((0, *task.shape))
    spread, pool_members = 0.0, None
    if len(xu) and getattr(model, "members", None) is not None and len(model.members) > 1:
        pool_members = _member_predictions(model, xu)  # kept for the round view below
        spread = float((pool_members / model.r_std).std(0).mean())
    spent = (len(asked_x) / cfg.budget)
    lam = float(strat.guidance(cfg.lam_max, spent, spread))
    weights, resample = ("smc", "ess") if strat.weighted else ("smc", None)
    xs, ws = [], []
    while not xs or (sum(map(len, xs)) < plan.n_show and len(xs) < 4):
        # resampling at the last step leaves copies; a set too small to show is topped up by
        # another independent batch (each batch normalised, then weighted equally)
        xg, wg = draw(particles, task, cfg, model, lam, plan.n_guided, gen, weights=weights,
                      resample=resample, **kw)
        xg, wg = _gather(particles, xg), _gather(particles, wg[:, None])[:, 0]
        if not strat.weighted:
            wg = torch.zeros_like(wg)
        xg, wg = merge_copies(xg, wg)
        xs.append(xg)
        ws.append(wg - torch.logsumexp(wg, 0))
    # each batch is merged already; only copies across batches are left to merge
    xg, wg = merge_copies(torch.cat(xs), torch.cat(ws)) if len(xs) > 1 else (xs[0], ws[0])
    x = torch.cat([xg, xu.to(xg.device)])
    members = _member_predictions(model, xg)
    if len(xu):
        pool = (pool_members if pool_members is not None
                else _member_predictions(model, x[len(xg):]))
        members = torch.cat([members, pool.to(members.device)], 1)
    in_pool = torch.cat([torch.zeros(len(xg), dtype=torch.bool, device=x.device),
                         torch.ones(len(xu), dtype=torch.bool, device=x.device)])
    log_w = torch.cat([wg.float(), torch.full((len(xu),), -math.inf, device=x.device)])
    features = feats(x).float()
    xv = _variations(task, cfg, getattr(strat, "variations", None), asked_x, asked_r, gen, kw)
    n_var = 0 if xv is None else len(xv)
    if n_var:  # after the guided sample and the pool: rows the draw and exploration skip
        xv = xv.to(device=x.device, dtype=x.dtype)
        x = torch.cat([x, xv])
        in_pool = torch.cat([in_pool, torch.zeros(n_var, dtype=torch.bool, device=x.device)])
        log_w = torch.cat([log_w, torch.full((n_var,), -math.inf, device=x.device)])
        features = torch.cat([features, feats(xv).float().to(features.device)])
        members = torch.cat([members, _member_predictions(model, xv).to(members.device)], 1)
    in_variations = torch.arange(len(x), device=x.device) >= len(x) - n_var
    return RoundView(round=plan.round, n_show=plan.n_show, n_exploit=plan.n_exploit,
                     n_explore=plan.n_explore, x=x, log_w=log_w, in_pool=in_pool,
                     features=features, members=members,
                     asked_x=asked_x, asked_features=feats(asked_x.to(x.device)).float(),
                     asked_r=asked_r, lam=lam, spent=spent, spread=spread, generator=gen,
                     in_variations=in_variations)


def _variations(task: Task, cfg: RunConfig, spec, asked_x: torch.Tensor,
                asked_r: torch.Tensor, gen: torch.Generator, kw: dict) -> torch.Tensor | None:
    """``(m, *S)`` the variations ``spec`` (a :class:`~fkc_align.strategies.Variations`, or
    None) asks for: each of the ``spec.max_answers`` most recent answers at least the median
    liked answer, ``spec.per_answer`` times, noised to the forward time of ``spec.tau`` and
    denoised by the base model, unguided (SDEdit). None when ``spec`` is None or no answer is
    liked yet.

    Every rank makes all of them with the single-process sampler from the round's generator
    (the same state on every rank), so every rank holds the same rows, those of one process.
    """
    if spec is None:
        return None
    strong = liked_answers(asked_x, asked_r, strong=True)[-spec.max_answers:]
    if not len(strong):
        return None
    x0 = strong.repeat_interleave(spec.per_answer, 0)
    sampler = FKCSampler(task.score_fn, zero_reward, task.schedule, LinearTilt(0.0), cfg.n_steps,
                         weights="seed", resample=None, reward_at="x", backend=kw["backend"],
                         dw_clip=None, w_clip=None)
    start = min(max(int(round(cfg.n_steps * (1.0 - spec.tau))), 0), cfg.n_steps - 1)
    noisy = sampler.noised(x0, start, generator=gen)
    return sampler.sample(generator=gen, device=kw["device"], latents=noisy,
                          start_step=start).x


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

"""The pick-rule variants of docs/feedback-benchmark.md's "Latest round", registered for the
experiment only, and the per-pick-kind hit rates that located the UCB gap.

    python docs/feedback-benchmark/pick-variants/variants.py run SCENARIO LIKED SEEDS STRATS
    python docs/feedback-benchmark/pick-variants/variants.py kinds SCENARIO LIKED SEEDS

``run``: one JSON row per run (``bench.run_one``, the bench's own sizes) with the instance's
liked classes; ``kinds``: per pick kind and round (draw, keep, unexpl, explore; ``ucb`` for the
baseline) the count, hit rate, share from the pool and hits per liked class. ``LIKED`` is the
liked classes (``3,8`` for the mixture scenarios, where it is unused), ``SEEDS`` ``A-B``.
"""

import dataclasses
import json
import sys
from collections import Counter, defaultdict

import torch

from fkc_align import bench
from fkc_align import pick_rules as R
from fkc_align import strategies as S

KINDS: list[tuple[int, list[str], torch.Tensor, torch.Tensor]] = []


def best_unexplored(view, chosen, m, clusters, score, by_score=False):
    """unexplored_picks, but each unvisited region shows its best ``score`` member
    (``by_score``: and the regions with the best such member come first)."""
    if m <= 0:
        return []
    regions = R.unvisited_regions(view.features, view.in_pool, view.asked_features, chosen,
                                  clusters)
    if by_score:
        regions = sorted(regions, key=lambda r: -float(score[r[0]].max()))
    best = [int(members[int(torch.argmax(score[members]))]) for members, _ in regions[:m]]
    return [i for i in best if i not in chosen]


def liked_novelty_picks(view, chosen, m, hopeful):
    """Up to ``m`` picks among the ``hopeful`` rows (guided or pool), each the one farthest from
    every liked answer and every pick so far: a liked mode nobody has answered yet."""
    liked = R.liked_answers(view.asked_features, view.asked_r)
    allowed = hopeful.clone()
    allowed[chosen] = False
    if not len(liked) or int(allowed.sum()) < m:
        return []
    return R.explore_picks(view.features, allowed, liked, chosen, m)


class Variant(S.FKCExplore):
    """fkc-explore with one knob turned (all off: the default's picks, bit for bit).

    kappa: the draw and the kept picks show the best of ``mean - kappa·std``; keep_from:
    kept picks only among "guided" particles or those predicted at least the median liked
    answer ("liked"); ux_best: an unvisited region shows its best ``mean + std`` member
    ("order": and the regions with the best such member go first);
    opt_explore: novelty picks only among pool particles with ``mean + std`` above the liked
    threshold; cut: no exploration once this share of the budget is spent; power: the
    exploration share decays as ``(1 - spent)**power``; liked_novelty: after the unvisited
    regions, the exploration picks go to rows (guided or pool) with ``mean + std`` above the
    liked threshold, farthest from every liked answer; late_guided: once this share of the
    budget is spent the exploration picks come from the guided sample instead of the pool.
    """

    def __init__(self, kappa=0.0, keep_from="all", ux_best=False, opt_explore=False,
                 cut=None, power=1.0, liked_novelty=False, late_guided=None, **kw):
        super().__init__(**kw)
        self.late_guided = late_guided
        self.liked_novelty = liked_novelty
        self.kappa, self.keep_from, self.ux_best = kappa, keep_from, ux_best
        self.opt_explore, self.cut, self.power = opt_explore, cut, power

    def n_explore(self, view):
        if self.cut is not None and view.spent > self.cut + 1e-9:
            return 0
        if self.power == 1.0 or view.n_explore == 0:
            return super().n_explore(view)
        # the default's share with its (1 - spent) factor raised to ``power``
        budget = len(view.asked_r) / view.spent if view.spent > 0 else 64.0
        eps = self.eps_max * (1.0 - min(view.spent, 1.0)) ** self.power * min(1.0,
                                                                              budget / 64.0)
        return min(int(round(view.n_show * eps)), view.n_show)

    def keep_score(self, view, score):
        allowed = ~view.in_pool if self.keep_from == "guided" else None
        tau = R.median_liked(view.asked_r)
        if self.keep_from == "liked" and tau is not None:
            allowed = view.mean >= tau
        return score if allowed is None else score.masked_fill(~allowed, -1e30)

    def pick(self, view):
        n_exploit = view.n_show - self.n_explore(view)
        anchors = R.liked_answers(view.asked_features, view.asked_r, strong=True)
        n_keep = min(len(anchors), int(n_exploit * self.keep_share))
        score = view.mean - self.kappa * view.std
        chosen, kinds = [], []
        if n_exploit - n_keep:
            g = R.likely_liked(torch.nonzero(~view.in_pool)[:, 0], view.mean, view.asked_r,
                               n_exploit - n_keep)
            local = R.draw_by_weight(view.features[g], view.log_w[g], n_exploit - n_keep,
                                     view.generator, score=score[g])
            chosen = g[torch.tensor(local, dtype=torch.int64)].tolist()
        kinds += ["draw"] * len(chosen)
        kept = R.keep_picks(view.features, anchors, chosen, n_keep,
                            self.keep_score(view, score), near=self.near, order=self.order)
        chosen += kept
        kinds += ["keep"] * len(kept)
        ucb = view.mean + view.std
        ex = view  # what the exploration rules see as the pool
        if self.late_guided is not None and view.spent > self.late_guided + 1e-9:
            ex = dataclasses.replace(view, in_pool=~view.in_pool)  # the guided sample instead
        if self.ux_best:
            new = best_unexplored(ex, chosen, view.n_show - len(chosen), self.clusters, ucb,
                                  by_score=self.ux_best == "order")
        else:
            new = R.unexplored_picks(view.features, ex.in_pool, view.asked_features, chosen,
                                     view.n_show - len(chosen), self.clusters)
        chosen += new
        kinds += ["unexpl"] * len(new)
        pool, tau = ex.in_pool, R.liked_threshold(view.asked_r)
        if self.liked_novelty and tau is not None:
            new = liked_novelty_picks(view, chosen, view.n_show - len(chosen), ucb >= tau)
            chosen += new
            kinds += ["explore"] * len(new)
        if self.opt_explore and tau is not None:
            hopeful = pool & (ucb >= tau)
            pool = hopeful if int(hopeful.sum()) >= 4 * (view.n_show - len(chosen)) else pool
        new = R.explore_picks(view.features, pool, view.asked_features, chosen,
                              view.n_show - len(chosen), view.std)
        chosen += new
        kinds += ["explore"] * len(new)
        idx = torch.tensor(chosen, dtype=torch.int64)
        KINDS.append((view.round, kinds, view.x[idx].clone(), view.in_pool[idx].clone()))
        labels = ["top"] * n_exploit + ["explore"] * (len(chosen) - n_exploit)
        return S.StrategyPicks(idx, labels, view.mean[idx].float())


class LoggedUCB(S.UCB):
    def pick(self, view):
        out = super().pick(view)
        KINDS.append((view.round, ["ucb"] * len(out.index), view.x[out.index].clone(),
                      view.in_pool[out.index].clone()))
        return out


VARIANTS = {
    "lcb05": Variant(kappa=0.5), "lcb1": Variant(kappa=1.0), "near8": Variant(near=8),
    "kguided8": Variant(keep_from="guided", near=8), "kliked8": Variant(keep_from="liked", near=8),
    "optexp": Variant(opt_explore=True), "uxbest": Variant(ux_best=True),
    "uxbest-opt": Variant(ux_best=True, opt_explore=True), "uxorder": Variant(ux_best="order"),
    "eps15": Variant(eps_max=0.15), "likednovel": Variant(liked_novelty=True),
    "lateguided": Variant(late_guided=0.375),
    "cut25": Variant(cut=0.25), "cut375": Variant(cut=0.375), "pow2": Variant(power=2.0),
    "kinds-default": Variant(), "kinds-ucb": LoggedUCB(),
}


def scenario(name, liked):
    kw = {"liked3": liked} if name == "multimodal-3" else {"liked": liked}
    return next(s for s in bench.scenarios(**kw) if s.name == name)


def kinds(sc, liked, seeds):
    task = sc.task()
    for strat in ("kinds-default", "kinds-ucb"):
        agg = defaultdict(lambda: [0, 0, 0, Counter()])
        for seed in seeds:
            KINDS.clear()
            bench.run_one(sc, strat, {"strategy": strat}, seed)
            for rnd, names, x, pool in KINDS:
                for kind, mode, p in zip(names, task.liked_mode(x).tolist(), pool.tolist(),
                                         strict=True):
                    for key in (kind, f"{kind}@r{min(rnd, 4)}"):
                        a = agg[key]
                        a[0], a[1], a[2] = a[0] + 1, a[1] + (mode >= 0), a[2] + p
                        if mode >= 0:
                            a[3][liked[mode]] += 1
        print("==", strat, liked)
        for key in sorted(agg):
            n, hit, pool, per = agg[key]
            print(f"  {key:14s} n={n:4d} hit={hit / n:.3f} pool={pool / n:.2f} "
                  f"classes={dict(sorted(per.items()))}")


def main(argv):
    mode, name, liked, seeds = argv[:4]
    liked = tuple(int(c) for c in liked.split(","))
    a, b = (int(s) for s in seeds.split("-"))
    for key, strategy in VARIANTS.items():
        S.register_strategy(key, strategy, replace=True)
    sc = scenario(name, liked)
    if mode == "kinds":
        return kinds(sc, liked, range(a, b + 1))
    for strat in argv[4].split(","):
        for seed in range(a, b + 1):
            row = bench.run_one(sc, strat, {"strategy": strat}, seed)
            print(json.dumps({**row, "liked": list(liked)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

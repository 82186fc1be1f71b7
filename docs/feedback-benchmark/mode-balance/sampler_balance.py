"""Is the guided sample itself balanced over the liked classes? The loop's sampler settings
(N particles, 20 steps, the denoised-estimate reward, no clips) guided by the *true* reward,
z-scored as ``bench.tilted_balance`` does, at lam 8, so that the exact tilted target's balance
is known. Per seed, the weighted liked classes' shares of the final particle set give a balance
(the rarest share times the number of liked classes, 0 when a class is missing); printed as a
mean with a 95% interval over seeds for the exact weights with ESS resampling at the default
threshold (the default's guided round) and at lower ones, the exact weights without
resampling, and the guided SDE alone with uniform weights (``-uniform``), beside the target's
own balance and that of N exact draws of it (docs/feedback-benchmark.md, "Kept picks by
region").

    python docs/feedback-benchmark/mode-balance/sampler_balance.py LIKED N SEEDS
"""

import sys

import torch

from fkc_align import tasks
from fkc_align.bench import interval, tilted_balance
from fkc_kernels import FKCSampler, LinearTilt

SETTINGS = {"exact weights, ESS resampling at 0.5·N (the default)": ("smc", "ess", True, 0.5),
            "exact weights, ESS resampling at 0.2·N": ("smc", "ess", True, 0.2),
            "exact weights, ESS resampling at 0.05·N": ("smc", "ess", True, 0.05),
            "exact weights, no resampling": ("smc", None, True, 0.5),
            "uniform weights (-uniform)": ("smc", None, False, 0.5)}


def z_reward(task):
    """The true reward z-scored over the base model's smoothed training images (as
    ``bench.tilted_balance``), differentiable in x."""
    images, _ = tasks.load_digits_data()
    gen = torch.Generator().manual_seed(0)
    x = images.repeat(16, 1, 1, 1)
    r = task.oracle(x + task.params["smoothing_std"] * torch.randn(x.shape, generator=gen))
    mean, std = float(r.mean()), float(r.std())
    return lambda x: (task.oracle(x) - mean) / std


def exact_draws(task, n: int, seed: int) -> torch.Tensor:
    """``n`` independent draws of the exact tilted target (the smoothed training images of
    ``bench.tilted_balance``, drawn by weight ``exp(8·r_z)``): the balance an ideal sampler's
    ``n`` particles would show."""
    images, _ = tasks.load_digits_data()
    gen = torch.Generator().manual_seed(0)
    x = images.repeat(16, 1, 1, 1)
    x = x + task.params["smoothing_std"] * torch.randn(x.shape, generator=gen)
    r = task.oracle(x).double()
    z = (r - r.mean()) / r.std()
    idx = torch.multinomial(torch.softmax(8.0 * z, 0), n, replacement=True,
                            generator=torch.Generator().manual_seed(seed))
    return x[idx]


def balance(task, x: torch.Tensor, log_w: torch.Tensor) -> float:
    w = torch.softmax(log_w.double(), 0)
    mode = task.liked_mode(x)
    mass = torch.stack([w[mode == j].sum() for j in range(task.n_liked)])
    return float(mass.min() / mass.sum() * task.n_liked) if mass.sum() > 0 else 0.0


def main(argv: list[str]) -> None:
    liked = tuple(int(c) for c in argv[0].split(","))
    n, (first, last) = int(argv[1]), (int(s) for s in argv[2].split("-"))
    torch.set_num_threads(1)
    task = tasks.digits_liked(liked)
    reward = z_reward(task)
    print(f"liked {list(liked)}, N {n}: the tilted target's balance "
          f"{tilted_balance(task, 8.0):.2f}")
    exact = [balance(task, x, torch.zeros(n)) for x in
             (exact_draws(task, n, seed) for seed in range(first, last + 1))]
    iv = interval(exact)
    print(f"  {n} exact draws of the target: balance {iv['mean']:.2f} ± {iv['ci95']:.2f}")
    for name, (weights, resample, weighted, ess) in SETTINGS.items():
        values = []
        for seed in range(first, last + 1):
            sampler = FKCSampler(task.score_fn, reward, task.schedule, LinearTilt(8.0), 20,
                                 weights=weights, resample=resample, ess_threshold=ess,
                                 reward_at="x0_hat", dw_clip=None, w_clip=None)
            res = sampler.sample(n, task.shape, generator=torch.Generator().manual_seed(seed))
            log_w = res.w if weighted else torch.zeros_like(res.w)
            values.append(balance(task, res.x, log_w))
        iv = interval(values)
        print(f"  {name}: balance {iv['mean']:.2f} ± {iv['ci95']:.2f} over {len(values)} seeds",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""How far a variation moves, and whether it keeps its class: confident unguided digits
samples (the loop's base model, 20 steps) noised to the forward time of each start step and
denoised again (SDEdit, unguided); per start step the share whose classifier class is kept,
the share still confident, and the median distance moved in the task's features, beside the
median nearest-neighbour distance among the samples. Output: ``probe.txt``.

    python docs/feedback-benchmark/variations/probe.py
"""

import torch

from fkc_align import tasks
from fkc_align.tasks.digits import digit_log_probs
from fkc_align.tasks.digits_data import digits_features
from fkc_kernels import FKCSampler, LinearTilt


def zero_reward(x):
    return torch.zeros(x.shape[0]), torch.zeros_like(x)


def main() -> None:
    torch.set_num_threads(2)
    task = tasks.digits_liked((0, 8, 9))
    sampler = FKCSampler(task.score_fn, zero_reward, task.schedule, LinearTilt(0.0), 20,
                         weights="seed", resample=None, reward_at="x")
    gen = torch.Generator().manual_seed(1)
    x = sampler.sample(512, task.shape, generator=gen).x
    logp = digit_log_probs(x)
    confident = logp.max(1).values > -0.1
    x, cls = x[confident], logp.argmax(1)[confident]
    f0 = digits_features(x)
    d = torch.cdist(f0, f0)
    d.fill_diagonal_(float("inf"))
    print(f"{len(x)} confident samples of 512; median nearest-neighbour distance "
          f"{d.min(1).values.median():.2f}")
    for start in (6, 8, 10, 12, 14, 16):
        noisy = sampler.noised(x, start, generator=gen)
        y = sampler.sample(len(x), task.shape, generator=gen, latents=noisy,
                           start_step=start).x
        lq = digit_log_probs(y)
        kept = (lq.argmax(1) == cls).float().mean()
        clear = (lq.max(1).values > -0.1).float().mean()
        moved = (digits_features(y) - f0).norm(dim=1).median()
        print(f"start step {start} (tau {sampler.coefficients(start).tau:.2f}): class kept "
              f"{kept:.2f}, confident {clear:.2f}, moved {moved:.2f}")


if __name__ == "__main__":
    main()

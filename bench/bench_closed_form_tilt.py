"""The closed-form Gaussian tilt through diffusers schedulers: the table in docs/diffusers.md.

Data N(mu, 0.25 I) in 8 dims with an exact denoiser under each scheduler's own alphas_cumprod,
r(x) = a.x with |a| = 2, lam = 2 (tests/integrations/gaussian_tilt.py). For each scheduler,
prediction type, reward placement and step count: the same FKC scheduler's output along a at
lam = 0 (m0, v0; 50000 particles), the softmax(log_weights)-weighted mean of N particles at
lam = 2, its error against the tilt m0 + lam.v0.|a|, and the final ESS fraction.

    python bench/bench_closed_form_tilt.py [--n 8000] [--steps 25 50 200] [--cases DDIM Euler]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import diffusers
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "integrations"))
import gaussian_tilt as gt  # noqa: E402

from fkc_kernels.diffusers import FKCScheduler  # noqa: E402

SD = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
CASES = [
    ("DDPM linear", lambda pt: diffusers.DDPMScheduler(clip_sample=False, prediction_type=pt),
     ("epsilon", "v_prediction", "sample")),
    ("DDPM scaled-linear", lambda pt: diffusers.DDPMScheduler(
        clip_sample=False, prediction_type=pt, **SD), ("epsilon", "v_prediction")),
    ("DDIM (SD config)", lambda pt: diffusers.DDIMScheduler(
        clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type=pt, **SD),
     ("epsilon", "v_prediction", "sample")),
    ("Euler (SD config)", lambda pt: diffusers.EulerDiscreteScheduler(
        steps_offset=1, prediction_type=pt, **SD), ("epsilon", "v_prediction")),
    ("Euler ancestral (SD)", lambda pt: diffusers.EulerAncestralDiscreteScheduler(
        steps_offset=1, prediction_type=pt, **SD), ("epsilon",)),
    ("DDPM zero-terminal-SNR", lambda pt: diffusers.DDPMScheduler(
        clip_sample=False, rescale_betas_zero_snr=True, timestep_spacing="trailing",
        prediction_type=pt, **SD), ("v_prediction",)),
    ("Flow matching (shift 3)", lambda pt: diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0),
     ("flow_prediction",)),
    ("EDM Euler (Karras)", lambda pt: diffusers.EDMEulerScheduler(prediction_type=pt),
     ("epsilon", "v_prediction")),
]


def row(name, make, pt, steps, n, reward_at) -> str:
    base = FKCScheduler.from_scheduler(make(pt))
    m0, v0, _ = gt.along_a(*gt.run(base, pt, 50000, steps, seed=1))
    fkc = FKCScheduler.from_scheduler(make(pt), gt.linear_reward, lam_max=gt.LAM,
                                      reward_at=reward_at)
    m, _, ess = gt.along_a(*gt.run(fkc, pt, n, steps, seed=2))
    want = m0 + gt.LAM * v0 * gt.A_NORM
    return (f"| {name} | {pt} | {fkc.proposal} | {reward_at} | {steps} | {m0:.3f} | "
            f"{v0:.3f} | {m:.3f} | {want:.3f} | {m - want:+.3f} | {ess:.2f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--steps", type=int, nargs="+", default=[25, 50, 200])
    ap.add_argument("--cases", nargs="+", default=None,
                    help="only the schedulers whose name starts with one of these")
    ap.add_argument("--no-header", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if not args.no_header:
        print("| scheduler | prediction | proposal | reward_at | steps | m0 | v0 | weighted mean | "
          "tilt m0+lam.v0.abs(a) | error | ESS/N |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
    t0 = time.time()
    for name, make, pts in CASES:
        if args.cases and not any(name.startswith(c) for c in args.cases):
            continue
        for pt in pts:
            for steps in args.steps:
                for reward_at in ("x0_hat", "x"):
                    if reward_at == "x" and (steps != 50 or pt != pts[0]):
                        continue  # reward_at="x": one row per scheduler, at 50 steps
                    print(row(name, make, pt, steps, args.n, reward_at), flush=True)
    print(f"\n{args.n} weighted particles, (m0, v0) from 50000; {time.time() - t0:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Mutation test of the kernel package: do the tests catch small, plausible bugs?

Each mutant is one textual edit of one file under fkc_kernels/ (a sign, a square, a comparison,
a dropped check). For each, this script copies the repository to a temporary folder, applies the
edit there (the working tree is never touched), runs the tests that should catch it, and records
whether they failed (the mutant is *killed*) or passed (it *survived*). Python paths only, so no
rebuild: the C++ extension is switched off (``FKC_DISABLE_EXT=1``), which makes ``"auto"`` run
the reference, the harder case for catching reference bugs.

    python bench/mutation_test.py               # every mutant (10-20 minutes on 2 busy cores)
    python bench/mutation_test.py --baseline    # first check that the unmutated tests pass
    python bench/mutation_test.py --only 3 7    # some of them
    python bench/mutation_test.py --check       # only check that every edit still applies

Prints one line per mutant and the survival rate; exits 1 when a mutant's text is not found
(the code moved on: update the list).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", ".ci-venv", "build", "__pycache__",
                                     "*.so", "_C_build.json", ".pytest_cache")


@dataclass(frozen=True)
class Mutant:
    file: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  # pytest arguments that should catch it
    what: str


SAMPLER = ("tests/test_sampler.py::test_reward_at_x0_hat_is_tweedie_with_chain_rule_gradient",
           "tests/test_sampler.py::test_ess_rule_decides_every_resampling",
           "tests/test_sampler.py::test_initial_particles_are_the_prior_through_the_noise_contract",
           "tests/test_sampler.py::test_gaussian_tilt_target")
STEP = ("tests/ops/test_fkc_step.py", "-k", "reference")
EXACT = ("tests/test_sampler.py::test_exact_weights_step_is_the_smc_increment_in_closed_form",
         "tests/test_sampler.py::test_gaussian_tilt_target")
RATIO = ("tests/ops/test_fkc_step_ratio.py", "-k", "reference")
SELECT = ("tests/ops/test_select_particles.py", "-k", "reference or epsilon")
RESAMPLE = ("tests/ops/test_systematic_resample.py", "-k", "reference or effective or u0")
BAD = ("tests/ops/test_bad_input.py",)
DIST = ("tests/distributed/test_distributed_ops.py",)

MUTANTS = [
    Mutant("fkc_kernels/predictions.py", "return (x + (sigma * sigma) * score) / alpha",
           "return (x + sigma * score) / alpha", SAMPLER, "x̂0 with σ instead of σ²"),
    Mutant("fkc_kernels/stepper.py", "return 1.0 / alpha", "return alpha",
           SAMPLER, "∇r(x̂0) scaled by α instead of 1/α (fkc and seed weights)"),
    Mutant("fkc_kernels/stepper.py", "do = ess < self.ess_threshold * n",
           "do = ess > self.ess_threshold * n", SAMPLER, "ESS rule inverted"),
    Mutant("fkc_kernels/stepper.py", "w.copy_(torch.where(did, torch.zeros_like(w), w[idx]))",
           "w.copy_(w[idx])", SAMPLER, "weights not reset after resampling"),
    Mutant("fkc_kernels/sampler.py",
           "return (z.view(n_particles, *shape) * self.schedule.prior_std).to(dtype)",
           "return z.view(n_particles, *shape).to(dtype)", SAMPLER,
           "start ignores the prior's std (VE)"),
    Mutant("fkc_kernels/reference/fkc_step.py", "drift = g2 * (s + (0.5 * lam) * gr) - fx",
           "drift = g2 * (s + lam * gr) - fx", STEP, "guidance drift λ instead of λ/2"),
    Mutant("fkc_kernels/reference/fkc_step.py", "drift = g2 * (s + (0.5 * lam) * gr) - fx",
           "drift = g2 * (s + (0.5 * lam) * gr) + fx", STEP, "forward drift sign flipped"),
    Mutant("fkc_kernels/reference/fkc_step.py", "x_new = xs + h * drift + (g * math.sqrt(h)) * z",
           "x_new = xs + h * drift + (g * h) * z", STEP, "noise scaled by h instead of √h"),
    Mutant("fkc_kernels/reference/fkc_step.py", "(h * g2 * lam * lam / 8) * gr_gr",
           "(h * g2 * lam * lam / 4) * gr_gr", RATIO, "ratio: |∇r|² term doubled"),
    Mutant("fkc_kernels/reference/fkc_step.py", "+ (0.5 * g * math.sqrt(h) * lam) * gr_z)",
           "- (0.5 * g * math.sqrt(h) * lam) * gr_z)", RATIO, "ratio: <∇r, ξ> term sign flipped"),
    Mutant("fkc_kernels/reference/fkc_step.py",
           "dw = h * (dlam * reward.to(cd) - lam * gr_f + (0.5 * g2 * lam) * gr_s)",
           "dw = h * (dlam * reward.to(cd) + lam * gr_f + (0.5 * g2 * lam) * gr_s)", STEP,
           "<∇r, f> term sign flipped"),
    Mutant("fkc_kernels/reference/fkc_step.py", "w_new = w.to(cd) + dw",
           "w_new = w.to(cd) + dw.clamp(-0.05, 0.05)", STEP, "a second, tighter dw clip"),
    Mutant("fkc_kernels/stepper.py",
           "inc = potential - (self.potential if self.potential is not None else 0.0)",
           "inc = potential", EXACT, "exact weights: the previous potential not subtracted"),
    Mutant("fkc_kernels/reference/systematic_resample.py",
           "idx = torch.searchsorted(cdf, positions, right=True)",
           "idx = torch.searchsorted(cdf, positions, right=False)", RESAMPLE,
           "searchsorted right=False (zero-weight particle 0 at u = 0)"),
    Mutant("fkc_kernels/reference/systematic_resample.py",
           "positions = (torch.arange(n, device=logw.device, dtype=torch.float64) + u) / n",
           "positions = (torch.arange(n, device=logw.device, dtype=torch.float64) + 0.5) / n",
           RESAMPLE, "resampling ignores u"),
    Mutant("fkc_kernels/reference/systematic_resample.py",
           "return (1.0 / (wn * wn).sum()).to(torch.float32)",
           "return (1.0 / (wn * wn).mean()).to(torch.float32)", RESAMPLE, "ESS off by a factor N"),
    Mutant("fkc_kernels/reference/select_particles.py",
           "order = torch.argsort(keys, descending=True, stable=True)",
           "order = torch.argsort(keys, descending=True, stable=False)", SELECT,
           "unstable top sort (ties not to the lower index)"),
    Mutant("fkc_kernels/reference/select_particles.py",
           "keys[top] = 1 << 62  # excluded: larger than every key (keys < 2**62)",
           "pass", SELECT, "random part may repeat the top part"),
    Mutant("fkc_kernels/reference/select_particles.py",
           "nan_last = torch.argsort(is_nan[order].to(torch.int8), stable=True)",
           "nan_last = torch.arange(order.shape[0])", SELECT, "NaN not ranked lowest"),
    Mutant("fkc_kernels/ops/select_particles.py",
           "n_random = min(k, int(math.floor(eps * k + 1e-9)))",
           "n_random = min(k, int(math.ceil(eps * k - 1e-9)))", SELECT,
           "ε-greedy rounds up"),
    Mutant("fkc_kernels/ops/fkc_step.py", 'v.check_same_device("reward", reward, x.device)',
           "pass", BAD, "reward device check removed"),
    Mutant("fkc_kernels/ops/fkc_step.py", 'h = v.check_finite_scalar("h", h, positive=True)',
           'h = v.check_finite_scalar("h", h)', BAD, "h > 0 not checked"),
    Mutant("fkc_kernels/distributed/systematic_resample.py",
           "local = torch.searchsorted(cdf, pos, right=True)",
           "local = torch.searchsorted(cdf, pos, right=False)", DIST,
           "sharded resampling right=False"),
    Mutant("fkc_kernels/distributed/select_particles.py",
           "order = order[torch.argsort(key, descending=True, stable=True)]",
           "order = order[torch.argsort(key, descending=False, stable=True)]", DIST,
           "sharded merge sorts ascending"),
    Mutant("fkc_kernels/distributed/sampler.py",
           "draw_uniform(generator, w.device)  # the draw the single-process sampler makes",
           "pass", DIST, "sharded sampler's generator out of step when not resampling"),
    Mutant("fkc_kernels/reference/philox.py", "PHILOX_ROUNDS = 10", "PHILOX_ROUNDS = 7",
           ("tests/ops/test_philox.py",), "7 Philox rounds instead of 10"),
]


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.file
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise LookupError(f"{mutant.file}: expected the text once, found it {count} times: "
                          f"{mutant.old!r}")
    path.write_text(text.replace(mutant.old, mutant.new))


def run_tests(root: Path, tests: tuple[str, ...], timeout: float) -> tuple[bool, float]:
    """``(passed, seconds)`` of ``pytest -x -q tests`` in ``root``."""
    env = dict(os.environ, FKC_DISABLE_EXT="1", PYTHONPATH=f"{root}{os.pathsep}{root / 'python'}")
    env.pop("FKC_REQUIRE_EXT", None)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               *tests], cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout)
        passed = proc.returncode == 0
    except subprocess.TimeoutExpired:
        passed = False  # a hang is caught (the suite would fail on its time bound)
    return passed, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", type=int, nargs="*", help="mutant numbers to run (default: all)")
    p.add_argument("--check", action="store_true", help="only check that every edit applies")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant's tests")
    p.add_argument("--baseline", action="store_true",
                   help="first run every mutant's tests unmutated (they must pass)")
    args = p.parse_args(argv)
    chosen = [(i, m) for i, m in enumerate(MUTANTS) if not args.only or i in args.only]
    if not chosen:
        p.error(f"--only: no mutant with those numbers (0..{len(MUTANTS) - 1})")
    missing = []
    for i, m in chosen:
        count = (ROOT / m.file).read_text().count(m.old)
        if count != 1:
            missing.append(f"#{i} {m.file}: expected the text once, found it {count} times: "
                           f"{m.old!r}")
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 1
    if args.check:
        print(f"all {len(chosen)} mutants apply")
        return 0
    with tempfile.TemporaryDirectory(prefix="fkc-mutants-") as tmp:
        base = Path(tmp) / "base"
        shutil.copytree(ROOT, base, ignore=COPY_IGNORE)
        for tests in sorted({m.tests for _, m in chosen}) if args.baseline else []:
            if not run_tests(base, tests, args.timeout)[0]:
                print(f"the unmutated tests fail ({' '.join(tests)}): fix them first",
                      file=sys.stderr)
                return 1
        survivors = []
        for i, m in chosen:
            work = Path(tmp) / f"m{i}"
            shutil.copytree(base, work)
            apply(m, work)
            passed, secs = run_tests(work, m.tests, args.timeout)
            status = "SURVIVED" if passed else "killed"
            if passed:
                survivors.append(i)
            print(f"#{i:2d} {status:8s} {secs:6.1f} s  {m.file}: {m.what}", flush=True)
            shutil.rmtree(work)
    n = len(chosen)
    print(f"{len(survivors)} of {n} mutants survived ({100.0 * len(survivors) / n:.0f}%)"
          + (f": {survivors}" if survivors else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

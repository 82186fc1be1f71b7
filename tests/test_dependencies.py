"""The kernel package needs torch (and numpy, which torch.compiler needs) only: importing it and
running its ops and sampler loads none of the application's dependencies (tqdm, matplotlib,
scikit-learn: the [align] extra) nor the application itself."""

import subprocess
import sys

CODE = """
import sys

import torch

before = set(sys.modules)  # torch itself may import tqdm when it is installed
import fkc_kernels as fk  # noqa: E402
import fkc_kernels.distributed  # noqa: E402,F401

x = torch.randn(5, 3)
x1, w1 = fk.fkc_step(x, torch.zeros(5), -x, x, torch.ones(5), h=0.1, g=1.0, lam=0.5, dlam=1.0,
                     backend="reference")
sampler = fk.FKCSampler(lambda x, tau: -x, lambda x: x.sum(-1), fk.VPSchedule(),
                        fk.LinearTilt(1.0), n_steps=3, backend="reference")
out = sampler.sample(8, 2, generator=torch.Generator().manual_seed(0))
assert out.x.shape == (8, 2)
assert fk.select_particles(w1, 2, 1, backend="reference").shape == (2,)
new = {m.split(".")[0] for m in set(sys.modules) - before}
loaded = sorted(new & {"tqdm", "matplotlib", "sklearn", "fkc_align"})
assert not loaded, f"the kernel package imported {loaded}"
print("ok")
"""


def test_kernel_package_needs_only_torch():
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "FKC_DISABLE_EXT": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")

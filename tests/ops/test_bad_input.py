"""Every bad input (docs/design.md, "Bad input") gets a ValueError/TypeError naming the argument."""

import math

import pytest
import torch

import fkc_kernels
from fkc_kernels import (
    available_backends,
    effective_sample_size,
    epsilon_greedy_split,
    fkc_step,
    fkc_step_,
    philox_normal,
    select_particles,
    systematic_resample,
)


def good(n=4, d=5, dtype=torch.float32):
    x = torch.randn(n, d).to(dtype)
    return dict(x=x, w=torch.zeros(n), score=torch.zeros_like(x), reward_grad=torch.zeros_like(x),
                reward=torch.zeros(n), h=0.1, g=1.0, lam=0.5, dlam=1.0)


def call(**over):
    kw = good()
    kw.update(over)
    return fkc_step(kw.pop("x"), kw.pop("w"), kw.pop("score"), kw.pop("reward_grad"),
                    kw.pop("reward"), **kw)


META = torch.device("meta")


@pytest.mark.parametrize("over,exc,match", [
    (dict(x=[1.0]), TypeError, "x: expected a torch.Tensor, got list"),
    (dict(x=torch.zeros(4, 5, dtype=torch.float64)), TypeError, r"x: expected dtype in .*float64"),
    (dict(x=torch.zeros(4, 5, dtype=torch.int32)), TypeError, "x: expected a floating-point"),
    (dict(x=torch.tensor(1.0)), ValueError, r"x: expected particles of shape \(N, \*S\)"),
    (dict(w=torch.zeros(3)), ValueError, r"w: expected shape \(4,\) to match x's N=4, got \(3,\)"),
    (dict(w=torch.zeros(4, 1)), ValueError, r"w: expected a 1-D tensor \(N,\)"),
    (dict(score=torch.zeros(4, 6)), ValueError, r"score: expected shape \(4, 5\).*got \(4, 6\)"),
    (dict(reward_grad=torch.zeros(4, 5, dtype=torch.float16)), TypeError,
     r"reward_grad: expected dtype torch.float32 \(the dtype of x\), got torch.float16"),
    (dict(reward=torch.zeros(5)), ValueError, r"reward: expected shape \(4,\)"),
    (dict(reward=torch.zeros(4, dtype=torch.int64)), TypeError, "reward: expected a floating"),
    (dict(score=torch.zeros(4, 5, device=META)), ValueError,
     "score: expected a tensor on x's device cpu, got meta"),
    (dict(w=torch.zeros(4, device=META)), ValueError, "w: expected a tensor on x's device cpu"),
    (dict(reward=torch.zeros(4, device=META)), ValueError,
     "reward: expected a tensor on x's device cpu, got meta"),
    (dict(reward_grad=torch.zeros(4, 5, device=META)), ValueError,
     "reward_grad: expected a tensor on x's device cpu, got meta"),
    (dict(noise=torch.zeros(4, 5, device=META)), ValueError,
     "noise: expected a tensor on x's device cpu, got meta"),
    (dict(f=torch.zeros(4, 5, device=META)), ValueError,
     "f: expected a tensor on x's device cpu, got meta"),
    (dict(noise=torch.zeros(2, 5)), ValueError, r"noise: expected shape \(4, 5\)"),
    (dict(f=torch.zeros(4, 5, dtype=torch.bfloat16)), TypeError, "f: expected dtype"),
    (dict(h=0.0), ValueError, "h: expected a number > 0, got 0.0"),
    (dict(h=-0.01), ValueError, "h: expected a number > 0, got -0.01"),
    (dict(h=math.nan), ValueError, "h: expected a finite number, got nan"),
    (dict(h="0.1"), TypeError, "h: expected a real number, got str"),
    (dict(g=-1.0), ValueError, "g: expected a number >= 0, got -1.0"),
    (dict(g=math.inf), ValueError, "g: expected a finite number, got inf"),
    (dict(lam=math.nan), ValueError, "lam: expected a finite number"),
    (dict(dlam=-math.inf), ValueError, "dlam: expected a finite number"),
    (dict(f_coef=math.nan), ValueError, "f_coef: expected a finite number"),
    (dict(dw_clip=0.0), ValueError, "dw_clip: expected a number > 0"),
    (dict(w_clip=(1.0, 0.0)), ValueError, r"w_clip: expected w_min <= w_max, got \(1.0, 0.0\)"),
    (dict(w_clip=(0.0, math.nan)), ValueError, r"w_clip\[1\]: expected a finite number"),
    (dict(w_clip=0.5), TypeError, r"w_clip: expected None or a pair"),
    (dict(generator=123), TypeError, "generator: expected a torch.Generator or None, got int"),
    (dict(increment="exact"), ValueError, "increment: expected 'fkc' or 'ratio', got 'exact'"),
    (dict(increment=None), ValueError, "increment: expected 'fkc' or 'ratio', got None"),
    (dict(backend="gpu"), ValueError, r"backend: expected 'auto' or one of \['reference'"),
])
def test_fkc_step_bad_input(over, exc, match):
    with pytest.raises(exc, match=match):
        call(**over)


def test_unavailable_backend_names_what_is_missing():
    if "cuda" in available_backends():
        pytest.skip("the cuda backend is available here")
    with pytest.raises(ValueError, match=r"backend='cuda' is not available for cpu tensors: .*"
                                         r"To get it: .*Available here: \["):
        call(backend="cuda")


def test_in_place_needs_float32_weights():
    kw = good()
    with pytest.raises(TypeError, match="w: fkc_step_ updates w in place and expects float32"):
        fkc_step_(kw["x"], kw["w"].double(), kw["score"], kw["reward_grad"], kw["reward"],
                  h=0.1, g=1.0, lam=0.0, dlam=0.0)


def test_bad_input_leaves_inputs_untouched():
    kw = good()
    x0, w0 = kw["x"].clone(), kw["w"].clone()
    with pytest.raises(ValueError):
        fkc_step_(kw["x"], kw["w"], kw["score"], kw["reward_grad"], kw["reward"], h=-1.0, g=1.0,
                  lam=0.0, dlam=0.0)
    assert torch.equal(kw["x"], x0) and torch.equal(kw["w"], w0)


@pytest.mark.parametrize("args,exc,match", [
    ((torch.zeros(5), 6, 0), ValueError,
     r"k: expected an int <= N=5 \(the number of particles\), got 6"),
    ((torch.zeros(5), 3, 4), ValueError, r"n_random: expected an int <= k=3, got 4"),
    ((torch.zeros(5), -1, 0), ValueError, "k: expected an int >= 0, got -1"),
    ((torch.zeros(5), 2, -1), ValueError, "n_random: expected an int >= 0, got -1"),
    ((torch.zeros(5), 2.0, 0), TypeError, "k: expected an int, got float"),
    ((torch.zeros(5, 2), 2, 0), ValueError, r"w: expected a 1-D tensor \(N,\), got shape \(5, 2\)"),
    ((torch.zeros(5, dtype=torch.int64), 2, 0), TypeError, "w: expected a floating-point tensor"),
])
def test_select_particles_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        select_particles(*args)


@pytest.mark.parametrize("args,match", [
    ((5, 4, 16), r"step: expected an int <= total_steps=4, got 5"),
    ((0, 0, 16), "total_steps: expected an int >= 1, got 0"),
    ((0, 4, -2), "k: expected an int >= 0, got -2"),
])
def test_epsilon_greedy_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        epsilon_greedy_split(*args)
    with pytest.raises(ValueError, match=r"eps_start: expected a probability in \[0, 1\], got 1.5"):
        epsilon_greedy_split(0, 4, 16, eps_start=1.5)


def test_resample_and_ess_bad_input():
    with pytest.raises(ValueError, match=r"logw: expected a 1-D tensor"):
        systematic_resample(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"logw: expected at least one particle"):
        systematic_resample(torch.zeros(0))
    with pytest.raises(TypeError, match="logw: expected a torch.Tensor, got list"):
        effective_sample_size([0.0, 1.0])


def test_philox_normal_bad_input():
    with pytest.raises(ValueError, match="numel must be a non-negative int, got -1"):
        philox_normal(0, 0, -1)
    with pytest.raises(TypeError, match="dtype must be torch.float32 or torch.float64"):
        philox_normal(0, 0, 4, dtype=torch.float16)


def test_import_never_needs_an_extension():
    assert "reference" in available_backends()
    assert fkc_kernels.fkc_step is fkc_step


def test_backend_resolution_inside_torch_compile():
    # the first resolution may happen while dynamo traces: it must not enter the graph
    def step(x, w):
        return fkc_step(x, w, x, x, w, h=0.1, g=1.0, lam=0.5, dlam=1.0, noise=x,
                        backend="reference")

    x, w = torch.randn(3, 4), torch.zeros(3)
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(x, w), step(x, w), strict=True):
        torch.testing.assert_close(a, b)

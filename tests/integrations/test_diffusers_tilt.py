"""Issue 18: the exact tilt through diffusers schedulers, and the pipeline's own step at lam = 0.

The closed form (tests/integrations/gaussian_tilt.py): data N(mu, 0.25 I) in 8 dims, an exact
denoiser for the scheduler's own alphas_cumprod, r(x) = a.x with |a| = 2, lam = 2, DEFAULT
options, 50 steps. The weighted mean along a must land within 0.03 of m0 + lam.v0.|a|, where
(m0, v0) is the same FKC scheduler's output along a at lam = 0 (its own base sampler), from
50000 particles. Monte Carlo error: 8000 weighted particles (ESS about 0.7 N) give the tilted
mean to sd 0.006 (4 seeds on DDPM linear: errors +0.012, +0.004, -0.003, +0.000), and
(m0, v0) from 50000 particles give the target to sd about 0.006; 0.03 is 3.5 combined sd.
"""

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

import gaussian_tilt as gt  # noqa: E402

from fkc_kernels.diffusers import FKCScheduler  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SD = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
CASES = {
    "ddpm-linear-eps": (lambda: diffusers.DDPMScheduler(clip_sample=False), "epsilon"),
    "ddpm-scaled-v": (lambda: diffusers.DDPMScheduler(
        clip_sample=False, prediction_type="v_prediction", **SD), "v_prediction"),
    "ddim-sd-sample": (lambda: diffusers.DDIMScheduler(
        clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="sample",
        **SD), "sample"),
    "euler-sd-eps": (lambda: diffusers.EulerDiscreteScheduler(steps_offset=1, **SD),
                     "epsilon"),
    "euler-ancestral-sd-v": (lambda: diffusers.EulerAncestralDiscreteScheduler(
        steps_offset=1, prediction_type="v_prediction", **SD), "v_prediction"),
    "ddpm-zero-snr-v": (lambda: diffusers.DDPMScheduler(
        clip_sample=False, rescale_betas_zero_snr=True, timestep_spacing="trailing",
        prediction_type="v_prediction", **SD), "v_prediction"),
    # deterministic sigma-grid sources: the posterior of their own interpolant as stand-in
    "flow-match-shift3-velocity": (lambda: diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0),
                                   "flow_prediction"),
    "edm-karras-eps": (lambda: diffusers.EDMEulerScheduler(), "epsilon"),
    "edm-karras-v": (lambda: diffusers.EDMEulerScheduler(prediction_type="v_prediction"),
                     "v_prediction"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_default_options_give_the_exact_tilt_of_the_schedulers_own_output(case):
    make, pt = CASES[case]
    base = FKCScheduler.from_scheduler(make())
    m0, v0, _ = gt.along_a(*gt.run(base, pt, 50000, 50, seed=1))
    fkc = FKCScheduler.from_scheduler(make(), gt.linear_reward, lam_max=gt.LAM)
    m, _, ess = gt.along_a(*gt.run(fkc, pt, 8000, 50, seed=2))
    want = m0 + gt.LAM * v0 * gt.A_NORM
    assert abs(m - want) <= 0.03, (case, fkc.proposal, m, want, ess)


def _trajectories(src, fkc, n_steps, channels=1, eta=None):
    """Run the source and FKC side by side with the same generator seeds and model outputs."""
    src.set_timesteps(n_steps)
    fkc.set_timesteps(n_steps)
    g_src, g_fkc = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    y = x.clone()
    kw = {} if eta is None else {"eta": eta}
    for k, t in enumerate(src.timesteps):
        out = torch.sin(3.0 * src.scale_model_input(x, t) + k)
        if channels == 2:  # a learned (log-)variance channel: positive, as "learned" needs
            out = torch.cat([out, 0.05 + 0.2 * torch.sigmoid(out)], 1)
        x = src.step(out, t, x, generator=g_src, **kw).prev_sample
        y = fkc.step(out, t, y, generator=g_fkc, **kw).prev_sample
        torch.testing.assert_close(y, x, rtol=1e-5, atol=1e-5)
    assert torch.equal(fkc.log_weights, torch.zeros(3))


@pytest.mark.parametrize("variance_type,channels", [
    ("fixed_small", 1), ("fixed_small_log", 1), ("fixed_large", 1), ("learned", 2),
    ("learned_range", 2)])
def test_lambda_zero_is_ddpms_own_step(variance_type, channels):
    # "fixed_large_log" is left out: diffusers' own step takes the square root of a log there
    # and returns NaN
    make = lambda: diffusers.DDPMScheduler(variance_type=variance_type)  # noqa: E731
    fkc = FKCScheduler.from_scheduler(make(), lambda x: x.flatten(1).sum(1), lam_max=0.0)
    assert fkc.proposal == "ddpm" and "proposal='ddpm'" in repr(fkc)
    _trajectories(make(), fkc, 10, channels)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("eta", [1.0, 0.5])
def test_lambda_zero_is_ddims_own_step_at_its_eta(prediction_type, eta):
    # the noise estimate of every prediction type, and a variance of eta² times DDIM's
    make = lambda: diffusers.DDIMScheduler(prediction_type=prediction_type, **SD)  # noqa: E731
    fkc = FKCScheduler.from_scheduler(make(), lambda x: x.flatten(1).sum(1), lam_max=0.0)
    _trajectories(make(), fkc, 10, eta=eta)


def test_lambda_zero_is_euler_ancestrals_own_step():
    make = lambda: diffusers.EulerAncestralDiscreteScheduler(**SD)  # noqa: E731
    fkc = FKCScheduler.from_scheduler(make(), lambda x: x.flatten(1).sum(1), lam_max=0.0)
    assert fkc.init_noise_sigma > 1.0  # the source's sigma-scaled latents
    _trajectories(make(), fkc, 10)


def test_deterministic_sources_get_the_posterior_stand_in_named_in_repr():
    for src in (diffusers.EulerDiscreteScheduler(), diffusers.DPMSolverMultistepScheduler(),
                diffusers.UniPCMultistepScheduler()):
        fkc = FKCScheduler.from_scheduler(src, lambda x: x.flatten(1).sum(1))
        assert fkc.proposal == "posterior" and "proposal='posterior'" in repr(fkc)
    em = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), proposal="euler_maruyama")
    assert em.proposal == "euler_maruyama"
    with pytest.raises(ValueError, match="proposal: 'ddpm' needs a ddpm source"):
        FKCScheduler.from_scheduler(diffusers.EulerDiscreteScheduler(), proposal="ddpm")
    with pytest.raises(ValueError, match="proposal: 'posterior' needs weights='smc'"):
        FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), weights="fkc",
                                    proposal="posterior")


@pytest.mark.parametrize("make,form", [
    (lambda: diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0), "x = (1-σ)·x0 + σ·ε"),
    (lambda: diffusers.EDMEulerScheduler(), "x = x0 + σ·ε")])
def test_flow_matching_and_edm_sources_get_their_interpolants_posterior(make, form, tmp_path):
    src = make()
    fkc = FKCScheduler.from_scheduler(src, lambda x: x.flatten(1).sum(1), lam_max=0.0)
    assert fkc.proposal == "posterior" and "proposal='posterior'" in repr(fkc)
    assert form in repr(fkc) and type(src).__name__ in repr(fkc)
    fkc.set_timesteps(10)
    src.set_timesteps(10)
    torch.testing.assert_close(fkc.timesteps.float(), src.timesteps.float())
    assert fkc.init_noise_sigma == getattr(src, "init_noise_sigma", 1.0)
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    t = fkc.timesteps[0]
    want = src.scale_model_input(x, t) if hasattr(src, "scale_model_input") else x
    torch.testing.assert_close(fkc.scale_model_input(x, t), want)
    # the last step lands on the denoised estimate (σ = 0), as the source's own Euler step does
    out = torch.tanh(x)
    for t in fkc.timesteps[:-1]:
        fkc.step(out, t, x)
    last = fkc.timesteps[-1]
    got = fkc.step(out, last, x)
    src._step_index = len(src.timesteps) - 1
    own = src.step(out, last, x).prev_sample
    torch.testing.assert_close(got.prev_sample, own, rtol=1e-5, atol=1e-5)
    fkc.save_pretrained(tmp_path)  # the source's class and config travel with FKC's settings
    again = FKCScheduler.from_pretrained(tmp_path)
    assert repr(again.schedule) == repr(fkc.schedule)
    assert again.prediction_type == fkc.prediction_type
    again.set_timesteps(10)
    torch.testing.assert_close(again.timesteps, fkc.timesteps)
    with pytest.raises(ValueError, match="proposal: .* takes 'posterior'"):
        FKCScheduler.from_scheduler(make(), proposal="euler_maruyama")
    with pytest.raises(ValueError, match="weights: .* needs weights='smc'"):
        FKCScheduler.from_scheduler(make(), weights="fkc")


def test_step_output_is_a_diffusers_base_output():
    fkc = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), lambda x: x.flatten(1).sum(1))
    fkc.set_timesteps(4)
    x = torch.randn(2, 1, 4, 4)
    out = fkc.step(torch.randn_like(x), fkc.timesteps[0], x)
    assert isinstance(out, diffusers.utils.BaseOutput)
    assert out["prev_sample"] is out.prev_sample and out[0] is out.prev_sample


def test_groups_that_do_not_divide_the_batch_are_an_error():
    fkc = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), lambda x: x.flatten(1).sum(1),
                                      groups=3)
    fkc.set_timesteps(4)
    x = torch.randn(8, 1, 4, 4)
    with pytest.raises(ValueError, match="groups: 3 contiguous groups need N divisible by 3"):
        fkc.step(torch.randn_like(x), fkc.timesteps[0], x)


def test_resample_final_draws_within_groups_by_the_final_weights():
    fkc = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), lambda x: x.flatten(1).sum(1),
                                      groups=2)
    fkc.log_weights = torch.tensor([0.0, -float("inf"), -float("inf"), -float("inf"),
                                    -float("inf"), -float("inf"), 0.0, -float("inf")])
    images = torch.arange(8.0)[:, None, None, None].expand(8, 3, 2, 2)
    got = fkc.resample_final(images, generator=torch.Generator().manual_seed(0))
    # group 0 (slots 0-3) keeps only particle 0, group 1 (slots 4-7) only particle 6
    assert got[:4, 0, 0, 0].tolist() == [0.0] * 4 and got[4:, 0, 0, 0].tolist() == [6.0] * 4
    with pytest.raises(ValueError, match="samples: expected 8 rows"):
        fkc.resample_final(images[:3])


def test_decoded_reward_unscales_latents_like_the_pipeline():
    from fkc_kernels.diffusers import decoded_reward

    seen = []

    class FakeVAE:
        dtype = torch.float32

        class config:  # noqa: N801 - a diffusers config is attribute-accessed
            scaling_factor = 0.5
            shift_factor = None
            latents_mean = [1.0, -1.0]
            latents_std = [2.0, 4.0]

        def decode(self, z, return_dict=False):
            seen.append(z)
            return (z,)

    reward = decoded_reward(FakeVAE(), lambda img: img.flatten(1).sum(1))
    z = torch.ones(3, 2, 2, 2)
    reward(z)
    # z * latents_std / scaling_factor + latents_mean, per channel
    torch.testing.assert_close(seen[0][:, 0], torch.full((3, 2, 2), 1.0 * 2 / 0.5 + 1.0))
    torch.testing.assert_close(seen[0][:, 1], torch.full((3, 2, 2), 1.0 * 4 / 0.5 - 1.0))


def _tiny_unet():
    return diffusers.UNet2DModel(
        sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
        block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).eval()


def test_save_and_load_inside_a_pipeline(tmp_path):
    def reward(x):
        return -(x.float() - 0.5).pow(2).flatten(1).mean(1)

    pipe = diffusers.DDPMPipeline(_tiny_unet(), diffusers.DDPMScheduler(clip_sample=False))
    pipe.scheduler = FKCScheduler.from_scheduler(pipe.scheduler, reward, lam_max=3.0, groups=2,
                                                 reward_batch_size=4)
    pipe.save_pretrained(tmp_path)
    loaded = diffusers.DDPMPipeline.from_pretrained(tmp_path)
    sch = loaded.scheduler
    assert isinstance(sch, FKCScheduler) and sch.proposal == "ddpm"
    for key in ("lam_max", "groups", "reward_batch_size", "weights", "reward_at"):
        assert sch.config[key] == pipe.scheduler.config[key], key
    assert sch.config.num_train_timesteps == 1000  # the source's config shows through
    with pytest.raises(ValueError, match=r"reward_fn: .*set_reward\(reward_fn\)"):
        loaded(batch_size=2, num_inference_steps=2)
    sch.set_reward(reward)
    runs = []
    for p in (pipe, loaded):
        out = p(batch_size=2, num_inference_steps=3, generator=torch.Generator().manual_seed(0),
                output_type="np")
        runs.append((out.images, p.scheduler.log_weights.clone()))
    assert (runs[0][0] == runs[1][0]).all() and torch.equal(runs[0][1], runs[1][1])
    again = FKCScheduler.from_config(pipe.scheduler.config)
    assert again.proposal == "ddpm" and again.config["lam_max"] == 3.0


def test_groups_follow_the_prompts_of_the_unets_last_call():
    class PromptUNet(torch.nn.Module):  # records nothing; the scheduler's hook reads its input
        def forward(self, x, t, encoder_hidden_states=None):
            return torch.zeros_like(x)

    unet = PromptUNet()
    fkc = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), lambda x: 20 * x.flatten(1).sum(1),
                                      lam_max=5.0, resample="always")
    handle = fkc.follow_prompts(unet)
    assert fkc.groups == "prompts"
    # 2 prompts x 3 images, under CFG: [uncond (6); cond (6)], the pipeline's prompt-major order
    cond = torch.cat([torch.full((3, 4, 5), 1.0), torch.full((3, 4, 5), 2.0)])
    embeds = torch.cat([torch.zeros(6, 4, 5), cond])
    fkc.set_timesteps(5)
    x = torch.randn(6, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    x[:3] += 2.0  # prompt 0's particles are far better: a global resampling would spread them
    gen = torch.Generator().manual_seed(1)
    for t in fkc.timesteps:
        unet(torch.cat([x, x]), t, encoder_hidden_states=embeds)
        x = fkc.step(torch.randn(x.shape, generator=gen), t, x, generator=gen).prev_sample
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    assert torch.equal(labels[fkc.ancestors], labels.expand(5, 6))
    handle.remove()
    fresh = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), groups="prompts")
    fresh.set_timesteps(2)
    with pytest.raises(ValueError, match=r"groups: 'prompts' needs scheduler.follow_prompts"):
        fresh.step(torch.zeros_like(x), fresh.timesteps[0], x)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_unet_score_applies_diffusers_edm_preconditioning(prediction_type):
    from fkc_kernels.diffusers import UNetScore
    from fkc_kernels.grid_schedules import EDMSchedule

    edm = diffusers.EDMEulerScheduler(prediction_type=prediction_type, sigma_data=0.5)
    schedule = EDMSchedule(sigma_min=0.002, sigma_max=80.0)
    seen = []

    def net(x, t):
        seen.append((x.clone(), t.clone()))
        return torch.tanh(x).flip(-1) + 0.1 * t.float()[:, None, None, None]

    score = UNetScore(net, schedule, prediction_type=prediction_type, edm_sigma_data=0.5)
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 3
    sigma = 2.7
    tau = schedule.sigma_to_tau(sigma)
    s = score(x, tau)
    inp = edm.precondition_inputs(x, torch.tensor(sigma))
    noise = edm.precondition_noise(torch.tensor(sigma))
    want = edm.precondition_outputs(x, net(inp, noise.expand(3)), torch.tensor(sigma))
    torch.testing.assert_close(seen[0][0], inp, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(seen[0][1].float(), noise.float().expand(3), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x + sigma**2 * s, want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="edm_sigma_data: expected a positive number"):
        UNetScore(net, schedule, prediction_type="sample", edm_sigma_data=0.5)

"""FKC in diffusers pipelines, with tiny random-weight models (no downloads).

Skipped when diffusers is not installed (CI installs the ``[diffusers]`` extra).
"""

import math
import weakref

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from fkc_kernels.diffusers import (  # noqa: E402
    FKCScheduler,
    UNetScore,
    decoded_reward,
    schedule_from_scheduler,
)
from fkc_kernels.schedules import VESchedule, x0_from_score  # noqa: E402

# tiny models: one intra-op thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_unet(channels=1, size=8):
    return diffusers.UNet2DModel(
        sample_size=size, in_channels=channels, out_channels=channels, layers_per_block=1,
        block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).eval()


def reward_toward_half(x):
    return -(x.float() - 0.5).pow(2).flatten(1).mean(1)


# ------------------------------------------------------------------ score conversion


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_x0_hat_equals_the_schedulers_pred_original_sample(prediction_type):
    ddpm = diffusers.DDPMScheduler(prediction_type=prediction_type, clip_sample=False,
                                   beta_schedule="scaled_linear")
    ddpm.set_timesteps(50)
    fkc = FKCScheduler.from_scheduler(ddpm)
    assert fkc.prediction_type == prediction_type
    fkc.set_timesteps(50)
    x, out = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    for i in (0, 17, 49):
        t = ddpm.timesteps[i]
        want = ddpm.step(out, t, x).pred_original_sample
        fkc.reset()
        fkc.set_begin_index(i)
        got = fkc.step(out, t, x, variance_noise=torch.zeros_like(x)).pred_original_sample
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_unet_score_round_trips_to_pred_original_sample(prediction_type):
    ddpm = diffusers.DDPMScheduler(prediction_type=prediction_type, clip_sample=False)
    schedule = schedule_from_scheduler(ddpm)
    seen = []

    def fake_unet(x, t, **kw):  # a fixed per-particle function of x
        seen.append(t)
        return (0.7 * x.flip(-1) + 0.1,)

    score = UNetScore(fake_unet, schedule, prediction_type=prediction_type, batch_size=3)
    x = torch.randn(4, 1, 8, 8)
    t = 640
    tau = schedule.timestep_to_tau(t)
    s = score(x, tau)
    want = ddpm.step(0.7 * x.flip(-1) + 0.1, t, x).pred_original_sample
    got = x0_from_score(s, x, schedule.alpha(tau), schedule.sigma(tau))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    # micro-batches of 3 and 1, called with the integer timestep
    assert [tuple(v.shape) for v in seen] == [(3,), (1,)]
    assert all(v.dtype == torch.long and int(v[0]) == t for v in seen)


def test_unet_score_casts_to_the_networks_dtype():
    unet = tiny_unet().to(torch.bfloat16)
    schedule = schedule_from_scheduler(diffusers.DDPMScheduler())
    x = torch.randn(2, 1, 8, 8)
    s = UNetScore(unet, schedule)(x, 0.5)
    assert s.dtype == torch.float32 and s.shape == x.shape and torch.isfinite(s).all()


def test_unet_score_cfg_combines_and_reports_the_gap():
    calls = []

    def fake_unet(x, t, encoder_hidden_states):
        calls.append(x.shape[0])
        return encoder_hidden_states.mean((1, 2))[:, None, None, None].expand_as(x) + 0 * x

    schedule = schedule_from_scheduler(diffusers.DDPMScheduler())
    cond, uncond = torch.full((1, 2, 3), 2.0), torch.zeros(1, 2, 3)
    score = UNetScore(fake_unet, schedule, encoder_hidden_states=cond,
                      negative_encoder_hidden_states=uncond, guidance_scale=3.0, batch_size=2)
    x = torch.randn(3, 1, 2, 2)
    tau = 0.5
    s = score(x, tau)
    sigma = schedule.sigma(tau)
    # guided eps = u + w (c - u) = 0 + 3 * 2 = 6 everywhere
    torch.testing.assert_close(s, torch.full_like(x, -6.0 / sigma))
    assert calls == [4, 2]  # [uncond; cond] for 2 particles, then for 1
    torch.testing.assert_close(score.last_cfg_gap, torch.full((3,), 4 * 4.0 / sigma**2))


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("kind", ["vp", "ve"])
def test_the_cfg_gap_is_the_squared_distance_of_the_two_scores(prediction_type, kind):
    # the gap FKC's CFG weight reads, ||s_c - s_u||², against the two scores computed from the
    # conditional and unconditional outputs one at a time, for every prediction type; a VE
    # schedule too, where α² + σ² ≠ 1 (a v-prediction's slope differs from α/σ there)
    def fake_unet(x, t, encoder_hidden_states):  # each row reads its own conditioning
        return torch.sin(x + encoder_hidden_states.mean((1, 2))[:, None, None, None])

    schedule = (schedule_from_scheduler(diffusers.DDPMScheduler()) if kind == "vp"
                else VESchedule(0.02, 5.0))
    kw = dict(prediction_type=prediction_type, timestep_fn=lambda tau: 1000.0 * tau)
    cond, uncond = torch.full((1, 2, 3), 0.7), torch.zeros(1, 2, 3)
    x, tau = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(0)), 0.4
    cfg = UNetScore(fake_unet, schedule, encoder_hidden_states=cond,
                    negative_encoder_hidden_states=uncond, guidance_scale=2.5, **kw)
    cfg(x, tau)
    s_c, s_u = (UNetScore(fake_unet, schedule, encoder_hidden_states=e, **kw)(x, tau)
                for e in (cond, uncond))
    torch.testing.assert_close(cfg.last_cfg_gap, ((s_c - s_u) ** 2).flatten(1).sum(1),
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ the step


def test_lambda_zero_step_is_plain_euler_maruyama_with_zero_weights():
    ddim = diffusers.DDIMScheduler(beta_schedule="scaled_linear")
    fkc = FKCScheduler.from_scheduler(ddim, reward_toward_half, lam_max=0.0,
                                      proposal="euler_maruyama")
    fkc.set_timesteps(20)
    x, eps, xi = torch.randn(5, 4, 3, 3), torch.randn(5, 4, 3, 3), torch.randn(5, 4, 3, 3)
    for i in (0, 7, 19):
        fkc.reset()
        fkc.set_begin_index(i)
        got = fkc.step(eps, fkc.timesteps[i], x, variance_noise=xi).prev_sample
        c = fkc.schedule.at_step(i, 20)
        s = -eps / c.sigma
        want = x + c.h * (c.g**2 * s - c.f_coef * x) + c.g * math.sqrt(c.h) * xi
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        assert torch.equal(fkc.log_weights, torch.zeros(5))


def test_step_takes_the_reward_gradient_at_x0_hat():
    ddpm = diffusers.DDPMScheduler()
    # the seed's FKC increment on Euler-Maruyama steps: gradient ∇r(x̂0)/α, drift λ/2
    fkc = FKCScheduler.from_scheduler(ddpm, reward_toward_half, lam_max=3.0, weights="fkc")
    fkc.set_timesteps(10)
    x, eps = torch.randn(4, 1, 4, 4), torch.randn(4, 1, 4, 4)
    xi = torch.zeros_like(x)
    fkc.set_begin_index(5)
    got = fkc.step(eps, fkc.timesteps[5], x, variance_noise=xi).prev_sample
    c = fkc.schedule.at_step(5, 10)
    s = -eps / c.sigma
    x0 = (x + c.sigma**2 * s) / c.alpha
    grad = -2 * (x0 - 0.5) / 16 / c.alpha
    lam = 3.0 * c.t
    want = x + c.h * (c.g**2 * (s + lam / 2 * grad) - c.f_coef * x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert torch.isfinite(fkc.log_weights).all() and fkc.log_weights.abs().sum() > 0


def test_grouped_resampling_never_mixes_groups():
    ddpm = diffusers.DDPMScheduler()
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 0, 1, 2])  # interleaved labels
    for groups, label_of in ((3, torch.arange(12) // 4), (labels, labels)):
        n = label_of.numel()
        fkc = FKCScheduler.from_scheduler(ddpm, reward_toward_half, lam_max=50.0,
                                          resample="always", groups=groups)
        fkc.set_timesteps(8)
        x = torch.randn(n, 1, 4, 4)
        # make one group's particles far better than the others' so global resampling would
        # move them across groups
        x[label_of == 0] += 0.5
        gen = torch.Generator().manual_seed(1)
        for t in fkc.timesteps:
            x = fkc.step(torch.randn(x.shape, generator=gen), t, x, generator=gen).prev_sample
        anc = fkc.ancestors
        assert anc.shape == (8, n)
        assert torch.equal(label_of[anc], label_of.expand(8, n))
        assert fkc.resampled.all()


def test_potential_only_mode_weights_are_the_final_tilt():
    ddpm = diffusers.DDPMScheduler()
    calls = []

    def reward_no_grad(x):
        calls.append(x.shape[0])
        with torch.no_grad():
            return reward_toward_half(x)

    fkc = FKCScheduler.from_scheduler(ddpm, reward_no_grad, lam_max=2.5, reward_grad="none",
                                      reward_batch_size=3)
    fkc.set_timesteps(6)
    x = torch.randn(5, 1, 4, 4)
    gen = torch.Generator().manual_seed(0)
    for t in fkc.timesteps:
        x = fkc.step(torch.randn(x.shape, generator=gen), t, x, generator=gen).prev_sample
    # the potentials telescope: w = lam(1) r(x_final) - lam(0) r(x_start), lam(0) = 0
    torch.testing.assert_close(fkc.log_weights, 2.5 * reward_toward_half(x), rtol=1e-5,
                               atol=1e-5)
    assert set(calls) == {3, 2} and len(calls) == 2 * 7  # 6 steps + the final potential


def test_a_reward_without_gradient_is_a_clear_error():
    fkc = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(),
                                      lambda x: reward_toward_half(x).detach(), lam_max=1.0)
    fkc.set_timesteps(4)
    x = torch.randn(2, 1, 4, 4)
    with pytest.raises(ValueError, match="reward_grad='none'"):
        fkc.step(torch.randn_like(x), fkc.timesteps[0], x)


def test_reward_batch_size_gives_the_same_step():
    ddpm = diffusers.DDPMScheduler()
    x, eps, xi = torch.randn(7, 1, 4, 4), torch.randn(7, 1, 4, 4), torch.randn(7, 1, 4, 4)
    outs = []
    for bs in (None, 2):
        fkc = FKCScheduler.from_scheduler(ddpm, reward_toward_half, lam_max=2.0,
                                          reward_batch_size=bs)
        fkc.set_timesteps(10)
        fkc.set_begin_index(3)
        outs.append((fkc.step(eps, fkc.timesteps[3], x, variance_noise=xi).prev_sample,
                     fkc.log_weights.clone()))
    torch.testing.assert_close(outs[0][0], outs[1][0])
    torch.testing.assert_close(outs[0][1], outs[1][1])


def test_reward_graph_memory_is_flat_in_n_with_reward_batch_size():
    """Bytes saved for backward (the autograd graph of the reward) peak at the same value
    for N = 8 and N = 64 with reward_batch_size=4; without it they grow with N."""
    weight = torch.randn(16, 1, 3, 3)

    def heavy_reward(x):  # a conv "decoder": saves ~N*16*8*8 floats for backward
        h = torch.nn.functional.conv2d(x, weight, padding=1).tanh()
        return h.flatten(1).mean(1)

    class Saved:
        __slots__ = ("tensor", "__weakref__")

    def peak_saved_bytes(n, batch):
        alive, peak = [0], [0]

        def release(size):
            alive[0] -= size

        def pack(t):
            size = t.numel() * t.element_size()
            alive[0] += size
            peak[0] = max(peak[0], alive[0])
            box = Saved()
            box.tensor = t
            weakref.finalize(box, release, size)
            return box

        fkc = FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), heavy_reward, lam_max=1.0,
                                          reward_batch_size=batch)
        fkc.set_timesteps(3)
        x = torch.randn(n, 1, 8, 8)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda box: box.tensor):
            for t in fkc.timesteps:
                x = fkc.step(torch.randn_like(x), t, x).prev_sample
        return peak[0]

    flat = [peak_saved_bytes(n, 4) for n in (8, 64)]
    grows = [peak_saved_bytes(n, None) for n in (8, 64)]
    assert flat[0] == flat[1] > 0
    assert grows[1] >= 7 * grows[0]


def test_generator_lists_give_each_particle_its_own_noise():
    ddpm = diffusers.DDPMScheduler()
    x, eps = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    outs = []
    for seeds in ((0, 1, 2), (0, 1, 5)):
        fkc = FKCScheduler.from_scheduler(ddpm)
        fkc.set_timesteps(10)
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        outs.append(fkc.step(eps, fkc.timesteps[0], x, generator=gens).prev_sample)
    torch.testing.assert_close(outs[0][:2], outs[1][:2])
    assert not torch.allclose(outs[0][2], outs[1][2])
    fkc = FKCScheduler.from_scheduler(ddpm)
    fkc.set_timesteps(10)
    with pytest.raises(ValueError, match="one torch.Generator per particle"):
        fkc.step(eps, fkc.timesteps[0], x, generator=[torch.Generator()] * 2)


# ------------------------------------------------------------------ scheduler families


@pytest.mark.parametrize("name", ["DDPMScheduler", "DDIMScheduler", "EulerDiscreteScheduler",
                                  "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler",
                                  "PNDMScheduler", "LMSDiscreteScheduler", "DEISMultistepScheduler",
                                  "UniPCMultistepScheduler", "HeunDiscreteScheduler"])
def test_from_scheduler_reproduces_alphas_cumprod_and_timesteps(name):
    src = getattr(diffusers, name)(beta_schedule="scaled_linear", beta_start=0.00085,
                                   beta_end=0.012)
    schedule = schedule_from_scheduler(src)
    ac = src.alphas_cumprod.double()
    for t in (0, 1, 499, 998, 999):
        tau = schedule.timestep_to_tau(t)
        assert schedule.alpha(tau) ** 2 == pytest.approx(float(ac[t]), rel=1e-9)
        assert schedule.sigma(tau) ** 2 == pytest.approx(1 - float(ac[t]), rel=1e-9)
    for n in (7, 25):
        ts = schedule.timesteps(n)
        assert len(ts) == n and all(a > b for a, b in zip(ts, ts[1:], strict=False))
        src.set_timesteps(n)
        theirs = [float(t) for t in src.timesteps.tolist()]
        if len(set(theirs)) == n:  # PNDM repeats a timestep: the spacing rule is used
            assert ts == pytest.approx(sorted(set(theirs), reverse=True))
        fkc = FKCScheduler.from_scheduler(src, reward_toward_half, lam_max=1.0)
        fkc.set_timesteps(n)
        x = torch.randn(2, 1, 4, 4)
        for t in fkc.timesteps:
            x = fkc.step(torch.randn_like(x) * 0.1, t, x).prev_sample
        assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", ["DDIMScheduler", "EulerDiscreteScheduler"])
def test_zero_terminal_snr_schedules_are_accepted(name):
    src = getattr(diffusers, name)(rescale_betas_zero_snr=True, prediction_type="v_prediction",
                                   timestep_spacing="trailing")
    fkc = FKCScheduler.from_scheduler(src, reward_toward_half, lam_max=1.0)
    ac = fkc.alphas_cumprod
    assert (ac[1:] < ac[:-1]).all() and ac[-1] > 0 and ac[-1] == ac[-2] / 2
    torch.testing.assert_close(ac[:-1], src.alphas_cumprod[:-1].double())
    fkc.set_timesteps(10)
    x = torch.randn(2, 1, 4, 4)
    for t in fkc.timesteps:
        x = fkc.step(torch.randn_like(x) * 0.1, t, x).prev_sample
    assert torch.isfinite(x).all()


def test_from_scheduler_rebuilds_an_fkc_scheduler():
    fkc = FKCScheduler.from_scheduler(diffusers.DDIMScheduler(prediction_type="v_prediction"))
    again = FKCScheduler.from_scheduler(fkc, reward_toward_half, lam_max=2.0, resample="ess")
    assert again.schedule is fkc.schedule and again.prediction_type == "v_prediction"
    torch.testing.assert_close(again.alphas_cumprod,
                               diffusers.DDIMScheduler().alphas_cumprod.double())


def test_from_scheduler_names_what_is_missing():
    with pytest.raises(TypeError, match="scheduler: object has no alphas_cumprod"):
        FKCScheduler.from_scheduler(object())
    with pytest.raises(ValueError, match="prediction_type"):
        FKCScheduler.from_scheduler(diffusers.DDPMScheduler(), prediction_type="flow_prediction")


# ------------------------------------------------------------------ pipelines


def test_ddpm_and_ddim_pipelines_run_end_to_end():
    unet = tiny_unet()
    for pipe_cls, sched in ((diffusers.DDPMPipeline, diffusers.DDPMScheduler()),
                            (diffusers.DDIMPipeline, diffusers.DDIMScheduler())):
        pipe = pipe_cls(unet=unet, scheduler=sched)
        pipe.set_progress_bar_config(disable=True)
        pipe.scheduler = FKCScheduler.from_scheduler(pipe.scheduler, reward_toward_half,
                                                     lam_max=4.0, resample="ess", groups=2)
        out = pipe(batch_size=6, num_inference_steps=8, output_type="np",
                   generator=torch.Generator().manual_seed(0))
        assert out.images.shape == (6, 8, 8, 1)
        fkc = pipe.scheduler
        assert fkc.ancestors.shape == (8, 6) and fkc.ess.shape == (8,)
        assert torch.isfinite(fkc.log_weights).all()
        assert (fkc.ancestors[:, :3] < 3).all() and (fkc.ancestors[:, 3:] >= 3).all()


def _tiny_sd_pipeline(scheduler):
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(8, 16), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
        norm_num_groups=4, attention_head_dim=4)
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 8), latent_channels=4,
        norm_num_groups=4, sample_size=16, layers_per_block=1)
    try:
        pipe = diffusers.StableDiffusionPipeline(
            vae=vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=scheduler,
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    except (ImportError, OSError) as exc:  # the pipeline needs transformers
        pytest.skip(f"StableDiffusionPipeline is unavailable: {exc}")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_stable_diffusion_pipeline_with_cfg_and_a_decoder_reward():
    pipe = _tiny_sd_pipeline(diffusers.DDIMScheduler(steps_offset=1, clip_sample=False))
    seen = []

    def image_reward(images):
        seen.append(tuple(images.shape))
        return images.mean((1, 2, 3))

    reward = decoded_reward(pipe.vae, image_reward)
    pipe.scheduler = FKCScheduler.from_scheduler(pipe.scheduler, reward, lam_max=2.0,
                                                 resample="always", groups=2,
                                                 reward_batch_size=2)
    prompt_embeds = torch.randn(2, 5, 16)
    out = pipe(prompt_embeds=prompt_embeds, negative_prompt_embeds=torch.zeros(2, 5, 16),
               num_images_per_prompt=3, num_inference_steps=4, guidance_scale=3.0, height=16,
               width=16, output_type="pt", generator=torch.Generator().manual_seed(0))
    assert out.images.shape == (6, 3, 16, 16) and torch.isfinite(out.images).all()
    anc = pipe.scheduler.ancestors
    assert anc.shape == (4, 6)
    # prompt-major batch: particles 0-2 are prompt 0, 3-5 prompt 1
    assert (anc[:, :3] < 3).all() and (anc[:, 3:] >= 3).all()
    assert set(seen) == {(2, 3, 16, 16)}  # decoded two particles at a time
    # a second call starts afresh
    pipe(prompt_embeds=prompt_embeds[:1], negative_prompt_embeds=torch.zeros(1, 5, 16),
         num_images_per_prompt=2, num_inference_steps=3, height=16, width=16, output_type="pt")
    assert pipe.scheduler.ancestors.shape == (3, 2)


def test_add_cfg_weight_adds_fkcs_guidance_weight_inside_the_pipeline():
    pipe = _tiny_sd_pipeline(diffusers.DDIMScheduler(steps_offset=1, clip_sample=False))
    fkc = FKCScheduler.from_scheduler(pipe.scheduler)  # no reward: only the CFG term
    pipe.scheduler = fkc
    handle = fkc.add_cfg_weight(pipe.unet, guidance_scale=3.0)
    outputs = []
    mine = pipe.unet.register_forward_hook(lambda m, a, out: outputs.append(out[0].detach()))
    pipe(prompt_embeds=torch.randn(1, 5, 16), negative_prompt_embeds=torch.zeros(1, 5, 16),
         num_images_per_prompt=3, num_inference_steps=4, guidance_scale=3.0, height=16,
         width=16, output_type="latent", generator=torch.Generator().manual_seed(0))
    mine.remove()
    handle.remove()
    want = torch.zeros(3)
    for i, out in enumerate(outputs):
        c = fkc.schedule.at_step(i, 4)
        u, cnd = out.float().chunk(2)
        gap = ((cnd - u) / c.sigma).flatten(1).pow(2).sum(1)  # ||s_c - s_u||^2 for eps
        want += 0.5 * c.h * c.g**2 * 3.0 * 2.0 * gap
    torch.testing.assert_close(fkc.log_weights, want, rtol=1e-4, atol=1e-5)
    assert (want > 0).all()

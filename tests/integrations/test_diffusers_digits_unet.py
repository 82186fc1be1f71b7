"""The trained digits UNet in the box: its task runs end to end, README's diffusers example runs.

Skipped when diffusers is not installed (CI installs the ``[diffusers]`` extra).
"""

import json
import pathlib
import re

import pytest
import torch

pytest.importorskip("diffusers")

from fkc_align.cli import main  # noqa: E402
from fkc_align.tasks import TASKS, digits_unet  # noqa: E402
from fkc_align.tasks.unet_model import WEIGHTS_DIR, load_digits_unet, sample_quality  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


# tiny models: one intra-op thread (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_weights_ship_with_the_package():
    files = {p.name for p in WEIGHTS_DIR.iterdir()}
    assert {"config.json", "diffusion_pytorch_model.safetensors",
            "scheduler_config.json", "training.json"} <= files
    size = (WEIGHTS_DIR / "diffusion_pytorch_model.safetensors").stat().st_size
    assert 100_000 < size < 1_000_000
    unet, scheduler = load_digits_unet()
    assert sum(p.numel() for p in unet.parameters()) == json.loads(
        (WEIGHTS_DIR / "training.json").read_text())["n_params"]
    assert scheduler.config.prediction_type == "epsilon"


def test_digits_unet_task_samples_digits_through_the_diffusers_path():
    task = TASKS["digits-unet"](3)
    assert task.name == "digits-unet" and task.identity == {"name": "digits-unet", "target": 3}
    from fkc_kernels import FKCSampler, LinearTilt, zero_reward

    sampler = FKCSampler(task.score_fn, zero_reward, task.schedule, LinearTilt(0.0), 25,
                         weights="smc")
    x = sampler.sample(200, task.shape, generator=torch.Generator().manual_seed(0)).x
    q = sample_quality(x)
    # a learned model of all ten digits that does not copy its training set (design seeds;
    # docs/diffusers.md reports the 1000-sample numbers)
    assert q["label_tv_distance"] < 0.2, q
    assert min(q["label_share_samples"]) > 0.02, q
    assert q["nn_train_distance_samples"]["median"] > 0.7 * q["nn_train_distance_held_out"][
        "median"], q
    with pytest.raises(ValueError, match="target: expected a digit"):
        digits_unet(10)


def test_cli_runs_the_digits_unet_task_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "--task", "digits-unet", "--target", "7", "--budget", "8", "--k", "4",
            "--particles", "16", "--steps", "10", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["task"] == {"name": "digits-unet", "target": 7}
    (run,) = report["runs"].values()  # the default strategy's run
    assert [r["queries_used"] for r in run["rounds"]] == [4, 8]
    assert "strategy" in capsys.readouterr().out


def test_readme_diffusers_example_runs(capsys):
    text = (ROOT / "README.md").read_text()
    section = text.split("## FKC in your diffusers pipeline", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    # in this process (diffusers is imported already): the example as written, top to bottom
    exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    share = float(re.search(r"threes: ([0-9.]+)", printed).group(1))
    assert share > 0.5, printed  # the base model draws about 10% threes

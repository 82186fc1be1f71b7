"""How the rating page draws one particle: pixels, the task's plot, or the task's own renderer."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="fkc-align serve needs the [serve] extra")

from fkc_align import tasks  # noqa: E402
from fkc_align.serve.render import IMAGE_SIDE, particle_png  # noqa: E402


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return np.asarray(Image.open(io.BytesIO(png)))


def gray_task(shape=(1, 8, 8)):
    return tasks.Task(name="t", shape=shape, score_fn=lambda x, tau: -x,
                      oracle=lambda x: x.flatten(1).sum(1))


def test_image_particles_are_drawn_as_pixels_ink_dark():
    x = torch.linspace(-1, 1, 64).reshape(1, 8, 8)
    img = decode(particle_png(gray_task(), x))
    scale = IMAGE_SIDE // 8
    assert img.shape == (8 * scale, 8 * scale)
    # value v in [-1, 1] -> gray 255 * (1 - (v + 1) / 2): -1 white, +1 black, nearest upscaling
    want = np.round(255 * (1 - (x[0].numpy() + 1) / 2)).astype(np.uint8)
    np.testing.assert_array_equal(img[::scale, ::scale], want)
    np.testing.assert_array_equal(img[scale - 1::scale, scale - 1::scale], want)


def test_colour_images_keep_their_channels_and_values_are_clamped():
    x = torch.zeros(3, 4, 5)
    x[0] = 5.0  # clamped to 1: full red
    x[1] = -1.0
    x[2] = -3.0
    img = decode(particle_png(gray_task((3, 4, 5)), x))
    assert img.shape[2] == 3 and img.shape[1] > img.shape[0]
    assert tuple(img[0, 0]) == (255, 0, 0)


def test_non_image_particles_use_the_task_plot_or_a_bar_chart():
    png = particle_png(tasks.gmm(), torch.tensor([2.0, 0.0]))
    assert decode(png).ndim == 3
    vec = gray_task((5,))
    assert decode(particle_png(vec, torch.arange(5.0))).ndim == 3


@pytest.mark.parametrize("out", [
    np.full((6, 7), 0.5),
    np.zeros((6, 7, 3)),
    Image.new("RGB", (7, 6)),
    "png",
])
def test_a_task_can_bring_its_renderer(out):
    if isinstance(out, str):
        buf = io.BytesIO()
        Image.new("L", (7, 6)).save(buf, format="PNG")
        out = buf.getvalue()
    calls = []

    def render(x):
        calls.append(x)
        return out

    x = torch.randn(1, 8, 8)
    img = decode(particle_png(gray_task(), x, render=render))
    assert img.shape[:2] == (6, 7) and torch.equal(calls[0], x)
    # or as the task's render_particle attribute
    task = gray_task()
    task.render_particle = render
    assert decode(particle_png(task, x)).shape[:2] == (6, 7)


@pytest.mark.parametrize("out, message", [
    (b"GIF89a....", "returned bytes that are not a PNG"),
    (np.zeros((2, 2, 4)), "got an array of shape (2, 2, 4)"),
    (np.zeros(5), "got an array of shape (5,)"),
])
def test_a_renderer_returning_something_else_is_named(out, message):
    with pytest.raises(ValueError, match="render_particle: ") as err:
        particle_png(gray_task(), torch.zeros(1, 8, 8), render=lambda x: out)
    assert message in str(err.value)

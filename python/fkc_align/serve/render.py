"""One particle as a PNG for the rating page.

A task can supply its own renderer: a ``render_particle`` attribute (or the ``render`` argument of
:class:`~fkc_align.serve.session.ServeSession`) taking one particle ``x`` (float32, the task's
particle shape) and returning PNG bytes, a ``PIL.Image`` or an array ``(H, W)`` / ``(H, W, 3)``
with values in [0, 1]. Without one: image-shaped particles (``(C, H, W)`` with C in {1, 3}, or
``(H, W)``) are drawn as pixels (values in [-1, 1], ink dark as in the report's ``best.png``);
other particles through the task's ``plot_particles`` (the gmm task: the point on the map of
modes), or as a bar chart of their coordinates.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..tasks import Task

Renderer = Callable[[torch.Tensor], Any]

IMAGE_SIDE = 160  # pixels of the longer side of a rendered image particle


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def image_particle_png(x: torch.Tensor, side: int = IMAGE_SIDE) -> bytes:
    """Pixels of ``x`` ``(C, H, W)``, C in {1, 3}, or ``(H, W)``, values in [-1, 1], as a PNG
    scaled up (nearest neighbour) so the longer side is about ``side`` pixels."""
    a = x.detach().float().cpu()
    if a.dim() == 3:
        a = a[0] if a.shape[0] == 1 else a.permute(1, 2, 0)
    a = ((a.clamp(-1, 1) + 1) / 2).numpy()
    if a.ndim == 2:
        a = 1.0 - a  # +1 is ink: dark on white, as the report's gray_r colour map
    image = Image.fromarray((a * 255).round().astype(np.uint8))
    scale = max(1, side // max(image.size))
    return _png(image.resize((image.size[0] * scale, image.size[1] * scale), Image.NEAREST))


def _is_image_shape(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 or (len(shape) == 3 and shape[0] in (1, 3))


def _figure_png(draw: Callable[[Any], None]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3.2, 3.2))
    try:
        draw(fig)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=55)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _coerce(out: Any, who: str) -> bytes:
    if isinstance(out, (bytes, bytearray)):
        if not bytes(out[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"{who}: returned bytes that are not a PNG")
        return bytes(out)
    if isinstance(out, Image.Image):
        return _png(out)
    arr = np.asarray(out.detach().cpu() if isinstance(out, torch.Tensor) else out, dtype=float)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"{who}: expected PNG bytes, a PIL image or an (H, W) / (H, W, 3) "
                         f"array in [0, 1], got an array of shape {arr.shape}")
    return _png(Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8)))


def particle_png(task: Task, x: torch.Tensor, render: Renderer | None = None) -> bytes:
    """PNG bytes of one particle ``x`` (the task's particle shape) for the rating page."""
    custom = render if render is not None else getattr(task, "render_particle", None)
    if custom is not None:
        return _coerce(custom(x), "render_particle")
    if _is_image_shape(task.shape):
        return image_particle_png(x)
    if task.plot_particles is not None:
        return _figure_png(lambda fig: task.plot_particles(
            fig, x[None].float().cpu(), torch.zeros(1), None))
    flat = x.detach().float().cpu().reshape(-1).numpy()
    return _figure_png(lambda fig: fig.add_subplot(1, 1, 1).bar(range(len(flat)), flat))

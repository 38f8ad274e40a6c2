"""Gradient flow: how strongly the loss reaches back to each input step, and how fast it decays.

For a network ``adapter → encoder → head``, :func:`gradient_profile` returns the mean over a
batch of ‖∂L/∂h_t‖, where ``h_t`` is the embedded input at step ``t`` (what the encoder reads),
ordered by distance ``T − t`` from the output. :func:`decay_rate` fits
``log10 ‖∂L/∂h‖ = a − rate · distance`` by least squares: the decades lost per step (0: no
decay; a vanishing gradient loses many).
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn


def gradient_profile(model: nn.Module, x: Tensor, y: Tensor) -> np.ndarray:
    """Mean ‖∂L/∂h_t‖ per distance ``T − 1 − t`` (index 0: the last step), for an MSE loss on
    ``y`` (the adding problem's ``(B, 1, 1)`` targets). ``model`` is a ``SequenceModel``."""
    was_training = model.training
    model.eval()  # no dropout: the gradient of the function itself
    lengths = model.adapter.default_lengths(x)  # type: ignore[operator]
    h = model.adapter(x).detach().requires_grad_(True)  # type: ignore[operator]  # (B, T, E)
    out = model.head(model.encoder, h, lengths)  # type: ignore[operator]  # (B, 1, 1)
    F.mse_loss(out, y).backward()
    assert h.grad is not None
    norms = h.grad.norm(dim=-1).mean(dim=0)  # (T,)
    model.train(was_training)
    return norms.flip(0).numpy().astype(np.float64)  # by distance from the output


def decay_rate(profile: np.ndarray) -> float:
    """Decades of gradient norm lost per step of distance: the least-squares slope of
    ``log10`` norm over the steps the gradient still reaches (exact zeros, underflow, are left
    out: :func:`reach` counts them)."""
    distance = np.arange(len(profile), dtype=np.float64)
    keep = profile > 0
    if keep.sum() < 2:
        return float("inf")
    slope = np.polyfit(distance[keep], np.log10(profile[keep]), 1)[0]
    return float(-slope)


def reach(profile: np.ndarray, decades: float = 6.0) -> int:
    """The first distance at which the norm has fallen ``decades`` below its value at the last
    step (``len(profile)`` when it never does): how far back the loss is still felt."""
    if profile[0] <= 0:
        return 0
    below = np.flatnonzero(profile < profile[0] * 10.0**-decades)
    return int(below[0]) if len(below) else len(profile)

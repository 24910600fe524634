"""Augmentations of training sequences, drawn fresh each epoch from the seed and the epoch
(so a resumed run sees what an uninterrupted one saw): for the very small training sets of
archives such as UCR's, where they are what keeps a recurrent model from memorising.

Each works in standardised units (``(x - mean) / std`` per channel, training statistics) and
returns raw values again; padded steps stay as they were.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional

KINDS = ("scale", "jitter", "warp")


def parse_kinds(text: str) -> tuple[str, ...]:
    """``"scale,jitter,warp"`` → the kinds; ``"none"`` or empty → none."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip() and k.strip() != "none")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        from rnnzoo.errors import UserError

        raise UserError(
            f"augment={text!r}: unknown {unknown[0]!r}; use some of {', '.join(KINDS)} or none"
        )
    return kinds


def augment(
    x: Tensor,
    lengths: Tensor | None,
    kinds: tuple[str, ...],
    mean: Tensor,
    std: Tensor,
    generator: torch.Generator,
) -> Tensor:
    """``x`` ``(batch, time, channels)`` with each kind applied: ``scale`` multiplies each
    channel of each sequence by N(1, 0.1); ``jitter`` adds N(0, 0.03) noise; ``warp`` resamples
    each sequence along a smooth random speed curve (six knots, speeds N(1, 0.2) ≥ 0.3)."""
    z = (x - mean) / std
    batch, steps, channels = z.shape
    if "scale" in kinds:
        z = z * (1 + 0.1 * torch.randn(batch, 1, channels, generator=generator))
    if "jitter" in kinds:
        z = z + 0.03 * torch.randn(z.shape, generator=generator)
    if "warp" in kinds:
        speeds = (1 + 0.2 * torch.randn(batch, 1, 6, generator=generator)).clamp(min=0.3)
        if lengths is None:
            z = warp(z, speeds)
        else:  # each sequence over its own valid steps
            z = z.clone()
            for row, n in enumerate(lengths.tolist()):
                z[row : row + 1, :n] = warp(z[row : row + 1, :n], speeds[row : row + 1])
    out = z * std + mean
    if lengths is not None:  # padding stays padding
        valid = torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)
        out = torch.where(valid.unsqueeze(-1), out, x)
    return out


def warp(z: Tensor, speeds: Tensor) -> Tensor:
    """Resample ``(batch, time, channels)`` at the cumulative positions of ``speeds``
    interpolated over the time axis (first and last steps kept)."""
    steps = z.shape[1]
    if steps < 2:
        return z
    speed = functional.interpolate(speeds, size=steps, mode="linear", align_corners=True)[:, 0]
    position = speed.cumsum(1)
    position = (position - position[:, :1]) / (position[:, -1:] - position[:, :1])
    grid = torch.stack([position * 2 - 1, torch.zeros_like(position)], -1)[:, None]
    image = z.transpose(1, 2).unsqueeze(2)  # (batch, channels, 1, time)
    return functional.grid_sample(image, grid, mode="bilinear", align_corners=True)[
        :, :, 0
    ].transpose(1, 2)

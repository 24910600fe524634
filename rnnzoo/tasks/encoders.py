"""Encoders in front of the recurrent stack for users' data: per-channel standardisation with
training statistics, and an optional causal 1-D convolution over the channels (LSTM-FCN's
front end, made causal so that it streams).

Both are part of the exported graph, so a deployed model takes raw values. The convolution
looks only at the current and earlier steps (left padding), so a stream can run it one step
at a time from a buffer of each layer's last ``kernel - 1`` inputs: ``step`` and
``streaming_state_sizes`` give the sequence family what the step graph carries, and a stream
started from zeros is the whole sequence padded with zeros on the left, as ``forward`` pads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from rnnzoo.errors import UserError


class Standardise(nn.Module):
    """``(x - mean) / std`` per channel; a missing value (NaN) becomes 0, the training mean,
    and the first ``flags`` channels get a missing-value indicator each (appended)."""

    def __init__(self, mean: Tensor, std: Tensor, flags: int = 0):
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())
        self.flags = flags
        self.output_size = len(mean) + flags

    def forward(self, x: Tensor) -> Tensor:
        scaled = (x - self.mean) / self.std
        missing = torch.isnan(scaled)
        values = torch.where(missing, torch.zeros_like(scaled), scaled)
        if not self.flags:
            return values
        return torch.cat([values, missing[..., : self.flags].to(x.dtype)], dim=-1)


class CausalConvLayer(nn.Module):
    """Conv1d over time, dilated by ``dilation``, with zeros on the left only (so step ``t``
    sees steps ``t``, ``t - dilation``, ... and nothing later), batch norm, ReLU."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, dilation: int = 1):
        super().__init__()
        self.channels_in, self.span = channels_in, (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels_in, channels_out, kernel, dilation=dilation)
        self.norm = nn.BatchNorm1d(channels_out)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, channels_in, time)`` → ``(batch, channels_out, time)``."""
        x = nn.functional.pad(x, (self.span, 0))
        return torch.relu(self.norm(self.conv(x)))

    def step(self, x: Tensor, buffer: Tensor) -> tuple[Tensor, Tensor]:
        """One step: ``x`` ``(batch, channels_in)``, ``buffer`` the last ``span`` inputs
        flattened to ``(batch, span * channels_in)``."""
        window = torch.cat([buffer.reshape(x.shape[0], self.span, -1), x.unsqueeze(1)], 1)
        y = torch.relu(self.norm(self.conv(window.transpose(1, 2))))[:, :, 0]
        return y, window[:, 1:].flatten(1)


def parse_kernels(text: str) -> tuple[tuple[int, int], ...]:
    """``"7,5:2,3:4"`` → ``((7, 1), (5, 2), (3, 4))``: each layer's kernel and dilation."""
    layers = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        kernel, _, dilation = part.partition(":")
        try:
            layers.append((int(kernel), int(dilation or 1)))
        except ValueError:
            raise UserError(
                f"kernels={text!r}: expected kernel sizes with optional dilations, e.g. 7,5:2,3:4"
            ) from None
    if not all(2 <= k <= 64 and 1 <= d <= 64 for k, d in layers):
        raise UserError(f"kernels={text!r}: kernel sizes must be 2 to 64, dilations 1 to 64")
    return tuple(layers)


class SequenceEncoder(nn.Module):
    """Standardise, then (optionally) causal convolutions, ``kernels`` a ``(kernel,
    dilation)`` per layer: ``(batch, time, channels)`` → ``(batch, time, output_size)``."""

    def __init__(
        self,
        mean: Tensor,
        std: Tensor,
        conv_channels: int = 0,
        kernels: tuple = (),
        dropout: float = 0.0,
        flags: int = 0,
    ):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.standardise = Standardise(mean, std, flags)
        sizes = [self.standardise.output_size] + [conv_channels] * len(kernels)
        self.convs = nn.ModuleList(
            CausalConvLayer(a, b, k, d) for a, b, (k, d) in zip(sizes, sizes[1:], kernels)
        )
        self.output_size = sizes[-1]

    def forward(self, x: Tensor) -> Tensor:
        x = self.standardise(x)
        if not len(self.convs):
            return x
        x = x.transpose(1, 2)
        for conv in self.convs:
            x = conv(x)
        return self.dropout(x.transpose(1, 2))

    @property
    def streaming_state_sizes(self) -> tuple[int, ...]:
        """Each convolution's buffer of its last ``span`` inputs, flattened."""
        return tuple(c.span * c.channels_in for c in self.convs)

    def step(self, x: Tensor, buffers: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One step ``(batch, channels)`` → ``(batch, output_size)`` and the new buffers."""
        x = self.standardise(x)
        new = []
        for conv, buffer in zip(self.convs, buffers):
            x, buffer = conv.step(x, buffer)
            new.append(buffer)
        return self.dropout(x), tuple(new)


def channel_statistics(parts: Sequence[np.ndarray], chunk: int = 1 << 20) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of each channel over ``(steps, channels)`` parts, NaN
    (missing values and padding) left out; a constant or empty channel gets std 1. Two passes
    of ``chunk`` rows at a time: the parts may be memory maps larger than memory."""

    def pieces() -> Iterator[np.ndarray]:
        for part in parts:
            for start in range(0, len(part), chunk):
                yield np.asarray(part[start : start + chunk], np.float64)

    width = parts[0].shape[1]
    total, count, square = np.zeros(width), np.zeros(width), np.zeros(width)
    for x in pieces():
        total += np.nansum(x, 0)
        count += (~np.isnan(x)).sum(0)
    mean = total / np.maximum(count, 1)
    for x in pieces():
        square += np.nansum((x - mean) ** 2, 0)
    std = np.sqrt(square / np.maximum(count, 1))
    std = np.where(std > 1e-8, std, 1.0)
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)

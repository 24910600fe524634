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

import torch
from torch import Tensor, nn


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
    """Conv1d over time with ``kernel - 1`` steps of zeros on the left, batch norm, ReLU."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int):
        super().__init__()
        self.kernel, self.channels_in = kernel, channels_in
        self.conv = nn.Conv1d(channels_in, channels_out, kernel)
        self.norm = nn.BatchNorm1d(channels_out)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, channels_in, time)`` → ``(batch, channels_out, time)``."""
        x = nn.functional.pad(x, (self.kernel - 1, 0))
        return torch.relu(self.norm(self.conv(x)))

    def step(self, x: Tensor, buffer: Tensor) -> tuple[Tensor, Tensor]:
        """One step: ``x`` ``(batch, channels_in)``, ``buffer`` the last ``kernel - 1``
        inputs flattened to ``(batch, (kernel - 1) * channels_in)``."""
        window = torch.cat([buffer.reshape(x.shape[0], self.kernel - 1, -1), x.unsqueeze(1)], 1)
        y = torch.relu(self.norm(self.conv(window.transpose(1, 2))))[:, :, 0]
        return y, window[:, 1:].flatten(1)


class SequenceEncoder(nn.Module):
    """Standardise, then (optionally) causal convolutions: ``(batch, time, channels)`` →
    ``(batch, time, output_size)``."""

    def __init__(
        self, mean: Tensor, std: Tensor, conv_channels: int = 0, kernels: tuple = (), flags: int = 0
    ):
        super().__init__()
        self.standardise = Standardise(mean, std, flags)
        sizes = [self.standardise.output_size] + [conv_channels] * len(kernels)
        self.convs = nn.ModuleList(
            CausalConvLayer(a, b, k) for a, b, k in zip(sizes, sizes[1:], kernels)
        )
        self.output_size = sizes[-1]

    def forward(self, x: Tensor) -> Tensor:
        x = self.standardise(x)
        if not len(self.convs):
            return x
        x = x.transpose(1, 2)
        for conv in self.convs:
            x = conv(x)
        return x.transpose(1, 2)

    @property
    def streaming_state_sizes(self) -> tuple[int, ...]:
        """Each convolution's buffer of its last ``kernel - 1`` inputs, flattened."""
        return tuple((c.kernel - 1) * c.channels_in for c in self.convs)

    def step(self, x: Tensor, buffers: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One step ``(batch, channels)`` → ``(batch, output_size)`` and the new buffers."""
        x = self.standardise(x)
        new = []
        for conv, buffer in zip(self.convs, buffers):
            x, buffer = conv.step(x, buffer)
            new.append(buffer)
        return x, tuple(new)


def channel_statistics(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of each channel of ``(steps, channels)`` rows, NaN (missing
    values and padding) left out; a constant or empty channel gets std 1."""
    mean = torch.nanmean(rows, dim=0).nan_to_num(0.0)
    centred = torch.where(torch.isnan(rows), torch.zeros_like(rows), rows - mean)
    count = (~torch.isnan(rows)).sum(0).clamp(min=1)
    std = (centred.square().sum(0) / count).sqrt()
    return mean, torch.where(std > 1e-8, std, torch.ones_like(std))

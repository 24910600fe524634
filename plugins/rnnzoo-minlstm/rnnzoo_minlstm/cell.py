"""minLSTM (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?"): an
LSTM whose gates read only the input, normalised so that the forget and input gates sum to one
(time-independent scale), with no output gate and no cell state apart from h:

    f_t = σ(W_f x_t + b_f),   i_t = σ(W_i x_t + b_i),   h̃_t = g(W_h x_t + b_h)
    f'_t = f_t / (f_t + i_t),   i'_t = i_t / (f_t + i_t)
    h_t = f'_t ⊙ h_{t−1} + i'_t ⊙ h̃_t

with g(v) = v + ½ for v ≥ 0, σ(v) otherwise. Linear in h, so a parallel scan computes the whole
sequence. Good at: the same as minGRU — fast training on GPUs, a streaming step of three small
products — with separate forget and input gates (a forget-gate bias, ``forget_bias``, keeps
memories long from the start, as for the LSTM).

``parallel``: ``loop``, ``scan`` or ``auto`` (default: the scan on CUDA, the loop on CPU,
where the loop was measured faster; ``benchmarks/modern_cells.py``).
"""

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from rnnzoo.cells.base import Cell
from rnnzoo.cells.scan import diagonal_scan, zero_padding


def g(v: torch.Tensor) -> torch.Tensor:
    """v + ½ for v ≥ 0, σ(v) below — written without a branch (``torch.where`` becomes a
    SELECT, which TensorFlow Lite Micro has no kernel for); σ(0) = ½ exactly."""
    return v.clamp(min=0) + torch.sigmoid(v.clamp(max=0))


class MinLSTM(Cell):
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        forget_bias: float = 1.0,
        parallel: Literal["auto", "scan", "loop"] = "auto",
    ):
        super().__init__(input_size, hidden_size)
        self.parallel = parallel
        self.ih = nn.Linear(input_size, 3 * hidden_size)  # W_f, W_i, W_h
        with torch.no_grad():
            self.ih.bias[:hidden_size].add_(forget_bias)

    def gates(self, x):
        """The recurrence's ``a = f'`` (as its logit) and ``b = i' ⊙ h̃``."""
        f, i, candidate = self.ih(x).chunk(3, dim=-1)
        # f' = σ(f) / (σ(f) + σ(i)) = σ(log σ(f) − log σ(i)) = σ(softplus(−i) − softplus(−f)):
        # one sigmoid of a difference, not a ratio of two sigmoids that may both be tiny (in
        # onnxruntime a sigmoid's error is absolute: the ratio of two tiny ones is off by 1e-5)
        logit = F.softplus(-i) - F.softplus(-f)
        return logit, torch.sigmoid(-logit) * g(candidate)

    def step(self, x, state):
        (h,) = state
        logit, b = self.gates(x)
        h = torch.sigmoid(logit) * h + b
        return h, (h,)

    @property
    def has_fused(self) -> bool:
        return self.parallel != "loop"

    def fused_sequence(self, x, state, lengths):
        if self.parallel == "auto" and x.device.type != "cuda":
            return self.loop(x, state, lengths)
        logit, b = self.gates(x)
        h = diagonal_scan(F.logsigmoid(logit), b, state[0], lengths)
        return zero_padding(h, lengths), (h[:, -1],)  # the state is frozen past each length

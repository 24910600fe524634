"""minGRU (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?"): a
GRU whose gate and candidate read only the input, so the recurrence is linear in h and the
whole sequence can be computed by a parallel scan:

    z_t = σ(W_z x_t + b_z)
    h̃_t = g(W_h x_t + b_h),    g(v) = v + ½ for v ≥ 0, σ(v) otherwise (positive, as the paper's
                                log-space form needs; kept in the step too so both agree)
    h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t

Good at: long sequences trained fast on GPUs (the scan takes O(log T) depth), few parameters
(no recurrent matrix: 2·(input + 1)·hidden), a step that is two small matrix products — cheap
to stream on a device. Stack layers for expressiveness: one layer is a gated moving average.

``parallel``: ``loop`` runs the step loop; ``scan`` the chunked log-space scan
(``rnnzoo.cells.scan``); ``auto`` (default) the scan on CUDA and the loop on CPU, where the
loop was measured faster (``benchmarks/modern_cells.py``).
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


class MinGRU(Cell):
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        parallel: Literal["auto", "scan", "loop"] = "auto",
    ):
        super().__init__(input_size, hidden_size)
        self.parallel = parallel
        self.ih = nn.Linear(input_size, 2 * hidden_size)  # W_z, W_h

    def step(self, x, state):
        (h,) = state
        z, candidate = self.ih(x).chunk(2, dim=-1)
        z = torch.sigmoid(z)
        h = h + z * (g(candidate) - h)
        return h, (h,)

    @property
    def has_fused(self) -> bool:
        return self.parallel != "loop"

    def fused_sequence(self, x, state, lengths):
        if self.parallel == "auto" and x.device.type != "cuda":
            return self.loop(x, state, lengths)
        z, candidate = self.ih(x).chunk(2, dim=-1)
        log_a = F.logsigmoid(-z)  # log(1 − z)
        h = diagonal_scan(log_a, torch.sigmoid(z) * g(candidate), state[0], lengths)
        return zero_padding(h, lengths), (h[:, -1],)  # the state is frozen past each length

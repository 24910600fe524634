"""Blocks a cell family puts between its stacked layers (``Cell.layer_block``).

A block maps ``(..., size)`` to ``(..., size)`` one time step at a time — it sees ``(batch,
time, size)`` over whole sequences and ``(batch, size)`` when streaming — so a deep stack still
streams, and it is traced into the exported graphs like any other layer."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


class ResidualGatedMLP(nn.Module):
    """``x + W_out(GELU(W_a LN(x)) ⊙ W_b LN(x))``: layer normalisation and a gated MLP
    (Shazeer 2020, "GLU Variants Improve Transformer") around a residual connection — the
    feed-forward part of xLSTM's sLSTM block (Beck et al. 2024), with its 4/3 expansion."""

    def __init__(self, size: int, expansion: float = 4 / 3):
        super().__init__()
        inner = max(1, round(expansion * size))
        self.norm = nn.LayerNorm(size)
        self.up = nn.Linear(size, 2 * inner)
        self.down = nn.Linear(inner, size)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.up(self.norm(x)).chunk(2, dim=-1)
        return x + self.down(F.gelu(a) * b)

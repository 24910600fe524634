"""Shared machinery of the built-in cells: weights kept in a one-layer PyTorch ``nn.RNN`` /
``nn.LSTM`` / ``nn.GRU`` so the whole sequence can run in its fused kernel (cuDNN on GPU),
while ``step`` reads the same weights for the step-by-step path."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnzoo.cells.base import Cell, State, reorder_gates


class FusedCell(Cell):
    """A cell whose weights live in ``self.rnn`` (one layer, one direction, batch first)."""

    rnn: nn.RNNBase

    def weights(self) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` in PyTorch's gate order."""
        rnn = self.rnn
        return (
            rnn.weight_ih_l0,
            rnn.weight_hh_l0,
            getattr(rnn, "bias_ih_l0", None),
            getattr(rnn, "bias_hh_l0", None),
        )

    @property
    def has_fused(self) -> bool:
        return True

    def fused_sequence(
        self, x: Tensor, state: State, lengths: Tensor | None
    ) -> tuple[Tensor, State]:
        hx = tuple(s.unsqueeze(0).contiguous() for s in state)
        hx = hx if len(hx) > 1 else hx[0]
        if lengths is None:
            out, hn = self.rnn(x, hx)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, hn = self.rnn(packed, hx)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        hn = hn if isinstance(hn, tuple) else (hn,)
        return out, tuple(h.squeeze(0) for h in hn)

    # ONNX's gate order as indices into PyTorch's (identity for the basic RNN).
    onnx_gate_order: list[int] = [0]

    def onnx_weights(self) -> list[Tensor]:
        """``W, R, B`` for ONNX's RNN / LSTM / GRU operators, from this cell's weights."""
        w_ih, w_hh, b_ih, b_hh = self.weights()
        order = self.onnx_gate_order
        if b_ih is None:
            b_ih = b_hh = torch.zeros(w_ih.shape[0], dtype=w_ih.dtype, device=w_ih.device)
        bias = torch.cat([reorder_gates(b_ih, order), reorder_gates(b_hh, order)])
        return [
            reorder_gates(w_ih, order).unsqueeze(0),
            reorder_gates(w_hh, order).unsqueeze(0),
            bias.unsqueeze(0),
        ]

"""Gated recurrent unit (Cho et al. 2014), PyTorch's formulation (reset gate applied after
the hidden-to-hidden product, ONNX's ``linear_before_reset=1``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnzoo.cells.base import OnnxOperator, State
from rnnzoo.cells.fused import FusedCell


class GRU(FusedCell):
    onnx_gate_order = [1, 0, 2]  # PyTorch r, z, n → ONNX z, r, h

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size)
        self.rnn = nn.GRU(input_size, hidden_size, bias=bias, batch_first=True)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        w_ih, w_hh, b_ih, b_hh = self.weights()
        (h,) = state
        # split by a fixed size, not chunk(3): one Split node in the exported step graph
        i_r, i_z, i_n = F.linear(x, w_ih, b_ih).split(self.hidden_size, dim=-1)
        h_r, h_z, h_n = F.linear(h, w_hh, b_hh).split(self.hidden_size, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h = n + z * (h - n)
        return h, (h,)

    def onnx_operator(self) -> OnnxOperator:
        return OnnxOperator("GRU", self.onnx_weights(), {"linear_before_reset": 1})

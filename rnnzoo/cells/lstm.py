"""Long short-term memory (Hochreiter & Schmidhuber 1997) with a forget-gate bias
(Gers et al. 2000; default 1.0 as in classic implementations) and optional peephole
connections (Gers & Schmidhuber 2000), which force the step-by-step path."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnzoo.cells.base import OnnxOperator, State
from rnnzoo.cells.fused import FusedCell


class LSTM(FusedCell):
    onnx_gate_order = [0, 3, 1, 2]  # PyTorch i, f, g, o → ONNX i, o, f, c

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        forget_bias: float = 1.0,
        peephole: bool = False,
        bias: bool = True,
    ):
        super().__init__(input_size, hidden_size)
        self.peephole = peephole
        self.rnn = nn.LSTM(input_size, hidden_size, bias=bias, batch_first=True)
        if bias:
            with torch.no_grad():  # gate order i, f, g, o: the forget slice is [H:2H]
                self.rnn.bias_ih_l0[hidden_size : 2 * hidden_size].fill_(forget_bias)
                self.rnn.bias_hh_l0[hidden_size : 2 * hidden_size].zero_()
        if peephole:
            bound = 1 / math.sqrt(hidden_size)
            self.peep = nn.Parameter(torch.empty(3, hidden_size).uniform_(-bound, bound))

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, self.hidden_size)  # h, c

    @property
    def has_fused(self) -> bool:
        return not self.peephole

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        w_ih, w_hh, b_ih, b_hh = self.weights()
        h, c = state
        gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
        i, f, g, o = gates.split(self.hidden_size, dim=-1)  # one Split node when exported
        if self.peephole:
            i = i + self.peep[0] * c
            f = f + self.peep[1] * c
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.peephole:
            o = o + self.peep[2] * c
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def onnx_operator(self) -> OnnxOperator | None:
        """ONNX's LSTM, except with peepholes: OpenVINO ignores the operator's ``P`` input,
        so a peephole LSTM exports as its step graph (in a ``Scan`` over time)."""
        if self.peephole:
            return None
        return OnnxOperator("LSTM", self.onnx_weights())

"""The Minimal Gated Unit (Zhou, Wu, Zhang & Zhou 2016, "Minimal gated unit for recurrent
neural networks"): a GRU with one gate, the forget gate, doing the work of both.

    f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
    h̃_t = tanh(W_h x_t + U_h (f_t ⊙ h_{t-1}) + b_h)
    h_t = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ h̃_t
"""

import torch
from torch import nn

from rnnzoo.cells.base import Cell


class MGU(Cell):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size)
        self.ih = nn.Linear(input_size, 2 * hidden_size, bias=bias)  # W_f, W_h
        self.fh = nn.Linear(hidden_size, hidden_size, bias=False)  # U_f
        self.hh = nn.Linear(hidden_size, hidden_size, bias=False)  # U_h

    def step(self, x, state):
        (h,) = state
        x_f, x_h = self.ih(x).chunk(2, dim=-1)
        f = torch.sigmoid(x_f + self.fh(h))
        candidate = torch.tanh(x_h + self.hh(f * h))
        h = h + f * (candidate - h)
        return h, (h,)

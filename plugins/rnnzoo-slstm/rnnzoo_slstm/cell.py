"""sLSTM, the scalar-memory LSTM of xLSTM (Beck, Pöppel, Spanring, Auer, Prudnikova, Kopp,
Klambauer, Brandstetter & Hochreiter 2024, "xLSTM: Extended Long Short-Term Memory"):
exponential input gating with a normaliser state n and a stabiliser state m, recurrent
connections mixing memory within each of ``heads`` heads (block-diagonal, as in the paper):

    z̃, ĩ, f̃, õ = W x_t + R h_{t−1} + b             (R block-diagonal over heads)
    m_t = max(log σ(f̃) + m_{t−1}, ĩ)                  (the stabiliser)
    i'  = exp(ĩ − m_t),   f' = exp(log σ(f̃) + m_{t−1} − m_t)
    c_t = f' ⊙ c_{t−1} + i' ⊙ tanh(z̃)
    n_t = f' ⊙ n_{t−1} + i'
    h_t = σ(õ) ⊙ c_t / n_t

The exponential input gate can revise a stored decision (a new input can outweigh everything
before it), which the sigmoid cannot; m keeps exp from overflowing without changing h. No
Python branch depends on the data (the reference's ``if torch.all(n == 0)`` freezes under
tracing): n only divides after it has been floored at ``EPS``. The recurrent mixing makes it
a nonlinear RNN — no parallel scan — but the paper reports it solving state-tracking tasks
(parity) where linear recurrences fail. States h, c, n, m; a valid n is positive
(``sample_state``).
"""

import torch
import torch.nn.functional as F
from torch import nn

from rnnzoo.cells.base import Cell
from rnnzoo.cells.blocks import ResidualGatedMLP

EPS = 1e-6


class SLSTM(Cell):
    def __init__(self, input_size: int, hidden_size: int, heads: int = 1, forget_bias: float = 3.0):
        super().__init__(input_size, hidden_size)
        if heads < 1 or hidden_size % heads:
            raise ValueError(f"hidden_size {hidden_size} must be a multiple of heads {heads}")
        self.heads, self.size = heads, hidden_size // heads
        self.ih = nn.Linear(input_size, 4 * hidden_size)  # z, i, f, o
        bound = 1 / self.size**0.5
        self.r = nn.Parameter(torch.empty(heads, self.size, 4 * self.size).uniform_(-bound, bound))
        with torch.no_grad():
            self.ih.bias[2 * hidden_size : 3 * hidden_size].fill_(forget_bias)

    @classmethod
    def layer_block(cls, size: int) -> nn.Module:
        """Between stacked layers, xLSTM's residual block: layer norm and a gated MLP."""
        return ResidualGatedMLP(size)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size,) * 4  # h, c, n, m

    def sample_state(self, batch_size, generator=None):
        h, c, n, m = (
            torch.randn(batch_size, self.hidden_size, generator=generator) for _ in "hcnm"
        )
        return 0.5 * h, c, torch.exp(0.5 * n), m

    def state_from(self, raw):
        """A decoder's first state from a bridge: the normaliser positive (softplus)."""
        h, c, n, m = raw
        return torch.tanh(h), torch.tanh(c), F.softplus(n) + EPS, torch.tanh(m)

    def recurrent(self, h):
        """R h: each head's slice of h through its own block, laid out as z, i, f, o."""
        per_head = torch.einsum("bhs,hsg->bhg", h.view(-1, self.heads, self.size), self.r)
        return per_head.view(-1, self.heads, 4, self.size).transpose(1, 2).reshape(h.shape[0], -1)

    def step(self, x, state):
        h, c, n, m = state
        z, i, f, o = (self.ih(x) + self.recurrent(h)).chunk(4, dim=-1)
        log_f = -F.softplus(-f)  # log σ(f): onnxruntime makes Log(Sigmoid) inexact for f ≪ 0
        m_new = torch.maximum(log_f + m, i)
        i_gate, f_gate = torch.exp(i - m_new), torch.exp(log_f + m - m_new)
        c = f_gate * c + i_gate * torch.tanh(z)
        n = f_gate * n + i_gate
        h = torch.sigmoid(o) * c / n.clamp(min=EPS)
        return h, (h, c, n, m_new)

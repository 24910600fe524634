"""mLSTM, the matrix-memory LSTM of xLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term
Memory"): each of ``heads`` heads stores key–value associations in a d×d matrix C, written
with an exponential input gate and read with a query, stabilised like sLSTM:

    q, k, v = W_q x_t, W_k x_t / √d, W_v x_t          (per head, d = hidden / heads)
    ĩ, f̃ = w_i·x_t + b_i, w_f·x_t + b_f              (one scalar gate per head)
    m_t = max(log σ(f̃) + m_{t−1}, ĩ)
    i' = exp(ĩ − m_t),   f' = exp(log σ(f̃) + m_{t−1} − m_t)
    C_t = f' C_{t−1} + i' v kᵀ,   n_t = f' n_{t−1} + i' k
    h_t = σ(W_o x_t) ⊙ norm(C_t q / max(|n_tᵀ q|, exp(−m_t)))     (norm: per head)

The state is what it is: per head a matrix C ``(heads, d, d)``, a normaliser n ``(heads, d)``
and a stabiliser m ``(heads, 1)`` (``state_shapes``); stacks and exported graphs carry them
flattened. No recurrent weights on h: memory capacity grows with d², and recall of many
key–value pairs (associative recall) is what it is for. Its parallel (attention-like) form is
quadratic in T; this cell trains with the step loop.
"""

import torch
import torch.nn.functional as F
from torch import nn

from rnnzoo.cells.base import Cell
from rnnzoo.cells.blocks import ResidualGatedMLP

EPS = 1e-5


class MLSTM(Cell):
    def __init__(self, input_size: int, hidden_size: int, heads: int = 1, forget_bias: float = 3.0):
        super().__init__(input_size, hidden_size)
        if heads < 1 or hidden_size % heads:
            raise ValueError(f"hidden_size {hidden_size} must be a multiple of heads {heads}")
        self.heads, self.size = heads, hidden_size // heads
        self.qkvo = nn.Linear(input_size, 4 * hidden_size)
        self.gates = nn.Linear(input_size, 2 * heads)  # ĩ, f̃ per head
        with torch.no_grad():
            self.gates.bias[heads:].fill_(forget_bias)
        self.norm = nn.Parameter(torch.ones(heads, self.size))

    @classmethod
    def layer_block(cls, size: int) -> nn.Module:
        """Between stacked layers, xLSTM's residual block: layer norm and a gated MLP."""
        return ResidualGatedMLP(size)

    @property
    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.heads, self.size, self.size), (self.heads, self.size), (self.heads, 1))

    def sample_state(self, batch_size, generator=None):
        c, n, m = (
            torch.randn(batch_size, *shape, generator=generator) for shape in self.state_shapes
        )
        return 0.5 * c, 0.5 * n, m

    def step(self, x, state):
        c, n, m = state
        heads = (x.shape[0], self.heads, self.size)
        q, k, v, o = (part.reshape(heads) for part in self.qkvo(x).chunk(4, dim=-1))
        k = k / self.size**0.5
        i, f = self.gates(x).unsqueeze(-1).chunk(2, dim=1)  # (batch, heads, 1) each
        log_f = -F.softplus(-f)  # log σ(f): onnxruntime makes Log(Sigmoid) inexact for f ≪ 0
        m_new = torch.maximum(log_f + m, i)
        i_gate, f_gate = torch.exp(i - m_new), torch.exp(log_f + m - m_new)
        c = f_gate.unsqueeze(-1) * c + i_gate.unsqueeze(-1) * v.unsqueeze(-1) * k.unsqueeze(-2)
        n = f_gate * n + i_gate * k
        read = (c @ q.unsqueeze(-1)).squeeze(-1)  # C q
        scale = torch.maximum((n * q).sum(-1, keepdim=True).abs(), torch.exp(-m_new))
        h = torch.sigmoid(o) * self.head_norm(read / scale)
        return h.reshape(x.shape[0], self.hidden_size), (c, n, m_new)

    def head_norm(self, h):
        """Each head's output normalised over its d units, as xLSTM's block does (its
        MultiHeadLayerNorm): it also makes the read independent of the normaliser's scale,
        which near a zero of n·q would otherwise amplify rounding (written out, not ONNX's
        LayerNormalization, which not every runtime has)."""
        centred = h - h.mean(-1, keepdim=True)
        return centred / torch.sqrt(centred.square().mean(-1, keepdim=True) + EPS) * self.norm

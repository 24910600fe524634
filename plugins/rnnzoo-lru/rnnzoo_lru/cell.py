"""LRU, the Linear Recurrent Unit (Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu & De 2023,
"Resurrecting Recurrent Neural Networks for Long Sequences"): a complex diagonal linear
recurrence with a stable exponential parametrisation and normalised input,

    λ_j = exp(−exp(ν_j) + i·exp(θ_j))             (|λ_j| < 1 for any ν: always stable)
    h_t = λ ⊙ h_{t−1} + γ ⊙ (B x_t),   γ_j = √(1 − |λ_j|²)
    y_t = GELU(Re(C h_t) + D x_t)

ONNX has no complex type, so h is carried as its real parts followed by its imaginary parts —
a state of ``2 · hidden`` values — and multiplying by λ is a 2×2 rotation-and-scale of each pair:

    [re']   [ |λ|cos θ   −|λ|sin θ ] [re]
    [im'] = [ |λ|sin θ    |λ|cos θ ] [im]  + γ ⊙ B x_t

The eigenvalues start on a ring r ∈ [``r_min``, ``r_max``] with phases in [0, ``max_phase``]
(the paper: r ∈ [0.9, 0.999] for long-range tasks; the default here, [0.5, 0.99], remembers
about 100 steps — float32 rounding accumulates over about 1 / (1 − r) steps, and with r = 0.999
two runtimes' rounding drifts apart past the 1e-5 that exports are verified to). The GELU
stands in for the paper's MLP between blocks, so stacked LRUs are not one linear map. Good at:
long-range memory (the eigenvalues near the unit circle decay slowly and are trained directly),
stable training without gradient tricks, a cheap streaming step. Its parallel form (a scan with
complex powers) overflows in float32 for long sequences without chunking; this cell trains with
the step loop.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnzoo.cells.base import Cell


class LRU(Cell):
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        r_min: float = 0.5,
        r_max: float = 0.99,
        max_phase: float = 2 * math.pi,
    ):
        super().__init__(input_size, hidden_size)
        if not 0 <= r_min < r_max < 1:
            raise ValueError(f"need 0 <= r_min < r_max < 1, not r_min={r_min}, r_max={r_max}")
        n = hidden_size
        u1, u2 = torch.rand(n), torch.rand(n)
        radius = torch.sqrt(u1 * (r_max**2 - r_min**2) + r_min**2)  # uniform on the ring
        self.nu_log = nn.Parameter(torch.log(-torch.log(radius)))
        self.theta_log = nn.Parameter(torch.log(max_phase * u2 + 1e-4))
        self.b = nn.Linear(input_size, 2 * n, bias=False)  # B's real and imaginary parts
        with torch.no_grad():
            self.b.weight.normal_(0, 1 / math.sqrt(2 * input_size))
        self.c = nn.Linear(2 * n, hidden_size, bias=False)  # [Re C, −Im C]
        with torch.no_grad():
            self.c.weight.normal_(0, 1 / math.sqrt(n))
        self.d = nn.Linear(input_size, hidden_size)

    @property
    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        # [Re h, Im h] as one vector, not a (hidden, 2) matrix: tract 0.23.9's planner never
        # finished on the Scan of the (hidden, 2) form at batch 1 (measured: over 300 s)
        return ((2 * self.hidden_size,),)

    def step(self, x, state):
        (h,) = state
        modulus = torch.exp(-torch.exp(self.nu_log))
        theta = torch.exp(self.theta_log)
        gamma = torch.sqrt(1 - modulus.square())
        re, im = h.chunk(2, dim=-1)
        in_re, in_im = self.b(x).chunk(2, dim=-1)
        cos, sin = modulus * torch.cos(theta), modulus * torch.sin(theta)
        re, im = cos * re - sin * im + gamma * in_re, sin * re + cos * im + gamma * in_im
        h = torch.cat([re, im], dim=-1)
        return F.gelu(self.c(h) + self.d(x)), (h,)

"""IndRNN (Li, Li, Cook, Zhu & Gao 2018, "Independently Recurrent Neural Network (IndRNN):
Building A Longer and Deeper RNN"): each neuron sees only its own past, through one recurrent
weight, instead of a full recurrent matrix:

    h_t = relu(W x_t + u ⊙ h_{t−1} + b)

The gradient through time of neuron j is a product of u_j (and the ReLU's 0/1), so bounding
|u_j| keeps it from exploding or vanishing: after every optimiser step the recurrent weights
are clipped to [−``recurrent_max``, ``recurrent_max``] (``after_optimizer_step``). The paper
takes recurrent_max = 2^(1/T) for sequences of T steps, so a neuron can keep a memory across
the whole sequence; 1.0 (the default) never lets a state grow by itself. Good at: very long
sequences (the paper trains 5,000 steps and 21 layers), cheap steps (O(hidden) recurrence),
ReLU throughout — robust to quantisation.
"""

from typing import Literal

import torch
from torch import nn

from rnnzoo.cells.base import Cell


class IndRNN(Cell):
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        recurrent_max: float = 1.0,
        activation: Literal["relu", "tanh"] = "relu",
    ):
        super().__init__(input_size, hidden_size)
        if not recurrent_max > 0:
            raise ValueError(f"recurrent_max must be > 0, not {recurrent_max}")
        self.recurrent_max = recurrent_max
        self.activation = torch.relu if activation == "relu" else torch.tanh
        self.ih = nn.Linear(input_size, hidden_size)
        self.u = nn.Parameter(torch.empty(hidden_size).uniform_(0, recurrent_max))

    def step(self, x, state):
        (h,) = state
        h = self.activation(self.ih(x) + self.u * h)
        return h, (h,)

    def after_optimizer_step(self) -> None:
        self.u.clamp_(-self.recurrent_max, self.recurrent_max)

"""The basic recurrent neuron: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``."""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from rnnzoo.cells.base import OnnxOperator, State
from rnnzoo.cells.fused import FusedCell


class RNN(FusedCell):
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        activation: Literal["tanh", "relu"] = "tanh",
        bias: bool = True,
    ):
        super().__init__(input_size, hidden_size)
        if activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu', not {activation!r}")
        self.activation = activation
        self.rnn = nn.RNN(
            input_size, hidden_size, nonlinearity=activation, bias=bias, batch_first=True
        )

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        w_ih, w_hh, b_ih, b_hh = self.weights()
        pre = F.linear(x, w_ih, b_ih) + F.linear(state[0], w_hh, b_hh)
        h = pre.tanh() if self.activation == "tanh" else pre.relu()
        return h, (h,)

    def onnx_operator(self) -> OnnxOperator | None:
        """ONNX's RNN for tanh. With relu, the step graph (in a ``Scan``): onnx.reference
        knows no ``Relu`` activation for the operator and tract ignores it."""
        if self.activation != "tanh":
            return None
        return OnnxOperator("RNN", self.onnx_weights(), {"activations": ["Tanh"]})

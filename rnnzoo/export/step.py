"""The step model as a PyTorch module: ``(input, state_i…, streaming states…) → (output,
state_i_out…, …)``, what ``model.step.onnx`` is traced from and the edge targets convert."""

from __future__ import annotations

from torch import Tensor, nn


class StepGraph(nn.Module):
    def __init__(self, model: nn.Module, n_states: int):
        super().__init__()
        self.model, self.n_states = model, n_states

    def forward(self, x: Tensor, *states: Tensor):
        y, state, readout = self.model.step(x, states[: self.n_states], states[self.n_states :])
        return (y, *state, *readout)

"""The cell contract: one time step of a recurrent layer.

A cell declares the state it carries and implements one step. Everything else — unrolling over
time, stacking layers, running backwards, dropout between layers, masking padded steps, output
projection and export — is the library's job (``rnnzoo.recurrent``) and works for any cell that
keeps this contract:

- a subclass of ``Cell`` whose ``__init__(input_size, hidden_size, **params)`` takes the two
  sizes first; every further keyword with a type hint and a default is a parameter;
- ``state_sizes``: a *property* returning a tuple of ints, one per state tensor — ``(hidden,)``
  (the default) for ``h`` alone, ``(hidden, hidden)`` for an LSTM's ``(h, c)``;
- ``output_size``: a property returning an int, the feature size of ``y`` (default: hidden);
- ``initial_state(batch_size, device=None, dtype=None)``: a tuple with one ``(batch, size)``
  tensor per entry of ``state_sizes``; zeros by default, and exports need zeros (an exported
  graph starts from zero states unless its caller feeds them);
- ``step(x, state) -> (y, new_state)``: ``x`` is ``(batch, input_size)``, ``state`` a tuple of
  ``(batch, size)`` tensors; ``y`` is ``(batch, output_size)`` and ``new_state`` a tuple with
  the same shapes as ``state`` (``return h, (h,)`` for one state, never a bare tensor).

``rnnzoo.cells.contract`` checks all of this once, when a cell is built, by running one step on
a batch of 2; a mistake is one error naming the cell, its plugin and the fix.

A third-party cell, complete::

    class MGU(Cell):
        name = "mgu"
        description = "Minimal Gated Unit (Zhou et al. 2016)"

        def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
            super().__init__(input_size, hidden_size)
            self.ih = nn.Linear(input_size, 2 * hidden_size, bias=bias)
            self.hh = nn.Linear(hidden_size, hidden_size, bias=False)
            self.fh = nn.Linear(hidden_size, hidden_size, bias=False)

        def step(self, x, state):
            (h,) = state
            xf, xh = self.ih(x).chunk(2, dim=-1)
            f = torch.sigmoid(xf + self.fh(h))
            h = (1 - f) * h + f * torch.tanh(xh + self.hh(f * h))
            return h, (h,)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

State = tuple[Tensor, ...]


@dataclass
class OnnxOperator:
    """How a cell maps onto one of ONNX's recurrent operators (one direction, one layer).

    ``inputs`` are ``W, R, B`` (and ``P`` for peepholes) in ONNX's gate order and layout, each
    with a leading direction axis of size 1; ``attributes`` are the operator's attributes besides
    ``hidden_size`` (e.g. ``activations``, ``linear_before_reset``).
    """

    op_type: str  # "RNN", "LSTM" or "GRU"
    inputs: list[Tensor]
    attributes: dict[str, Any] = field(default_factory=dict)


def reorder_gates(weight: Tensor, order: list[int]) -> Tensor:
    """Permute the gate blocks stacked along the first axis (PyTorch's order → ONNX's)."""
    gates = weight.chunk(len(order), dim=0)
    return torch.cat([gates[i] for i in order], dim=0)


class Cell(nn.Module):
    """Base class of every recurrent cell, built-in or third-party.

    ``__init__`` takes ``input_size`` and ``hidden_size`` first; every further keyword argument
    with a type hint and a default is a parameter that ``rnnzoo info`` shows and
    ``--param KEY=VALUE`` sets.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """The feature size of each state tensor, one int per tensor; default: one hidden state.
        Override it as a property (``@property``), not a method."""
        return (self.hidden_size,)

    @property
    def output_size(self) -> int:
        """The feature size of ``y_t``."""
        return self.hidden_size

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        """The state before the first step; zeros unless a cell says otherwise."""
        return tuple(
            torch.zeros(batch_size, size, device=device, dtype=dtype) for size in self.state_sizes
        )

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step: ``x`` is ``(batch, input_size)``, ``state`` a tuple of ``(batch, size)``
        tensors; returns ``(y, new_state)``, ``y`` ``(batch, output_size)`` and ``new_state`` a
        tuple shaped like ``state``."""
        raise NotImplementedError

    def onnx_operator(self) -> OnnxOperator | None:
        """Optional: the ONNX recurrent operator that computes this cell. Without one, the
        exporter wraps the cell's step graph in an ONNX ``Scan``."""
        return None

    # --- optional: a fused whole-sequence kernel (built-ins use PyTorch's nn.RNN/LSTM/GRU) ---

    @property
    def has_fused(self) -> bool:
        """True when ``fused_sequence`` may be used instead of the step loop."""
        return False

    def fused_sequence(
        self, x: Tensor, state: State, lengths: Tensor | None
    ) -> tuple[Tensor, State]:
        """Run a whole ``(batch, time, input)`` sequence at once; must equal the step loop,
        including for padded steps (zero output, state frozen after each sequence's length)."""
        raise NotImplementedError

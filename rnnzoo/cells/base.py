"""The cell contract: one time step of a recurrent layer.

A cell declares the state it carries and implements one step. Everything else — unrolling over
time, stacking layers, running backwards, dropout between layers, masking padded steps, output
projection and export — is the library's job (``rnnzoo.recurrent``) and works for any cell that
keeps this contract:

- a subclass of ``Cell`` whose ``__init__(input_size, hidden_size, **params)`` takes the two
  sizes first; every further keyword with a type hint and a default is a parameter;
- ``state_sizes``: a *property* returning a tuple of ints, one per state tensor — ``(hidden,)``
  (the default) for ``h`` alone, ``(hidden, hidden)`` for an LSTM's ``(h, c)``; or, for state
  tensors that are not vectors, ``state_shapes``: one shape (without the batch axis) per state
  tensor — ``((heads, d, d), (heads, d))`` for a matrix memory per head and its normaliser.
  The cell sees its states in these shapes; a stack of layers (``rnnzoo.recurrent``) and the
  exported graphs carry each one flattened, ``(batch, prod(shape))``;
- ``output_size``: a property returning an int, the feature size of ``y`` (default: hidden);
- ``initial_state(batch_size, device=None, dtype=None)``: a tuple with one ``(batch, *shape)``
  tensor per state; zeros by default (a learned one exports too: the exported graphs' states
  are then offsets from it);
- ``step(x, state) -> (y, new_state)``: ``x`` is ``(batch, input_size)``, ``state`` a tuple of
  ``(batch, *shape)`` tensors; ``y`` is ``(batch, output_size)`` and ``new_state`` a tuple with
  the same shapes as ``state`` (``return h, (h,)`` for one state, never a bare tensor).

Optional, where a cell needs them: ``sample_state`` (valid states mid-sequence, for checks:
a normaliser that must stay positive) and ``state_from`` (a valid state from any values, for a
decoder's bridge), ``after_optimizer_step`` (a constraint on the weights,
applied after every optimiser step), ``layer_block`` (a block between stacked layers:
normalisation, a gated MLP — ``rnnzoo.cells.blocks``), and a parallel whole-sequence form
(``has_fused`` and ``fused_sequence``: a fused kernel or a scan) that must equal the step loop.

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

import math
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
    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The shape of each state tensor, without the batch axis: one vector per entry of
        ``state_sizes`` unless a cell declares shapes. Override it as a property."""
        if type(self).state_sizes is not Cell.state_sizes:  # the cell declares sizes
            return tuple((size,) for size in self.state_sizes)
        return ((self.hidden_size,),)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """The feature size of each state tensor, one int per tensor (a shaped state counts
        all its elements); default: one hidden state. Override it as a property
        (``@property``), not a method."""
        return tuple(math.prod(shape) for shape in self.state_shapes)

    @property
    def output_size(self) -> int:
        """The feature size of ``y_t``."""
        return self.hidden_size

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        """The state before the first step; zeros unless a cell says otherwise."""
        return tuple(
            torch.zeros(batch_size, *shape, device=device, dtype=dtype)
            for shape in self.state_shapes
        )

    def sample_state(self, batch_size: int, generator: torch.Generator | None = None) -> State:
        """Valid states as they may be mid-sequence, for checks (exports feed them to the
        step graph): ``0.5 · N(0, 1)`` everywhere unless the cell constrains its states."""
        return tuple(
            0.5 * torch.randn(batch_size, *shape, generator=generator)
            for shape in self.state_shapes
        )

    def state_from(self, raw: State) -> State:
        """A valid state from unconstrained values, shaped like the state (a decoder's first
        state from an encoder's bridge): ``tanh`` of each by default; a cell with constrained
        states maps them into range (sLSTM: a positive normaliser)."""
        return tuple(torch.tanh(r) for r in raw)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step: ``x`` is ``(batch, input_size)``, ``state`` a tuple of
        ``(batch, *shape)`` tensors; returns ``(y, new_state)``, ``y`` ``(batch,
        output_size)`` and ``new_state`` a tuple shaped like ``state``."""
        raise NotImplementedError

    def after_optimizer_step(self) -> None:
        """Optional: called after every optimiser step (e.g. IndRNN clips its recurrent
        weights); it runs under ``torch.no_grad()``."""

    @classmethod
    def layer_block(cls, size: int) -> nn.Module | None:
        """Optional: the block a stack of this cell puts between two layers, on the lower
        layer's ``size`` features (both directions'); it maps ``(..., size)`` to ``(...,
        size)`` one time step at a time (``rnnzoo.cells.blocks``). None: no block."""
        return None

    def onnx_operator(self) -> OnnxOperator | None:
        """Optional: the ONNX recurrent operator that computes this cell. Without one, the
        exporter wraps the cell's step graph in an ONNX ``Scan``."""
        return None

    # --- optional: a parallel whole-sequence form (a fused kernel, a scan) ---

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

    def loop(self, x: Tensor, state: State, lengths: Tensor | None = None) -> tuple[Tensor, State]:
        """``step`` over every time step of ``x`` (backpropagation through time); a padded
        step (``t >= lengths[b]``) outputs zeros and keeps the state. The reference that a
        parallel form must equal."""
        outputs = []
        for t in range(x.shape[1]):
            y, new_state = self.step(x[:, t], state)
            if lengths is None:
                state = new_state
            else:
                valid = (lengths.to(x.device) > t).unsqueeze(-1)
                y = y * valid.to(y.dtype)
                state = tuple(
                    torch.where(valid.view(-1, *[1] * (new.ndim - 1)), new, old)
                    for new, old in zip(new_state, state)
                )
            outputs.append(y)
        return torch.stack(outputs, dim=1), state

    # --- flat states: how stacks and exported graphs carry them ---

    def shaped(self, state: State) -> State:
        """``(batch, size)`` states → the cell's ``(batch, *shape)``."""
        return tuple(
            s if len(shape) == 1 else s.reshape(s.shape[0], *shape)
            for s, shape in zip(state, self.state_shapes)
        )

    @staticmethod
    def flat(state: State) -> State:
        """The cell's ``(batch, *shape)`` states → ``(batch, size)``."""
        return tuple(s if s.ndim == 2 else s.reshape(s.shape[0], -1) for s in state)

    def flat_step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """``step`` on flat states."""
        y, new_state = self.step(x, self.shaped(state))
        return y, self.flat(new_state)

"""Unrolling any cell over time: deep stacks, both directions, dropout and the cell family's
block (``Cell.layer_block``) between layers, masking of padded steps, and an optional output
projection.

Shapes are ``(batch, time, features)``. The state is a tuple with one tensor per state slot of
the cell, each ``(layers * directions, batch, size)`` — the layout of ``nn.LSTM``'s ``(h, c)``;
a cell's state that is not a vector (``Cell.state_shapes``) is carried flattened.
A padded step (``t >= lengths[b]``) leaves the state unchanged and outputs zeros.

A cell may learn its initial state. Exported graphs start from zeros wherever their caller
does not feed a state, so the exporter sets ``states_from_initial``: the states the stack takes
and returns are then offsets from the initial state (zeros *are* the initial state), which
every runtime and caller that starts from zeros gets right without knowing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from rnnzoo.cells.base import Cell, State
from rnnzoo.cells.contract import build_cell, layer_blocks
from rnnzoo.errors import UserError

# (cell, x, state, lengths, backward) -> (y, final state): how the exporter runs a cell
SequenceRunner = Callable[[Cell, Tensor, State, "Tensor | None", bool], tuple[Tensor, State]]
# (cell, x, state) -> (y, new state), states (1, batch, size): how the exporter runs one step
StepRunner = Callable[[Cell, Tensor, State], tuple[Tensor, State]]


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence within its own length; padded steps stay where they are."""
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


def layer_step(cell: Cell, x: Tensor, state: State) -> tuple[Tensor, State]:
    """``cell.step`` on one layer's slice of the stack's state, ``(1, batch, size)`` each."""
    y, new_state = cell.flat_step(x, tuple(s[0] for s in state))
    return y, tuple(s.unsqueeze(0) for s in new_state)


class Recurrent(nn.Module):
    """A stack of ``num_layers`` recurrent layers of any registered cell.

    ``fused`` lets cells with a fused whole-sequence kernel use it; set it to ``False`` to force
    the step-by-step path (the two give the same numbers).
    """

    def __init__(
        self,
        cell: str | type[Cell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        proj_size: int = 0,
        fused: bool = True,
        **cell_params: Any,
    ):
        super().__init__()
        if num_layers < 1:
            raise UserError(f"num_layers must be at least 1, not {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), not {dropout}")
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.fused = fused
        # Replace how each cell runs over a whole sequence and one step (the exporter sets them).
        self.sequence_runner: SequenceRunner | None = None
        self.step_runner: StepRunner = layer_step
        self.states_from_initial = False
        self.cells = nn.ModuleList()
        size = input_size
        for _ in range(num_layers):
            for _ in range(self.num_directions):
                if self.cells:  # the same class and parameters as the first cell
                    self.cells.append(type(self.cells[0])(size, hidden_size, **cell_params))
                else:  # resolved, and checked against the contract, once
                    self.cells.append(build_cell(cell, size, hidden_size, **cell_params))
            size = self.num_directions * self.cells[-1].output_size
        # the cell family's block between two layers (Cell.layer_block), if it declares one
        name = cell if isinstance(cell, str) else None
        self.blocks = nn.ModuleList(layer_blocks(type(self.cells[0]), size, num_layers - 1, name))
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(size, proj_size) if proj_size else None
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = proj_size or size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return self.cells[0].state_sizes

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        per_cell = [c.flat(c.initial_state(batch_size, device, dtype)) for c in self.cells]
        return tuple(torch.stack(slot) for slot in zip(*per_cell))

    def sample_state(self, batch_size: int, generator: torch.Generator | None = None) -> State:
        """Valid states mid-sequence (``Cell.sample_state``), flat, in the stack's layout
        (offsets from the initial state under ``states_from_initial``)."""
        per_cell = [c.flat(c.sample_state(batch_size, generator)) for c in self.cells]
        return self._relative(tuple(torch.stack(slot) for slot in zip(*per_cell)), -1)

    def start_state(self, batch_size: int) -> State:
        """What a caller feeds to start a sequence: the initial state, or zeros under
        ``states_from_initial``."""
        return self._relative(self.initial_state(batch_size), -1)

    @property
    def learns_initial_state(self) -> bool:
        """Whether any cell's initial state is not zeros."""
        with torch.no_grad():
            return any(bool(s.ne(0).any()) for s in self.initial_state(1))

    def _relative(self, state: State, sign: int) -> State:
        """Under ``states_from_initial``: ``sign`` +1 turns offsets into states, −1 states
        into offsets (the initial state of one row, broadcast over the batch)."""
        if not self.states_from_initial:
            return state
        start = self.initial_state(1, state[0].device, state[0].dtype)
        return tuple(s + sign * o for s, o in zip(state, start))

    def run_cell(
        self,
        cell: Cell,
        x: Tensor,
        state: State,
        lengths: Tensor | None,
        backward: bool = False,
    ) -> tuple[Tensor, State]:
        """One cell over whole sequences; ``backward`` runs each from its last valid step to
        its first (the outputs stay in time order)."""
        if self.sequence_runner is not None:
            return self.sequence_runner(cell, x, state, lengths, backward)
        if backward:
            x = reverse_padded(x, lengths)
        state = cell.shaped(state)
        if self.fused and cell.has_fused:
            y, state = cell.fused_sequence(x, state, lengths)
        else:
            y, state = cell.loop(x, state, lengths)
        return (reverse_padded(y, lengths) if backward else y), cell.flat(state)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step through every layer, for streaming: ``x`` is ``(batch, input_size)``.

        Only a unidirectional stack can stream (the backward direction needs the future).
        A one-layer stack's state goes to its cell as it is, so an exported step graph passes
        it straight through the cell's operator.
        """
        if self.num_directions != 1:
            raise ValueError("a bidirectional stack cannot run one step at a time")
        state = self._relative(state, +1)
        new_state = []
        for layer, cell in enumerate(self.cells):
            if layer > 0 and self.blocks:
                x = self.blocks[layer - 1](x)
            layer_state = (
                state if self.num_layers == 1 else tuple(s[layer : layer + 1] for s in state)
            )
            x, layer_state = self.step_runner(cell, x, layer_state)
            new_state.append(layer_state)
        if self.proj is not None:
            x = self.proj(x)
        if self.num_layers == 1:
            return x, self._relative(new_state[0], -1)
        return x, self._relative(tuple(torch.cat(slot) for slot in zip(*new_state)), -1)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """``x``: ``(batch, time, input_size)``; ``lengths``: ``(batch,)`` valid steps, or None.

        Returns the last layer's outputs ``(batch, time, output_size)`` and the final state.
        """
        if state is None:
            state = self.initial_state(x.shape[0], x.device, x.dtype)
        else:
            state = self._relative(state, +1)
        final: list[State] = []
        for layer in range(self.num_layers):
            if layer > 0:
                x = self.dropout(self.blocks[layer - 1](x) if self.blocks else x)
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                cell_state = tuple(s[index] for s in state)
                cell = self.cells[index]
                y, cell_state = self.run_cell(cell, x, cell_state, lengths, direction == 1)
                outputs.append(y)
                final.append(cell_state)
            x = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
        if self.proj is not None:
            x = self.proj(x)
            if lengths is not None:
                x = x * (
                    torch.arange(x.shape[1], device=x.device) < lengths.to(x.device).unsqueeze(1)
                ).unsqueeze(-1).to(x.dtype)
        return x, self._relative(tuple(torch.stack(slot) for slot in zip(*final)), -1)

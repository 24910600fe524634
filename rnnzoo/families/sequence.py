"""The sequence family: ``task encoder → recurrent stack of a cell → task head``, for
sequence → sequence tasks (the head at every step) and sequence → vector tasks (the stack's
outputs read out once per sequence: the last valid step of each direction, or the mean over
valid steps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnzoo.cells.base import State
from rnnzoo.errors import UserError
from rnnzoo.families.base import Family
from rnnzoo.recurrent import Recurrent
from rnnzoo.tasks.base import Task


def readout(outputs: Tensor, lengths: Tensor | None, how: str, num_directions: int) -> Tensor:
    """One vector per sequence from ``(batch, time, features)`` outputs.

    ``last``: the forward direction's last valid step and, when bidirectional, the backward
    direction's first step (each direction's final output). ``mean``: the mean over valid steps.
    """
    batch, steps, _ = outputs.shape
    if lengths is None:
        lengths = torch.full((batch,), steps, device=outputs.device, dtype=torch.long)
    lengths = lengths.to(outputs.device)
    if how == "mean":
        return outputs.sum(1) / lengths.unsqueeze(1).to(outputs.dtype)
    if how != "last":
        raise ValueError(f"readout must be 'last' or 'mean', not {how!r}")
    last = outputs[torch.arange(batch, device=outputs.device), lengths - 1]
    if num_directions == 1:
        return last
    half = outputs.shape[-1] // 2
    return torch.cat([last[:, :half], outputs[:, 0, half:]], dim=-1)


class SequenceModel(nn.Module):
    """The whole trainable model: encoder, recurrent stack, head. ``readout`` is ``None``
    when the head runs at every step (seq2seq; padded steps then output zeros), else
    ``"last"`` or ``"mean"``."""

    def __init__(
        self, encoder: nn.Module, rnn: Recurrent, head: nn.Module, readout: str | None = None
    ):
        super().__init__()
        self.encoder = encoder
        self.rnn = rnn
        self.head = head
        self.readout = readout

    @property
    def per_step(self) -> bool:
        """Whether the model answers at every step (else once per sequence)."""
        return self.readout is None

    def forward(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        state: State | None = None,
        return_state: bool = False,
    ) -> Tensor | tuple[Tensor, State]:
        """The prediction for ``x`` ``(batch, time, ...)``; with ``return_state``, also the
        stack's final state (truncated BPTT and export carry it)."""
        outputs, state = self.rnn(self.encoder(x), lengths, state)
        if self.readout is not None:
            directions = 1 if self.rnn.proj is not None else self.rnn.num_directions
            outputs = readout(outputs, lengths, self.readout, directions)
        prediction = self.head(outputs)
        if self.readout is None and lengths is not None:
            # a padded step has no answer: zeros, not the head's bias
            steps = torch.arange(prediction.shape[1], device=prediction.device)
            valid = steps < lengths.to(prediction.device).unsqueeze(1)
            prediction = prediction * valid.reshape(*valid.shape, 1).to(prediction.dtype)
        return (prediction, state) if return_state else prediction

    @property
    def streaming_state_sizes(self) -> tuple[int, ...]:
        """Feature sizes of the tensors ``step`` carries besides the stack's state: a running
        sum and a step count for the ``mean`` readout."""
        return (self.rnn.output_size, 1) if self.readout == "mean" else ()

    def step(
        self, x: Tensor, state: State, readout_state: State = ()
    ) -> tuple[Tensor, State, State]:
        """One time step for streaming: ``x`` is ``(batch, features)``; returns the prediction
        as if the sequence ended here, the stack's new state and the readout's new state."""
        if not isinstance(self.encoder, nn.Identity):  # (no nodes for it in a step graph)
            x = self.encoder(x.unsqueeze(1))[:, 0]
        y, state = self.rnn.step(x, state)
        if readout_state:
            total, count = readout_state
            readout_state = (total + y, count + 1)
            y = readout_state[0] / readout_state[1]
        return self.head(y), state, readout_state


class SequenceFamily(Family):
    name = "sequence"

    def check(self, config: Any, task: Task) -> None:
        if config.tbptt and (task.kind != "seq2seq" or config.bidirectional):
            raise UserError("--tbptt needs a seq2seq task and a unidirectional model")

    def build(self, task: Task, config: Any) -> SequenceModel:
        if task.input_size < 1 or task.output_size < 1:
            raise UserError(
                f"task {type(task).__name__} has input_size {task.input_size} and output_size "
                f"{task.output_size}; a {task.kind} task sets both (see rnnzoo/tasks/base.py)"
            )
        rnn = Recurrent(
            config.cell,
            task.input_size,
            config.hidden,
            num_layers=config.layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            **config.cell_params,
        )
        how = None if task.kind == "seq2seq" else task.readout
        return SequenceModel(task.encoder(), rnn, task.head(rnn.output_size), how)

    def train_forward(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        lengths: Tensor | None,
        state: State | None,
    ) -> tuple[Tensor, State | None]:
        return model(x, lengths, state, return_state=True)

    @torch.no_grad()
    def generate(self, model: nn.Module, task: Task, seed: Tensor, steps: int) -> Tensor:
        """The "creative" RNN: roll a one-step-ahead forecaster forward from a seed window.

        ``seed`` is ``(time, features)``; each new value is the model's forecast for the step
        after the current window, appended, and the window slides on. Returns
        ``(steps, features)``.
        """
        if task.kind != "seq2seq" or task.input_size != task.output_size:
            return super().generate(model, task, seed, steps)
        model.eval()
        window = seed.unsqueeze(0)
        values = []
        for _ in range(steps):
            value = model(window)[:, -1:]
            values.append(value[0, 0])
            window = torch.cat([window[:, 1:], value], dim=1)
        return torch.stack(values)

    def export(self, run: Any, out: Path, options: Any) -> Any:
        from rnnzoo.export.sequence import export_sequence_model

        return export_sequence_model(run, out, options)

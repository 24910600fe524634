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


def scaled(prediction: Tensor, level: Tensor) -> Tensor:
    """``prediction`` times ``level``, whose features repeat across the prediction's (the
    ``horizon`` values of each target in turn)."""
    repeats = prediction.shape[-1] // level.shape[-1]
    return prediction * level.repeat(*([1] * (level.dim() - 1)), repeats)


class SequenceModel(nn.Module):
    """The whole trainable model: encoder, recurrent stack, head. ``readout`` is ``None``
    when the head runs at every step (seq2seq; padded steps then output zeros), else
    ``"last"`` or ``"mean"``.

    An encoder may stream (``streaming_state_sizes`` and ``step``: what it carries from step
    to step) and may scale (``levels(x)``: a causal level per step, ``step_level(state)`` the
    same from its streaming state): the head's answer is then multiplied by the level where
    it is read, so a forecaster works in each window's own units."""

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
        if hasattr(self.encoder, "levels"):  # a scaling encoder: back to the data's units
            level = self.encoder.levels(x)
            if self.readout is not None:
                level = readout(level, lengths, "last", 1)
            prediction = scaled(prediction, level)
        if self.readout is None and lengths is not None:
            # a padded step has no answer: zeros, not the head's bias
            steps = torch.arange(prediction.shape[1], device=prediction.device)
            valid = steps < lengths.to(prediction.device).unsqueeze(1)
            prediction = prediction * valid.reshape(*valid.shape, 1).to(prediction.dtype)
        return (prediction, state) if return_state else prediction

    @property
    def encoder_state_sizes(self) -> tuple[int, ...]:
        """Feature sizes of what a streaming encoder carries (a convolution's last inputs)."""
        return tuple(getattr(self.encoder, "streaming_state_sizes", ()))

    @property
    def streaming_state_sizes(self) -> tuple[int, ...]:
        """Feature sizes of the tensors ``step`` carries besides the stack's state: the
        encoder's, then a running sum and a step count for the ``mean`` readout."""
        readout = (self.rnn.output_size, 1) if self.readout == "mean" else ()
        return (*self.encoder_state_sizes, *readout)

    def step(
        self, x: Tensor, state: State, streaming_state: State = ()
    ) -> tuple[Tensor, State, State]:
        """One time step for streaming: ``x`` is ``(batch, features)``; returns the prediction
        as if the sequence ended here, the stack's new state and the new ``streaming_state``
        (the encoder's, then the readout's)."""
        split = len(self.encoder_state_sizes)
        encoder_state, readout_state = tuple(streaming_state[:split]), streaming_state[split:]
        if hasattr(self.encoder, "step"):
            x, encoder_state = self.encoder.step(x, encoder_state)
        elif not isinstance(self.encoder, nn.Identity):  # (no nodes for it in a step graph)
            x = self.encoder(x.unsqueeze(1))[:, 0]
        y, state = self.rnn.step(x, state)
        if readout_state:
            total, count = readout_state
            readout_state = (total + y, count + 1)
            y = readout_state[0] / readout_state[1]
        prediction = self.head(y)
        if hasattr(self.encoder, "levels"):
            prediction = scaled(prediction, self.encoder.step_level(encoder_state))
        return prediction, state, (*encoder_state, *readout_state)

    def random_streaming_state(
        self, batch: int, generator: torch.Generator, inputs: Tensor | None = None
    ) -> State:
        """A ``streaming_state`` mid-stream, to check that a step graph uses what it is fed:
        the encoder's after the real ``inputs`` ``(batch, steps, features)`` (a state it can
        reach: a scaling encoder's running level of real values, not noise that makes the
        level near zero and the step ill-conditioned), random buffers without them; a random
        running sum over 1–5 steps."""
        if inputs is not None and self.encoder_state_sizes:
            state = [torch.zeros(batch, n) for n in self.encoder_state_sizes]
            for t in range(inputs.shape[1]):
                _, state = self.encoder.step(inputs[:, t], tuple(state))
            state = list(state)
        else:
            state = [torch.randn(batch, n, generator=generator) for n in self.encoder_state_sizes]
        if self.readout == "mean":
            state.append(torch.randn(batch, self.rnn.output_size, generator=generator))
            state.append(torch.randint(1, 6, (batch, 1), generator=generator).float())
        return tuple(state)


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

        def next_steps(window: Tensor) -> Tensor | None:
            if task.kind == "seq2seq" and task.input_size == task.output_size:
                return model(window)[:, -1:]
            return task.as_next_steps(model(window)) if task.kind == "seq2vec" else None

        model.eval()
        window = seed.unsqueeze(0)
        values: list[Tensor] = []
        while len(values) < steps:
            new = next_steps(window)
            if new is None:
                return super().generate(model, task, seed, steps)
            values.extend(new[0])
            window = torch.cat([window[:, new.shape[1] :], new], dim=1)
        return torch.stack(values[:steps])

    def export(self, run: Any, out: Path, options: Any) -> Any:
        from rnnzoo.export.sequence import export_sequence_model

        return export_sequence_model(run, out, options)

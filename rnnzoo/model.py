"""A model is ``task encoder → recurrent stack of a cell → task head``.

For seq2seq tasks the head runs at every step; for seq2vec tasks the stack's outputs are read
out once per sequence (the last valid step of each direction, or the mean over valid steps).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnzoo import text
from rnnzoo.cells.base import State
from rnnzoo.recurrent import Recurrent


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
    """The whole trainable model: encoder, recurrent stack, head."""

    def __init__(
        self, encoder: nn.Module, rnn: Recurrent, head: nn.Module, kind: str, readout: str = "last"
    ):
        super().__init__()
        self.encoder = encoder
        self.rnn = rnn
        self.head = head
        self.kind = kind
        self.readout = readout

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
        if self.kind == "seq2vec":
            uses_projection = self.rnn.proj is not None
            directions = 1 if uses_projection else self.rnn.num_directions
            outputs = readout(outputs, lengths, self.readout, directions)
        prediction = self.head(outputs)
        return (prediction, state) if return_state else prediction

    @property
    def streaming_state_sizes(self) -> tuple[int, ...]:
        """Feature sizes of the tensors ``step`` carries besides the stack's state: a running
        sum and a step count for the ``mean`` readout of a seq2vec model."""
        if self.kind == "seq2vec" and self.readout == "mean":
            return (self.rnn.output_size, 1)
        return ()

    def step(
        self, x: Tensor, state: State, readout_state: State = ()
    ) -> tuple[Tensor, State, State]:
        """One time step for streaming: ``x`` is ``(batch, features)``; returns the prediction
        as if the sequence ended here, the stack's new state and the readout's new state."""
        y, state = self.rnn.step(self.encoder(x.unsqueeze(1))[:, 0], state)
        if readout_state:
            total, count = readout_state
            readout_state = (total + y, count + 1)
            y = readout_state[0] / readout_state[1]
        return self.head(y), state, readout_state


class TokenDecoder(nn.Module):
    """The decoding half shared by encoder–decoder and vector → sequence models: a stack of
    the cell started from ``encode(source)``'s state emits the target one token at a time —
    fed the true previous token while training (teacher forcing), its own when decoding
    (greedy). Subclasses define ``encode``."""

    kind = ""
    BOS = text.BOS

    def __init__(
        self,
        task: Any,
        cell: str,
        hidden: int,
        layers: int = 1,
        dropout: float = 0.0,
        cell_params: dict[str, Any] | None = None,
        embedding: int = 32,
    ):
        super().__init__()
        self.target_embedding = nn.Embedding(len(task.target_vocab), embedding)
        self.decoder = Recurrent(
            cell, embedding, hidden, num_layers=layers, dropout=dropout, **(cell_params or {})
        )
        self.head = nn.Linear(self.decoder.output_size, len(task.target_vocab))
        self.target_length = task.target_length

    def encode(self, source: Tensor, lengths: Tensor | None = None) -> State:
        """The decoder's first state for ``source``."""
        raise NotImplementedError

    def decode_step(self, token: Tensor, state: State) -> tuple[Tensor, State]:
        """Scores of the next token after ``token`` ``(batch,)``, and the new state."""
        y, state = self.decoder.step(self.target_embedding(token), state)
        return self.head(y), state

    def forward(
        self, source: Tensor, lengths: Tensor | None = None, target: Tensor | None = None
    ) -> Tensor:
        """Scores ``(batch, target_length, vocab)``: teacher-forced when ``target`` is given,
        else greedy decoding."""
        state = self.encode(source, lengths)
        start = torch.full((len(source), 1), self.BOS, dtype=torch.long, device=source.device)
        if target is not None:
            inputs = torch.cat([start, target[:, :-1]], dim=1)
            outputs, _ = self.decoder(self.target_embedding(inputs), None, state)
            return self.head(outputs)
        token, scores = start[:, 0], []
        for _ in range(self.target_length):
            logits, state = self.decode_step(token, state)
            scores.append(logits)
            token = logits.argmax(-1)
        return torch.stack(scores, dim=1)


class EncoderDecoder(TokenDecoder):
    """Token sequence → token sequence: an encoder stack of the same cell reads the source and
    its final state starts the decoder. Both directions of a bidirectional encoder are summed
    into the decoder's state."""

    kind = "encdec"

    def __init__(
        self,
        task: Any,
        cell: str,
        hidden: int,
        layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        cell_params: dict[str, Any] | None = None,
        embedding: int = 32,
    ):
        super().__init__(task, cell, hidden, layers, dropout, cell_params, embedding)
        self.source_embedding = nn.Embedding(
            len(task.source_vocab), embedding, padding_idx=text.PAD
        )
        self.encoder = Recurrent(
            cell,
            embedding,
            hidden,
            num_layers=layers,
            bidirectional=bidirectional,
            dropout=dropout,
            **(cell_params or {}),
        )

    def encode(self, source: Tensor, lengths: Tensor | None = None) -> State:
        _, state = self.encoder(self.source_embedding(source), lengths)
        directions = self.encoder.num_directions
        if directions == 1:
            return state
        return tuple(s.unflatten(0, (-1, directions)).sum(1) for s in state)


class VectorDecoder(TokenDecoder):
    """Vector → token sequence (image captioning): the task's encoder turns the input into
    one vector, and a linear map with tanh turns that into the decoder's first state (every
    layer, every state tensor)."""

    kind = "vec2seq"

    def __init__(self, task: Any, *args: Any, **kwargs: Any):  # TokenDecoder's parameters
        super().__init__(task, *args, **kwargs)
        self.encoder = task.encoder()
        decoder = self.decoder
        self.bridge = nn.Linear(task.input_size, decoder.num_layers * sum(decoder.state_sizes))

    def encode(self, source: Tensor, lengths: Tensor | None = None) -> State:
        vector = torch.tanh(self.bridge(self.encoder(source)))
        layers = self.decoder.num_layers
        stacked = vector.unflatten(1, (layers, -1)).transpose(0, 1)  # (layers, batch, ·)
        return tuple(s.contiguous() for s in stacked.split(self.decoder.state_sizes, dim=-1))


def build_model(
    task: Any,
    cell: str,
    hidden: int,
    layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    cell_params: dict[str, Any] | None = None,
) -> nn.Module:
    """Build the model for a loaded task (its ``input_size``/``output_size`` are known)."""
    if task.kind == "encdec":
        return EncoderDecoder(task, cell, hidden, layers, bidirectional, dropout, cell_params)
    if task.kind == "vec2seq":
        return VectorDecoder(task, cell, hidden, layers, dropout, cell_params)
    if task.kind not in ("seq2seq", "seq2vec"):
        raise NotImplementedError(f"models for {task.kind} tasks are not built yet")
    rnn = Recurrent(
        cell,
        task.input_size,
        hidden,
        num_layers=layers,
        bidirectional=bidirectional,
        dropout=dropout,
        **(cell_params or {}),
    )
    return SequenceModel(task.encoder(), rnn, task.head(rnn.output_size), task.kind, task.readout)


@torch.no_grad()
def generate(model: SequenceModel, seed: Tensor, steps: int) -> Tensor:
    """The "creative" RNN: roll a one-step-ahead forecaster forward from a seed window.

    ``seed`` is ``(time, features)``; each new value is the model's forecast for the step after
    the current window, appended, and the window slides on. Returns ``(steps, features)``.
    """
    if model.kind != "seq2seq":
        raise ValueError("generation needs a seq2seq forecasting model")
    model.eval()
    window = seed.unsqueeze(0)
    values = []
    for _ in range(steps):
        value = model(window)[:, -1:]
        values.append(value[0, 0])
        window = torch.cat([window[:, 1:], value], dim=1)
    return torch.stack(values)

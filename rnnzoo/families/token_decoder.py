"""The token-decoder family: a stack of the cell, started from an encoding of the source,
emits the target one token at a time — for encoder–decoder tasks (token sequence → token
sequence: an encoder stack of the same cell reads the source) and vector → sequence tasks
(the task's encoder turns one input, e.g. an image, into the decoder's first state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnzoo import text
from rnnzoo.cells.base import State
from rnnzoo.errors import UserError
from rnnzoo.families.base import Family
from rnnzoo.recurrent import Recurrent
from rnnzoo.tasks.base import Task


class TokenDecoder(nn.Module):
    """The decoding half shared by encoder–decoder and vector → sequence models: a stack of
    the cell started from ``encode(source)``'s state emits the target one token at a time —
    fed the true previous token while training (teacher forcing), its own when decoding
    (greedy). Subclasses define ``encode``."""

    BOS = text.BOS
    # whether the source is a sequence of tokens (with lengths), or one input per example
    reads_tokens = True

    def __init__(
        self,
        task: Task,
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

    def __init__(
        self,
        task: Task,
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
    one vector, and a linear map turns that into the decoder's first state (every layer, every
    state tensor), made valid by the cell (``Cell.state_from``: tanh by default)."""

    reads_tokens = False

    def __init__(self, task: Task, *args: Any, **kwargs: Any):  # TokenDecoder's parameters
        super().__init__(task, *args, **kwargs)
        self.encoder = task.encoder()
        decoder = self.decoder
        self.bridge = nn.Linear(task.input_size, decoder.num_layers * sum(decoder.state_sizes))

    def encode(self, source: Tensor, lengths: Tensor | None = None) -> State:
        raw = self.bridge(self.encoder(source))
        cells = self.decoder.cells
        per_layer = raw.unflatten(1, (len(cells), -1)).unbind(1)  # one (batch, ·) per layer
        states = [
            cell.flat(cell.state_from(cell.shaped(part.split(cell.state_sizes, dim=-1))))
            for cell, part in zip(cells, per_layer)
        ]
        return tuple(torch.stack(slot) for slot in zip(*states))


class TokenDecoderFamily(Family):
    name = "token_decoder"

    def check(self, config: Any, task: Task) -> None:
        super().check(config, task)
        if config.bidirectional and task.kind == "vec2seq":
            raise UserError("--bidirectional needs a sequence to read; a vec2seq model has none")

    def build(self, task: Task, config: Any) -> TokenDecoder:
        if task.kind == "vec2seq":
            return VectorDecoder(
                task, config.cell, config.hidden, config.layers, config.dropout, config.cell_params
            )
        return EncoderDecoder(
            task,
            config.cell,
            config.hidden,
            config.layers,
            config.bidirectional,
            config.dropout,
            config.cell_params,
        )

    def train_forward(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        lengths: Tensor | None,
        state: State | None,
    ) -> tuple[Tensor, State | None]:
        """Teacher forcing: the decoder is fed the true previous token."""
        return model(x, lengths, target=y), None

    def export(self, run: Any, out: Path, options: Any) -> Any:
        from rnnzoo.export.token_decoder import export_token_decoder

        return export_token_decoder(run, out, options)

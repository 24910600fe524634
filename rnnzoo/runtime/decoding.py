"""The token-decoder family at run time: encode the source with ``encoder.onnx``, then decode
with ``decoder.step.onnx`` — greedily or by beam search — into text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from rnnzoo import text
from rnnzoo.card import field
from rnnzoo.errors import RuntimeInputError
from rnnzoo.files import parse_json
from rnnzoo.runtime.base import Answers, Runner
from rnnzoo.runtime.inputs import check_array, load_input, load_texts
from rnnzoo.runtime.session import run


def greedy_decode(
    encoder: onnxruntime.InferenceSession,
    decoder: onnxruntime.InferenceSession,
    feeds: dict[str, np.ndarray],
    card: dict[str, Any],
) -> np.ndarray:
    """Token ids ``(batch, target_length)``: the encoder's state for ``feeds``, then the decoder
    step fed its own best token each time, starting from ``bos``."""
    names = card["state_names"]
    state = run(encoder, feeds, names)
    token = np.full(len(feeds["input"]), card["bos"], np.int64)
    out = []
    for _ in range(card["target_length"]):
        scores, *state = run(decoder, {"token": token, **dict(zip(names, state))})
        token = scores.argmax(-1).astype(np.int64)
        out.append(token)
    return np.stack(out, axis=1)


def beam_decode(
    encoder: onnxruntime.InferenceSession,
    decoder: onnxruntime.InferenceSession,
    feeds: dict[str, np.ndarray],
    card: dict[str, Any],
    beam: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Beam search: token ids ``(batch, target_length)`` of the most probable sequence found
    keeping the ``beam`` best prefixes at each step, and its log-probability. A prefix that
    has emitted ``eos`` stays finished: it can only be continued by ``eos`` at no cost, so
    finished and unfinished prefixes compete on the same total."""
    names, eos = card["state_names"], card["eos"]
    batch = len(feeds["input"])
    state = [np.repeat(s, beam, axis=1) for s in run(encoder, feeds, names)]  # (L, B·k, H)
    token = np.full(batch * beam, card["bos"], np.int64)
    total = np.full((batch, beam), -np.inf)
    total[:, 0] = 0.0  # every beam starts as the same empty prefix: keep one
    history = np.zeros((batch, beam, 0), np.int64)
    finished = np.zeros((batch, beam), bool)
    for _ in range(card["target_length"]):
        scores, *state = run(decoder, {"token": token, **dict(zip(names, state))})
        logp = scores - scores.max(-1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
        logp = logp.reshape(batch, beam, -1)
        logp[finished] = -np.inf
        logp[finished, eos] = 0.0
        candidates = (total[..., None] + logp).reshape(batch, -1)
        best = np.argsort(-candidates, axis=1, kind="stable")[:, :beam]
        origin, token = np.divmod(best, logp.shape[-1])
        total = np.take_along_axis(candidates, best, axis=1)
        history = np.concatenate(
            [np.take_along_axis(history, origin[..., None], axis=1), token[..., None]], axis=2
        )
        finished = np.take_along_axis(finished, origin, axis=1) | (token == eos)
        rows = (origin + beam * np.arange(batch)[:, None]).reshape(-1)
        state = [s[:, rows] for s in state]
        token = token.reshape(-1).astype(np.int64)
        if finished.all():
            history = np.pad(
                history,
                ((0, 0), (0, 0), (0, card["target_length"] - history.shape[2])),
                constant_values=eos,
            )
            break
    return history[:, 0], total[:, 0]


class TokenDecoderRunner(Runner):
    graphs = {"main": "encoder", "step": "decoder.step"}
    int8_roles = ("main", "step")
    card_fields = (
        field("reads_tokens", bool, "whether the source is text (else one array per example)"),
        field("state_names", list, "the decoder's state inputs, in order"),
        field("target_vocab", list, "the target tokens, by id"),
        field("target_tokens", str, "char or word: how target tokens join into text"),
        field("bos", int, "the id of the start token"),
        field("eos", int, "the id of the end token"),
        field("target_length", int, "the most tokens decoded"),
        field("source_vocab", list, "the source tokens, by id (text sources)", required=False),
        field("source_tokens", str, "char or word (text sources)", required=False),
        field("lowercase", bool, "whether sources are lower-cased (text sources)", required=False),
    )

    @classmethod
    def check_card(cls, card: dict[str, Any], source: str) -> None:
        def refuse(what: str) -> RuntimeInputError:
            return RuntimeInputError(f"{source}: the model card's {what}")

        vocab = card["target_vocab"]
        if not all(isinstance(t, str) for t in vocab):
            raise refuse("target_vocab must be a list of strings")
        if not all(isinstance(n, str) for n in card["state_names"]) or not card["state_names"]:
            raise refuse("state_names must be a non-empty list of strings")
        if not (0 <= card["bos"] < len(vocab) and 0 <= card["eos"] < len(vocab)):
            raise refuse(f"bos and eos must be ids in target_vocab (0..{len(vocab) - 1})")
        if card["target_length"] < 1:
            raise refuse("target_length must be at least 1")
        for key in ("target_tokens", "source_tokens"):
            if key in card and card[key] not in ("char", "word"):
                raise refuse(f"{key} must be char or word, not {card[key]!r}")
        source_vocab = card.get("source_vocab", [])
        if not all(isinstance(t, str) for t in source_vocab):
            raise refuse("source_vocab must be a list of strings")
        shape = card["inputs"][0]["shape"]
        if not card["reads_tokens"] and not all(isinstance(d, int) for d in shape[1:]):
            raise refuse(f"input shape must be (batch, sizes of one input...), not {shape}")

    @classmethod
    def upgrade(cls, card: dict[str, Any]) -> dict[str, Any]:
        """Format-1 cards said whether the source is text only by carrying its vocabulary."""
        return {"reads_tokens": "source_vocab" in card, **card}

    def __init__(self, card, sessions, files=None):
        super().__init__(card, sessions, files)
        if self.step_session is None:
            raise RuntimeInputError("this export lacks decoder.step.onnx; export the run again")
        if card["reads_tokens"]:
            missing = [k for k in ("source_vocab", "source_tokens", "lowercase") if k not in card]
            if missing:
                raise RuntimeInputError(
                    f"the model card lacks {', '.join(missing)}; export the run again"
                )

    def translate(self, texts: list[str], beam: int = 1) -> list[str]:
        """Each source text to its decoded target text (greedy, or beam search with ``beam``
        > 1). With word tokens, a word the model never saw reads as ``<unk>``; with
        characters, an unknown character is refused."""
        if not self.card["reads_tokens"]:
            raise self.unsupported("translate texts", self.instead())
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise RuntimeInputError("expected a list of non-empty strings")
        return self._decode(self.encoder_feeds(texts), beam)

    def encoder_feeds(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Texts as ``encoder.onnx``'s token ids and lengths."""
        card = self.card
        index = {t: i for i, t in enumerate(card["source_vocab"]) if i >= len(text.SPECIALS)}
        rows = [text.tokenize(t, card["source_tokens"], card["lowercase"]) for t in texts]
        unknown = sorted({c for row in rows for c in row if c not in index})
        if unknown and card["source_tokens"] == "char":
            raise RuntimeInputError(f"characters this model does not know: {''.join(unknown)!r}")
        lengths = np.array([max(len(row), 1) for row in rows], np.int64)
        tokens = np.zeros((len(texts), lengths.max()), np.int64)
        for i, row in enumerate(rows):
            tokens[i, : len(row)] = text.to_ids(row, index)
        return {"input": tokens, "lengths": lengths}

    def caption(self, x: Any, beam: int = 1) -> list[str]:
        """The caption of each input (one, or a batch) of a model whose source is an array."""
        if self.card["reads_tokens"]:
            raise self.unsupported("caption arrays", self.instead())
        step = tuple(int(d) for d in self.card["inputs"][0]["shape"][1:])
        hint = f"preprocessing: {self.card['preprocessing']}"
        return self._decode({"input": check_array(x, step, False, "input", hint)}, beam)

    def _decode(self, feeds: dict[str, np.ndarray], beam: int) -> list[str]:
        if not isinstance(beam, int) or beam < 1:
            raise RuntimeInputError(f"beam must be a whole number >= 1, not {beam!r}")
        if beam == 1:
            decoded = greedy_decode(self.session, self.step_session, feeds, self.card)
        else:
            decoded, _ = beam_decode(self.session, self.step_session, feeds, self.card, beam)
        vocab, tokens = self.card["target_vocab"], self.card["target_tokens"]
        return [text.from_ids(row, vocab, tokens) for row in decoded.tolist()]

    def answer_file(self, path: str | Path, beam: int = 1) -> Answers:
        if self.card["reads_tokens"]:
            texts = load_texts(path)
            return Answers(texts, self.translate(texts, beam), " →", inputs=texts)
        answers = self.caption(load_input(path)[0], beam)
        return Answers([str(i) for i in range(len(answers))], answers, ":")

    def sample_feeds(self, folder: Path) -> dict[str, list[dict[str, np.ndarray]]]:
        """The example's encoder inputs, and one decoder step from the states they give."""
        example = parse_json((folder / "example.json").read_text())
        if self.card["reads_tokens"]:
            feeds = self.encoder_feeds(example)
        else:
            step = tuple(int(d) for d in self.card["inputs"][0]["shape"][1:])
            feeds = {"input": check_array(example["input"], step, False)}
        names = self.card["state_names"]
        states = run(self.session, feeds, names)
        token = np.full(len(feeds["input"]), self.card["bos"], np.int64)
        return {"main": [feeds], "step": [{"token": token, **dict(zip(names, states))}]}

    def instead(self) -> str:
        return "translate" if self.card["reads_tokens"] else "caption"

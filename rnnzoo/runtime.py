"""Inference with onnxruntime and numpy only — no torch — for small devices.

    from rnnzoo.runtime import Model

    model = Model("exports/sine")            # an export folder, or a .onnx file
    y = model.predict(x)                     # x: (batch, time, features) or (time, features)
    model.describe(y)                        # class names, or the values
    stream = model.stream()                  # one sample at a time, state kept between calls
    y_t = stream.step(x_t)

Inputs are checked against the model card (rank, dtype, feature size); a bad one raises
``RuntimeInputError`` with one line saying what was wrong.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from rnnzoo import text
from rnnzoo.errors import UserError

# what a model that decodes tokens needs from its card, by kind
_DECODER = ("state_names", "target_vocab", "target_tokens", "bos", "eos", "target_length")
DECODER_CARD_KEYS = {
    "encdec": _DECODER + ("source_vocab", "source_tokens", "lowercase"),
    "vec2seq": _DECODER,
    None: ("kind",),
}


class RuntimeInputError(UserError):
    """A model file or an input that the runtime cannot use."""


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def open_session(
    model: str | Path | bytes, threads: int | None = None
) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session for a model file or serialized model."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    source = model if isinstance(model, bytes) else str(model)
    try:
        return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        name = "the model" if isinstance(model, bytes) else model
        raise RuntimeInputError(
            f"{name}: not a model onnxruntime can load ({_first_line(error)})"
        ) from None


def zero_state(session: onnxruntime.InferenceSession, batch: int) -> dict[str, np.ndarray]:
    """Zeros for every input of a step graph after the first (the state it carries)."""
    return {
        i.name: np.zeros([batch if not isinstance(d, int) else d for d in i.shape], np.float32)
        for i in session.get_inputs()[1:]
    }


def run(
    session: onnxruntime.InferenceSession,
    feeds: dict[str, np.ndarray],
    outputs: list[str] | None = None,
) -> list[np.ndarray]:
    """``session.run`` with onnxruntime's failures turned into one-line errors."""
    try:
        return session.run(outputs, feeds)
    except Exception as error:
        raise RuntimeInputError(
            f"onnxruntime could not run the model: {_first_line(error)}"
        ) from None


class Model:
    """An exported rnnzoo model: the whole-sequence graph and, if present, the step graph."""

    def __init__(self, path: str | Path, threads: int | None = None, int8: bool = False):
        path = Path(path)
        if not path.exists():
            raise RuntimeInputError(
                f"{path}: no such file or folder (expected an export "
                "folder from `rnnzoo export` or a .onnx file)"
            )
        folder = path if path.is_dir() else path.parent
        # models that decode tokens: encoder.onnx + decoder.step.onnx
        self.encdec = path.is_dir() and (path / "encoder.onnx").is_file()
        first, step = ("encoder", "decoder.step") if self.encdec else ("model", "model.step")
        if int8:
            first, step = first + ".int8", step + (".int8" if self.encdec else "")
        graph = path / f"{first}.onnx" if path.is_dir() else path
        if not graph.is_file():
            hint = " (export with --quantize int8)" if int8 else ""
            raise RuntimeInputError(f"{path}: no {graph.name} in this folder{hint}")
        self.session = open_session(graph, threads)
        self.card = self._read_card(folder)
        step_path = folder / f"{step}.onnx"
        self.step_session = (
            open_session(step_path, threads) if path.is_dir() and step_path.is_file() else None
        )

    def _read_card(self, folder: Path) -> dict[str, Any]:
        props = self.session.get_modelmeta().custom_metadata_map
        try:
            if "rnnzoo_card" in props:
                card = json.loads(props["rnnzoo_card"])
            elif (folder / "card.json").is_file():
                card = json.loads((folder / "card.json").read_text())
            else:
                card = None
            if card is not None and card["inputs"][0]["name"] != "input":
                card = None
        except (ValueError, KeyError, IndexError, TypeError):
            card = None
        if card is not None:
            needed = DECODER_CARD_KEYS[card.get("kind")] if self.encdec else ()
            missing = [key for key in needed if key not in card]
            if not missing:
                return card
            raise RuntimeInputError(
                f"{folder}: the model card lacks {', '.join(missing)} (an export by an "
                "older rnnzoo); export the run again with `rnnzoo export`"
            )
        raise RuntimeInputError(
            f"{folder}: no valid rnnzoo model card (card.json or ONNX "
            "metadata); export the model with `rnnzoo export`"
        )

    @property
    def kind(self) -> str:
        return self.card["kind"]

    @property
    def step_shape(self) -> tuple[int, ...]:
        """The shape of one time step: ``(features,)``, or e.g. ``(height, width, channels)``;
        for a vec2seq model, the shape of one input."""
        first = 1 if self.kind == "vec2seq" else 2
        return tuple(int(d) for d in self.card["inputs"][0]["shape"][first:])

    @property
    def labels(self) -> list[str] | None:
        return self.card.get("labels")

    def check_input(self, x: Any, sequence: bool = True, name: str = "input") -> np.ndarray:
        """``x`` as float32 ``(batch, time, *step)`` (``(batch, *step)`` for one step of a
        stream); a missing batch axis is added."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise RuntimeInputError(
                f"{name}: expected floating-point values, got {x.dtype} "
                f"(preprocessing: {self.card.get('preprocessing')})"
            )
        step, rank = self.step_shape, len(self.step_shape) + (2 if sequence else 1)
        if x.ndim == rank - 1:
            x = x[None]
        layout = "(batch, time, " if sequence else "(batch, "
        if x.ndim != rank:
            raise RuntimeInputError(
                f"{name}: expected {layout}{', '.join(map(str, step))}) or "
                f"without the batch axis, got shape {x.shape}"
            )
        if x.shape[rank - len(step) :] != step:
            what = f"{step[0]} features per step" if len(step) == 1 else f"steps of shape {step}"
            got = x.shape[-1] if len(step) == 1 else x.shape[rank - len(step) :]
            raise RuntimeInputError(f"{name}: this model takes {what}, got {got}")
        if x.shape[0] == 0:
            raise RuntimeInputError(f"{name}: the batch is empty")
        if sequence and x.shape[1] == 0:
            raise RuntimeInputError(f"{name}: sequences need at least one step")
        return np.ascontiguousarray(x, dtype=np.float32)

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Run whole sequences; ``lengths`` gives each sequence's valid steps (padded batch)."""
        if self.encdec:
            method = "translate" if self.kind == "encdec" else "caption"
            raise RuntimeInputError(f"a {self.kind} model decodes tokens: use {method}")
        x = self.check_input(x)
        feeds = {"input": x}
        if lengths is not None:
            lengths = np.asarray(lengths)
            if lengths.shape != (x.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
                raise RuntimeInputError(
                    f"lengths: expected {x.shape[0]} integers, got "
                    f"{lengths.dtype} of shape {lengths.shape}"
                )
            if lengths.min() < 1 or lengths.max() > x.shape[1]:
                raise RuntimeInputError(f"lengths must lie in 1..{x.shape[1]}")
            feeds["lengths"] = lengths.astype(np.int64)
        return run(self.session, feeds, ["output"])[0]

    def translate(self, texts: list[str], beam: int = 1) -> list[str]:
        """Encoder–decoder models: each source text to its decoded target text (greedy, or
        beam search with ``beam`` > 1). With word tokens, a word the model never saw reads as
        ``<unk>``; with characters, an unknown character is refused."""
        if self.kind != "encdec":
            raise RuntimeInputError(f"translate needs an encoder–decoder export, not {self.kind}")
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise RuntimeInputError("expected a list of non-empty strings")
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
        return self._decode({"input": tokens, "lengths": lengths}, beam)

    def caption(self, x: Any, beam: int = 1) -> list[str]:
        """Vector → sequence models: the caption of each input (one, or a batch)."""
        if self.kind != "vec2seq":
            raise RuntimeInputError(f"caption needs a vec2seq export, not {self.kind}")
        return self._decode({"input": self.check_input(x, sequence=False)}, beam)

    def _decode(self, feeds: dict[str, np.ndarray], beam: int) -> list[str]:
        if not isinstance(beam, int) or beam < 1:
            raise RuntimeInputError(f"beam must be a whole number >= 1, not {beam!r}")
        if beam == 1:
            decoded = greedy_decode(self.session, self.step_session, feeds, self.card)
        else:
            decoded, _ = beam_decode(self.session, self.step_session, feeds, self.card, beam)
        vocab, tokens = self.card["target_vocab"], self.card["target_tokens"]
        return [text.from_ids(row, vocab, tokens) for row in decoded.tolist()]

    def stream(self) -> Stream:
        if self.encdec:
            raise RuntimeInputError(f"a {self.kind} model decodes tokens; it does not stream")
        if self.step_session is None:
            raise RuntimeInputError(
                "this model has no step graph (bidirectional models "
                "cannot stream); use predict on whole sequences"
            )
        return Stream(self)

    def describe(self, prediction: np.ndarray) -> list[Any]:
        """Human-readable answers: the class name for classifiers (at each step for per-step
        classifiers), else the values."""
        if self.labels and prediction.ndim == 2:
            return [self.labels[i] for i in prediction.argmax(-1)]
        if self.labels and prediction.ndim == 3:  # a class at every step
            return [[self.labels[i] for i in row] for row in prediction.argmax(-1)]
        if prediction.shape[-1] == 1:
            prediction = prediction[..., 0]
        return prediction.tolist()


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


class Stream:
    """Feeds one time step at a time through ``model.step.onnx``, keeping the state."""

    def __init__(self, model: Model):
        self.model = model
        self.session = model.step_session
        self.state: dict[str, np.ndarray] | None = None

    def reset(self) -> None:
        self.state = None

    def step(self, x: Any) -> np.ndarray:
        """``x``: ``(batch, features)`` or ``(features,)``; returns the prediction so far."""
        x = self.model.check_input(x, sequence=False)
        if self.state is None:
            self.state = zero_state(self.session, x.shape[0])
            self.batch = x.shape[0]
        if x.shape[0] != self.batch:
            raise RuntimeInputError(
                f"this stream carries {self.batch} sequences; got a step "
                f"for {x.shape[0]} (call reset() to start another)"
            )
        y, *new = run(self.session, {"input": x, **self.state})
        self.state = dict(zip(self.state, new))
        return y


def load_input(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read model input from ``.npy``, ``.csv`` (one sequence: a row per step, a column per
    feature) or ``.json`` (a nested list, or ``{"input": ..., "lengths": ...}``)."""
    path = Path(path)
    if not path.is_file():
        raise RuntimeInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        if suffix == ".csv":
            return _read_csv(path), None
        if suffix == ".json":
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                lengths = data.get("lengths")
                return (
                    np.asarray(data["input"], np.float32),
                    None if lengths is None else np.asarray(lengths),
                )
            return np.asarray(data, np.float32), None
    except RuntimeInputError:
        raise
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise RuntimeInputError(f"{path}: cannot read it as {suffix[1:]} ({error})") from None
    raise RuntimeInputError(f"{path}: unknown input format {suffix!r}; use .npy, .csv or .json")


def _read_csv(path: Path) -> np.ndarray:
    """One sequence: a row per time step, a column per feature (empty: missing, NaN); an
    optional header line."""
    rows = []
    with open(path, newline="") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            try:
                rows.append([float(v) if v.strip() else float("nan") for v in row])
            except ValueError:
                if number == 1:
                    continue  # a header
                raise RuntimeInputError(
                    f"{path}, line {number}: non-numeric value in {row}"
                ) from None
            if len(rows[-1]) != len(rows[0]):
                raise RuntimeInputError(
                    f"{path}, line {number}: {len(rows[-1])} columns, expected {len(rows[0])}"
                )
    if not rows:
        raise RuntimeInputError(f"{path}: no rows of numbers")
    return np.asarray(rows, np.float32)


def load_texts(path: str | Path) -> list[str]:
    """Source texts for an encoder–decoder model: a JSON list of strings, or one per line."""
    path = Path(path)
    if not path.is_file():
        raise RuntimeInputError(f"{path}: no such file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise RuntimeInputError(f"{path}: cannot read it ({error})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as error:
            raise RuntimeInputError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
            raise RuntimeInputError(f"{path}: expected a JSON list of strings")
        return data
    return [line for line in text.splitlines() if line.strip()]

"""The sequence family at run time: whole sequences through ``model.onnx``, one step at a time
through ``model.step.onnx``, and readable answers (class names, values)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.card import field
from rnnzoo.errors import RuntimeInputError
from rnnzoo.runtime.base import Answers, Runner
from rnnzoo.runtime.inputs import check_array, load_input
from rnnzoo.runtime.session import run, zero_state


class SequenceRunner(Runner):
    graphs = {"main": "model", "full": "model.full", "step": "model.step"}
    int8_roles = ("main", "full")
    card_fields = (
        field("per_step", bool, "whether the model answers at every step", required=False),
        field("state_sizes", list, "the feature size of each state tensor"),
    )

    @classmethod
    def check_card(cls, card: dict[str, Any], source: str) -> None:
        shape = card["inputs"][0]["shape"]
        if len(shape) < 3 or not all(isinstance(d, int) for d in shape[2:]):
            raise RuntimeInputError(
                f"{source}: the model card's input shape must be (batch, time, sizes of one "
                f"step...), not {shape}"
            )

    @property
    def step_shape(self) -> tuple[int, ...]:
        """The shape of one time step: ``(features,)``, or e.g. ``(height, width, channels)``."""
        return tuple(int(d) for d in self.card["inputs"][0]["shape"][2:])

    def check_input(self, x: Any, sequence: bool = True, name: str = "input") -> np.ndarray:
        hint = f"preprocessing: {self.card['preprocessing']}"
        missing = bool(self.card.get("missing_values"))
        return check_array(x, self.step_shape, sequence, name, hint, missing)

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Run whole sequences ``(batch, time, *step)``; one sequence ``(time, *step)`` gives
        one answer, without a batch axis (as it came). ``lengths`` gives each sequence's valid
        steps (padded batch): ``model.full.onnx`` then runs, from zero states."""
        single = lengths is None and np.ndim(x) == 1 + len(self.step_shape)
        x = self.check_input(x)
        feeds = {"input": x}
        if lengths is None:
            output = run(self.session, feeds, ["output"])[0]
            return output[0] if single else output
        lengths = np.asarray(lengths)
        if lengths.shape != (x.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
            raise RuntimeInputError(
                f"lengths: expected {x.shape[0]} integers, got "
                f"{lengths.dtype} of shape {lengths.shape}"
            )
        if lengths.min() < 1 or lengths.max() > x.shape[1]:
            raise RuntimeInputError(f"lengths must lie in 1..{x.shape[1]}")
        feeds["lengths"] = lengths.astype(np.int64)
        full = self.sessions.get("full")
        if full is None:  # a format-1 export: model.onnx took lengths and states optionally
            return run(self.session, feeds, ["output"])[0]
        feeds.update(zero_state(full, x.shape[0], skip=2))
        return run(full, feeds, ["output"])[0]

    def stream(self) -> Stream:
        if self.step_session is None:
            raise RuntimeInputError(
                "this model has no step graph (bidirectional models "
                "cannot stream); use predict on whole sequences"
            )
        return Stream(self)

    def describe(self, prediction: np.ndarray) -> list[Any]:
        """Human-readable answers: the class name for classifiers (at each step for per-step
        classifiers), else the values."""
        labels = self.card["labels"]
        if labels and prediction.ndim == 2:
            return [labels[i] for i in prediction.argmax(-1)]
        if labels and prediction.ndim == 3:  # a class at every step
            return [[labels[i] for i in row] for row in prediction.argmax(-1)]
        if prediction.shape[-1] == 1:
            prediction = prediction[..., 0]
        return prediction.tolist()

    def answer_file(self, path: str | Path, beam: int = 1) -> Answers:
        x, lengths = load_input(path)
        if np.ndim(x) == 1 + len(self.step_shape):  # one sequence (a CSV file): a batch of one
            x = np.asarray(x)[None]
        prediction = self.predict(x, lengths)
        answers = self.describe(prediction)
        return Answers([str(i) for i in range(len(answers))], answers, ":", prediction)

    def instead(self) -> str:
        return "predict (and stream, for unidirectional models)"

    def sample_feeds(self, folder: Path) -> dict[str, list[dict[str, np.ndarray]]]:
        """By role: the example rows whole, padded to their lengths from zero states, and
        their first step from zero states."""
        x, lengths = load_input(folder / "example.json")
        x = self.check_input(x)
        if lengths is None:
            lengths = np.full(len(x), x.shape[1], np.int64)
        feeds: dict[str, list[dict[str, np.ndarray]]] = {}
        for role, session in self.sessions.items():
            if role == "main":
                feeds[role] = [{"input": x}]
            elif role == "full":
                zeros = zero_state(session, len(x), skip=2)
                feeds[role] = [{"input": x, "lengths": np.asarray(lengths, np.int64), **zeros}]
            else:
                feeds[role] = [{"input": x[:, 0], **zero_state(session, len(x))}]
        return feeds


class Stream:
    """Feeds one time step at a time through ``model.step.onnx``, keeping the state.

    The first step is checked like any input; later steps of the same shape and dtype go
    straight to onnxruntime with the feeds dictionary reused (the state outputs become the next
    state inputs in place), so a step costs little more than the graph itself."""

    def __init__(self, runner: SequenceRunner):
        self.runner = runner
        self.session = runner.step_session
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.feeds: dict[str, np.ndarray] | None = None
        self.shape: tuple[int, ...] = ()
        self.shapes: tuple[tuple[int, ...], ...] = ()  # the step shapes the fast path takes
        self.finite_only = not runner.card.get("missing_values")

    def reset(self) -> None:
        self.feeds = None

    @property
    def batch(self) -> int:
        return self.shape[0]

    def step(self, x: Any) -> np.ndarray:
        """``x``: ``(batch, features)`` or ``(features,)``; returns the prediction so far."""
        if (
            self.feeds is not None
            and type(x) is np.ndarray
            and x.dtype == np.float32
            and x.shape in self.shapes
            and not (self.finite_only and not np.isfinite(x).all())
        ):
            x = x.reshape(self.shape)  # the batch axis, if left out (a view, no copy)
        else:  # the first step, or anything unusual: the full checks and messages
            x = self.runner.check_input(x, sequence=False)
            if self.feeds is None:
                self.feeds = zero_state(self.session, x.shape[0])
                self.shape = x.shape
                self.shapes = (x.shape, x.shape[1:]) if x.shape[0] == 1 else (x.shape,)
            if x.shape[0] != self.batch:
                raise RuntimeInputError(
                    f"this stream carries {self.batch} sequences; got a step "
                    f"for {x.shape[0]} (call reset() to start another)"
                )
        feeds = self.feeds
        feeds[self.input_names[0]] = x
        y, *state = run(self.session, feeds, self.output_names)
        feeds.update(zip(self.input_names[1:], state))
        return y

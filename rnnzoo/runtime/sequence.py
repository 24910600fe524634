"""The sequence family at run time: whole sequences through ``model.onnx``, one step at a time
through ``model.step.onnx``, and readable answers (class names, values)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo.card import field
from rnnzoo.errors import RuntimeInputError
from rnnzoo.runtime.base import Answers, Runner
from rnnzoo.runtime.datafiles import is_data_file, read_inputs
from rnnzoo.runtime.inputs import check_array, load_input
from rnnzoo.runtime.session import first_line, run, zero_state


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

    def declared_shape(self, role: str, name: str, shape: list[Any]) -> list[Any]:
        """One step has no time axis: the step graph's input, and its output where the model
        answers at every step."""
        if role == "step" and (name == "input" or (name == "output" and self.per_step)):
            return [shape[0], *shape[2:]]
        return shape

    @property
    def per_step(self) -> bool:
        return bool(self.card.get("per_step", len(self.card["outputs"][0]["shape"]) == 3))

    def check_graphs(self, source: str) -> None:
        """Beyond the shapes: ``per_step`` against the output's axes, the state sizes against
        the graphs' states, ``missing_values`` against the graph's NaN test. (A ``kind`` of
        another family opens that family's files, which are not there.)"""
        card, output = self.card, self.session.get_outputs()[0]
        if self.per_step != (len(output.shape) == 3):
            axes = "a time axis" if len(output.shape) == 3 else "no time axis"
            self.lies(
                source,
                f"per_step is {self.per_step}, but {self.file_name('main')}'s output has {axes}",
            )
        super().check_graphs(source)
        full = self.sessions.get("full")
        if full is not None:
            states = [a.shape[-1] for a in full.get_inputs()[2:]]
            if states != list(card["state_sizes"]):
                self.lies(
                    source,
                    f"state_sizes are {card['state_sizes']}, but {self.file_name('full')}"
                    f" takes states of {states}",
                )
        step = self.step_session
        if step is not None:
            declared = {i["name"] for i in card["inputs"]}
            extra = [a.shape[-1] for a in step.get_inputs() if a.name not in declared]
            streaming = list(card.get("streaming_state_sizes", extra))
            if extra != streaming:
                self.lies(
                    source,
                    f"streaming_state_sizes are {streaming}, but {self.file_name('step')}"
                    f" carries {extra}",
                )
        main = self.files.get("main")
        # the op's name as the protobuf stores it: a byte search, not a parse of the whole graph
        if card.get("missing_values") and main is not None and b"IsNaN" not in main.read_bytes():
            self.lies(source, f"missing_values is true, but {main.name} has no test for NaN")

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

    def table(
        self,
        ids: list[str],
        answers: list[Any],
        prediction: np.ndarray,
        times: list[list[str]] | None = None,
    ) -> tuple[list[str], list[list[Any]]]:
        """One row per id (per id and step for a forecaster, with the step's time where the
        series have one): the class and its probability, or the values."""
        if self.card["labels"]:
            scores = np.exp(prediction - prediction.max(-1, keepdims=True))
            probability = (scores / scores.sum(-1, keepdims=True)).max(-1)
            rows = [[i, a, round(float(p), 6)] for i, a, p in zip(ids, answers, probability)]
            return ["id", "label", "probability"], rows
        targets = self.forecast_targets
        if targets:
            rows = [
                [i, step + 1, *([times[n][step]] if times else []), *values]
                for n, (i, answer) in enumerate(zip(ids, answers))
                for step, values in enumerate(answer)
            ]
            return ["id", "step", *(["time"] if times else []), *targets], rows
        values = prediction.reshape(len(ids), -1)
        names = (
            ["prediction"]
            if values.shape[1] == 1
            else [f"prediction_{j}" for j in range(values.shape[1])]
        )
        return ["id", *names], [[i, *map(float, row)] for i, row in zip(ids, values)]

    @property
    def forecast_targets(self) -> list[str]:
        """The forecast columns of a model trained on series (none for others)."""
        reader = self.card.get("reader") or {}
        return list(reader.get("target", [])) if reader.get("kind") == "series" else []

    def describe(self, prediction: np.ndarray) -> list[Any]:
        """Human-readable answers: the class name for classifiers (at each step for per-step
        classifiers), the horizon's values step by step (a row of the targets each) for
        forecasters of series, else the values."""
        labels = self.card["labels"]
        targets = self.forecast_targets
        if targets and prediction.ndim == 2:
            return prediction.reshape(len(prediction), -1, len(targets)).tolist()
        if labels and prediction.ndim == 2:
            return [labels[i] for i in prediction.argmax(-1)]
        if labels and prediction.ndim == 3:  # a class at every step
            return [[labels[i] for i in row] for row in prediction.argmax(-1)]
        if prediction.shape[-1] == 1:
            prediction = prediction[..., 0]
        return prediction.tolist()

    def meaning(self, prediction: np.ndarray) -> str:
        labels = self.card["labels"]
        if self.card.get("per_step", prediction.ndim == 3):
            if labels:
                return "For each input sequence, the class at each step:"
            return (
                f"For each input sequence, the output at each of its {prediction.shape[1]} steps"
                " (a forecaster's: the value it expects at the next step):"
            )
        if labels:
            return (
                "For each input sequence, the most likely class with its probability,"
                " then the runners-up:"
            )
        targets = self.forecast_targets
        if targets:
            horizon = self.card["reader"]["horizon"]
            return (
                f"For each series, its next {horizon} value(s) of {', '.join(targets)}"
                " (a row per step):"
            )
        return "For each input sequence, the predicted value:"

    def answer_file(self, path: str | Path, beam: int = 1) -> Answers:
        """Answers to an array file (``.npy``, ``.json``, a ``.csv`` of one sequence) — or,
        for a model trained on a user's data, to a file in that data's format, one answer
        per sequence or series, named by its id."""
        path, reader = Path(path), self.card.get("reader")
        if is_data_file(path, reader):
            data = read_inputs(path, reader)
            prediction = self.predict(data.x, data.lengths)
            answers = self.describe(prediction)
            table = self.table(data.ids, answers, prediction, data.times)
            return Answers(data.ids, answers, ":", prediction, table=table, times=data.times)
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

    def verify_targets(self, folder: Path, names: list[str]) -> dict[str, Any]:
        if not self.card.get("targets"):
            return {}
        from rnnzoo.runtime.edge import verify

        x, lengths = load_input(folder / "example.json")
        x = self.check_input(x)
        if lengths is None:
            lengths = np.full(len(x), x.shape[1], np.int64)
        session = self.step_session
        inputs = [i.name for i in session.get_inputs()]

        def reference(feeds: list[np.ndarray]) -> list[np.ndarray]:
            return session.run(None, dict(zip(inputs, feeds)))

        starts = list(zero_state(session, 1).values())
        return verify(folder, self.card, reference, starts, x, lengths, names)


class Stream:
    """Feeds one time step at a time through ``model.step.onnx``, keeping the state.

    The first step is checked like any input and run as usual. From then on the step runs
    through onnxruntime's I/O binding on buffers of its own: the new step is copied into the
    input buffer, the state stays in two buffers that take turns as input and output (two
    bindings, one per direction, made once), and no dictionary, check or allocation is left
    per call but a cheap finiteness check of the step — the per-step cost that remains is
    mostly onnxruntime's own (reber: about 8 µs per step, 6 of them in onnxruntime)."""

    def __init__(self, runner: SequenceRunner):
        self.runner = runner
        self.session = runner.step_session
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.bindings: list[Any] = []  # empty until the first step
        self.shape: tuple[int, ...] = ()
        self.shapes: tuple[tuple[int, ...], ...] = ()  # the step shapes the fast path takes
        self.finite_only = not runner.card.get("missing_values")
        self.rank = len(runner.step_shape)  # of one sequence's step

    def reset(self) -> None:
        self.bindings = []

    @property
    def batch(self) -> int:
        return self.shape[0]

    def step(self, x: Any) -> np.ndarray:
        """``x``: ``(batch, features)``, or one sequence's ``(features,)``; returns the
        prediction so far, ``(batch, ...)`` or, for one sequence's step, without the batch."""
        if (
            self.bindings
            and type(x) is np.ndarray
            and x.dtype == np.float32
            and x.shape in self.shapes
        ):
            self.x[...] = x  # a (features,) step broadcasts into the (1, features) buffer
            # NaN or inf make the dot product so, without a warning (so do finite values
            # beyond 1.8e19, with numpy's overflow warning: the full checks below decide)
            if not self.finite_only or math.isfinite(self.flat.dot(self.flat)):
                return self.run(x.ndim == self.rank)
        single = np.ndim(x) == self.rank  # the first step, or anything unusual: full checks
        x = self.runner.check_input(x, sequence=False)
        if not self.bindings:
            y = self.first_step(x)
            return y[0] if single else y
        if x.shape[0] != self.batch:
            raise RuntimeInputError(
                f"this stream carries {self.batch} sequences; got a step "
                f"for {x.shape[0]} (call reset() to start another)"
            )
        self.x[...] = x
        return self.run(single)

    def run(self, single: bool) -> np.ndarray:
        """One step from the input buffer, through the binding whose turn it is."""
        try:
            self.session.run_with_iobinding(self.bindings[self.turn])
        except Exception as error:  # onnxruntime raises its own exception types
            raise RuntimeInputError(
                f"onnxruntime could not run the model: {first_line(error)}"
            ) from None
        self.turn ^= 1
        return self.y[0].copy() if single else self.y.copy()

    def first_step(self, x: np.ndarray) -> np.ndarray:
        """Run the first step from zero states, then make the buffers and the two bindings
        for the steps after it."""
        import onnxruntime

        self.shape = x.shape
        self.shapes = (x.shape, x.shape[1:]) if x.shape[0] == 1 else (x.shape,)
        feeds = {self.input_names[0]: x, **zero_state(self.session, x.shape[0])}
        y, *state = run(self.session, feeds, self.output_names)
        self.x, self.y = np.empty_like(x), np.empty_like(y)
        self.flat = self.x.reshape(-1)  # a view, for the finiteness check
        states = [[np.ascontiguousarray(s) for s in state], [np.empty_like(s) for s in state]]

        def binding(state_in: list[np.ndarray], state_out: list[np.ndarray]) -> Any:
            bound = self.session.io_binding()
            value = onnxruntime.OrtValue.ortvalue_from_numpy  # shares the array's memory
            for name, array in zip(self.input_names, [self.x, *state_in]):
                bound.bind_ortvalue_input(name, value(array))
            for name, array in zip(self.output_names, [self.y, *state_out]):
                bound.bind_ortvalue_output(name, value(array))
            return bound

        self.states = states  # the buffers live as long as the bindings that use them
        self.bindings = [binding(states[0], states[1]), binding(states[1], states[0])]
        self.turn = 0
        return y

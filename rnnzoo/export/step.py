"""The step model for the edge targets: the PyTorch module ``model.step.onnx`` is traced from
(``(input, state_i…, streaming states…) → (output, state_i_out…, …)``), and ``Job``, what a
target's ``write`` is given (``rnnzoo.targets.base.StepJob``): the step module and its example,
the checks every target's file passes against PyTorch (row by row on the export's streaming
cases with random valid states fed, then a test sequence streamed from zeros), the test split
streamed for integer metrics, and calibration data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import Tensor, nn

from rnnzoo import closeness
from rnnzoo.errors import UserError
from rnnzoo.export.verification import Case, difference


class StepGraph(nn.Module):
    def __init__(self, model: nn.Module, n_states: int):
        super().__init__()
        self.model, self.n_states = model, n_states

    def forward(self, x: Tensor, *states: Tensor):
        y, state, readout = self.model.step(x, states[: self.n_states], states[self.n_states :])
        return (y, *state, *readout)


def step_module(model: nn.Module) -> nn.Module:
    return StepGraph(model, len(model.rnn.state_sizes)).eval()


class NamedStep(nn.Module):
    """The step with its inputs as keywords and its outputs as a dict, both named as in
    ``model.step.onnx``: a converter that takes names (litert-torch) gives the file's tensors
    the names of what they hold (``input``, ``state_0`` → ``output``, ``state_0_out``)."""

    def __init__(self, step: nn.Module, names: list[str], outputs: list[str]):
        super().__init__()
        self.step, self.names, self.outputs = step, names, outputs

    def forward(self, **feeds: Tensor) -> dict[str, Tensor]:
        return dict(zip(self.outputs, self.step(*(feeds[n] for n in self.names))))


def rows(case: Case, names: list[str]) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """A step case of batch b as b cases of batch 1: the stack's ``state_i`` are ``(layers,
    batch, size)``, everything else has the batch first."""
    axes = [1 if name.startswith("state_") else 0 for name in names]
    outputs = [0, *axes[1:]]
    return [
        (
            [np.take(case.feeds[n], [b], axis=a) for n, a in zip(names, axes)],
            [np.take(v, [b], axis=a) for v, a in zip(case.expected, outputs)],
        )
        for b in range(case.batch)
    ]


def start_feeds(model: nn.Module) -> list[np.ndarray]:
    """The states a stream starts from (batch 1), after the input."""
    state = [*model.rnn.start_state(1), *(torch.zeros(1, n) for n in model.streaming_state_sizes)]
    return [s.numpy() for s in state]


@dataclass
class Job:
    """One export's step model, as the targets see it (``rnnzoo.targets.base.StepJob``)."""

    model: nn.Module
    folder: Path
    prefix: str
    names: list[str]
    cases: list[Case]  # the step graph's verification cases
    graph: onnx.ModelProto
    run: Any
    card: dict[str, Any]
    quantize: str | None

    @property
    def missing_values(self) -> bool:
        return bool(self.run.task.missing_values)

    @property
    def per_step(self) -> bool:
        return bool(self.model.per_step)

    @property
    def labels(self) -> list[str] | None:
        return self.run.task.labels

    def step_module(self) -> nn.Module:
        return step_module(self.model)

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.graph.graph.output]

    def named_step_module(self) -> nn.Module:
        return NamedStep(self.step_module(), self.names, self.output_names).eval()

    def example(self) -> tuple[Tensor, ...]:
        """One batch-1 row of the first step case: what a converter traces the step with."""
        return tuple(torch.from_numpy(v) for v in rows(self.cases[0], self.names)[0][0])

    def step_graph(self) -> onnx.ModelProto:
        return self.graph

    def no_grad(self):
        return torch.no_grad()

    def exported_program(self):
        with torch.no_grad():
            return torch.export.export(self.step_module(), self.example())

    def checked(self, run_step) -> dict[str, Any]:
        """A target's step against PyTorch (states fed, then a streamed test sequence): the
        card's status and differences."""
        fed = 0.0
        for case in self.cases:
            for feeds, expected in rows(case, self.names):
                got = run_step(feeds)
                fed = max(fed, *(difference(e, g) for e, g in zip(expected, got)))
        test = self.run.splits["test"].x[:1]
        stream = self.streamed(run_step, test)
        ok = fed <= closeness.tolerance() and stream <= closeness.tolerance(test.shape[1])
        return {
            "status": "ok" if ok else f"differs by {max(fed, stream):.1e}",
            "max_diff_states_fed": fed,
            "max_diff_streamed": stream,
        }

    def streamed(self, run_step, x: Tensor) -> float:
        """One test sequence ``(1, time, …)`` streamed from zeros, against PyTorch's steps."""
        module = self.step_module()
        with torch.no_grad():
            state = [torch.from_numpy(s) for s in start_feeds(self.model)]
            feeds = [s.numpy() for s in state]
            worst = 0.0
            for t in range(x.shape[1]):
                want = module(x[:, t], *state)
                got = run_step([x[:, t].numpy(), *feeds])
                worst = max(worst, *(difference(w.numpy(), g) for w, g in zip(want, got)))
                state, feeds = list(want[1:]), got[1:]
        return worst

    def window_steps(self) -> int:
        """The steps of one window of the data the model was trained on."""
        return int(self.run.splits["test"].x.shape[1])

    def test_examples(self, n: int = 200) -> int:
        return min(n, len(self.run.splits["test"].x))

    def stream_test(self, run_step, n: int) -> Tensor:
        """The predictions of the first ``n`` test sequences, each streamed from the start
        state one step at a time (the last valid step's for one answer per sequence)."""
        split, predictions = self.run.splits["test"], []
        for i in range(n):
            x = split.x[i : i + 1].numpy()
            steps = int(split.lengths[i]) if split.lengths is not None else x.shape[1]
            feeds, outputs = start_feeds(self.model), []
            for t in range(steps):
                y, *feeds = run_step([x[:, t], *feeds])
                outputs.append(y)
            if self.model.per_step:
                padded = np.zeros((1, x.shape[1], *outputs[0].shape[1:]), np.float32)
                padded[:, :steps] = np.stack(outputs, 1)
                predictions.append(padded)
            else:
                predictions.append(outputs[-1])
        return torch.from_numpy(np.concatenate(predictions))

    def test_rows(self, max_steps: int) -> list[np.ndarray]:
        """The first test sequences (their valid steps, each ``(steps, input floats)``) that
        fit in ``max_steps`` steps together: what a firmware streams."""
        split, found, total = self.run.splits["test"], [], 0
        for i in range(len(split.x)):
            steps = int(split.lengths[i]) if split.lengths is not None else split.x.shape[1]
            if found and total + steps > max_steps:
                break
            found.append(split.x[i, :steps].reshape(steps, -1).numpy().astype(np.float32))
            total += steps
        return found

    def evaluate_rows(self, outputs: list[np.ndarray]) -> dict[str, float]:
        """The test metrics of the first ``len(outputs)`` test sequences from their streamed
        predictions (each ``(steps, output floats)``): the last step's, or every step's."""
        split, n = self.run.splits["test"], len(outputs)
        if self.model.per_step:
            shape = (n, split.x.shape[1], outputs[0].shape[-1])
            padded = np.zeros(shape, np.float32)
            for i, row in enumerate(outputs):
                padded[i, : len(row)] = row
            prediction = torch.from_numpy(padded).reshape(n, split.x.shape[1], *self.output_shape)
        else:
            last = np.stack([row[-1] for row in outputs])
            prediction = torch.from_numpy(last).reshape(n, *self.output_shape)
        return self.evaluate(prediction, n)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """One step's prediction without the batch, as the step graph gives it."""
        return tuple(self.cases[0].expected[0].shape[1:])

    def evaluate(self, prediction: Tensor, n: int) -> dict[str, float]:
        return self.run.task.evaluate(prediction, self.run.splits["test"].y[:n])

    def calibration(self, samples: int = 1000) -> list[list[np.ndarray]]:
        """Step inputs as training data reaches them: training sequences streamed through the
        PyTorch step from the start state, every step's input and states (up to ``samples``)."""
        module, found, split = self.step_module(), [], self.run.splits["train"]
        with torch.no_grad():
            for i in range(len(split.x)):
                x = split.x[i : i + 1]
                steps = int(split.lengths[i]) if split.lengths is not None else x.shape[1]
                state = [torch.from_numpy(v) for v in start_feeds(self.model)]
                for t in range(steps):
                    found.append([x[:, t], *state])
                    state = list(module(x[:, t], *state)[1:])
                if len(found) >= samples:
                    break
        values = [np.concatenate([f[j].numpy() for f in found]) for j in range(len(found[0]))]
        if not all(np.isfinite(v).all() for v in values):
            raise UserError("the calibration data (training sequences streamed) is not finite")
        return [[v.numpy() for v in f] for f in found[:samples]]

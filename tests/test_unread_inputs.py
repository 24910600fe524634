"""Cells that keep the contract but leave an input of their step unread: a step that ignores
its state (``return torch.tanh(self.lin(x)), state``), one whose output leaves a state out, one
that ignores ``x``. ``torch.onnx.export`` drops an unread input, so the step graph would have
fewer inputs than the ``Scan`` around it passes (onnxruntime: "Got 2 inputs but subgraph has 1
inputs") and the streaming graph would refuse the ``state_i`` its caller feeds; the exporter
puts them back, and masks such a ``Scan``, which tract needs."""

import json

import numpy as np
import onnxruntime
import pytest
import torch
from test_plugins import make_distribution
from torch import nn

from rnnzoo.cells.base import Cell
from rnnzoo.export.tracing import cell_step_graph, loose_ends

CELLS = """
import torch
from torch import nn

import rnnzoo
from rnnzoo.cells.base import Cell


class Stateless(Cell):
    name = "zz_stateless"
    description = "returns its state unchanged"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.lin = nn.Linear(input_size, hidden_size)

    def step(self, x, state):
        return torch.tanh(self.lin(x)), state


class Forgetful(Cell):
    name = "zz_forgetful"
    description = "two states; y and the new states never read the first"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.lin = nn.Linear(input_size, hidden_size)

    @property
    def state_sizes(self):
        return (self.hidden_size, self.hidden_size)

    def step(self, x, state):
        h, c = state
        y = torch.tanh(self.lin(x))
        return y, (y, 0.5 * c + y)


class Blind(Cell):
    name = "zz_blind"
    description = "never reads x"

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.hh = nn.Linear(hidden_size, hidden_size)

    def step(self, x, state):
        h = torch.tanh(self.hh(state[0]) + 0.1)
        return h, (h,)


@rnnzoo.hookimpl
def register_cells(register):
    register(Stateless)
    register(Forgetful)
    register(Blind)
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    make_distribution(root, "zz_unread", CELLS)
    return {"PYTHONPATH": str(root)}


class Stateless(Cell):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.lin = nn.Linear(input_size, hidden_size)

    def step(self, x, state):
        return torch.tanh(self.lin(x)), state


class Blind(Stateless):
    def step(self, x, state):
        h = torch.tanh(state[0])
        return h, (h,)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cls", [Stateless, Blind])
def test_the_step_graph_keeps_every_input(cls, masked):
    graph = cell_step_graph(cls(3, 4), 17, masked).graph
    assert [i.name for i in graph.input] == ["x", *(["valid"] if masked else []), "s0"]
    assert loose_ends(graph) or masked


def test_a_cell_that_reads_everything_keeps_the_plain_scan():
    from rnnzoo.cells.contract import build_cell

    assert not loose_ends(cell_step_graph(build_cell("gru", 3, 4), 17, False).graph)


def stream(session: onnxruntime.InferenceSession, x: np.ndarray, states: list[np.ndarray]):
    """Feed ``x`` one step at a time through the step graph; the outputs and final states."""
    names = [i.name for i in session.get_inputs()]
    outputs = []
    for t in range(x.shape[1]):
        out = session.run(None, {"input": x[:, t], **dict(zip(names[1:], states))})
        outputs.append(out[0])
        states = out[1 : 1 + len(states)]
    return np.stack(outputs, axis=1), states


@pytest.mark.parametrize(
    "cell,shape",
    [
        ("zz_stateless", []),
        ("zz_forgetful", []),
        ("zz_blind", []),
        ("zz_forgetful", ["--layers", "2", "--bidirectional"]),
    ],
)
@pytest.mark.slow
def test_a_cell_with_an_unread_input_exports_and_runs(tmp_path, cli, plugin, cell, shape):
    run, out = tmp_path / "run", tmp_path / "export"
    small = ["--param", "n_train=64", "--param", "n_test=16", "--hidden", "8", "--epochs", "1"]
    trained = cli(
        "train", "--task", "sine", "--cell", cell, *small, *shape, "--out", str(run), "--quiet",
        env=plugin,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    exported = cli("export", str(run), "--out", str(out), "--runtime", "onnxruntime", env=plugin)
    assert exported.returncode == 0, exported.stderr  # verified against PyTorch on onnxruntime

    card = json.loads((out / "card.json").read_text())
    n_states = len(card["state_sizes"])
    whole = onnxruntime.InferenceSession(str(out / "model.onnx"))
    x = np.random.default_rng(0).standard_normal((3, 7, 1)).astype(np.float32)
    expected = whole.run(None, {"input": x})
    assert len(expected) == 1 + n_states
    if shape:  # bidirectional: no streaming graph
        return
    step = onnxruntime.InferenceSession(str(out / "model.step.onnx"))
    names = [i.name for i in step.get_inputs()]
    assert names == ["input", *[f"state_{i}" for i in range(n_states)]]  # none left out
    zeros = [np.zeros((1, 3, size), np.float32) for size in card["state_sizes"]]
    streamed, final = stream(step, x, zeros)
    np.testing.assert_allclose(streamed, expected[0], rtol=1e-5, atol=1e-5)
    for got, want in zip(final, expected[1:]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_tract_runs_the_masked_scan(tmp_path, cli, plugin):
    """tract fails on a Scan whose body leaves a state unread, and never finishes one that
    passes a state straight through: the exporter's masked Scan runs there too."""
    pytest.importorskip("tract")
    run, out = tmp_path / "run", tmp_path / "export"
    small = ["--param", "n_train=64", "--param", "n_test=16", "--hidden", "8", "--epochs", "1"]
    for cell in ("zz_stateless", "zz_forgetful"):
        trained = cli(
            "train", "--task", "sine", "--cell", cell, *small, "--out", str(run), "--quiet",
            "--overwrite", env=plugin,
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr
        exported = cli(
            "export", str(run), "--out", str(out / cell), "--runtime", "tract", env=plugin,
            timeout=240,
        )  # fmt: skip
        assert exported.returncode == 0, exported.stdout[-2000:] + exported.stderr

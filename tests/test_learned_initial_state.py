"""A cell that learns its initial state exports: the graphs' states are offsets from it, so
every caller that starts from zeros (``predict``, ``stream``, the runtimes) starts from the
learned state, and the numbers are PyTorch's from that state."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from rnnzoo.cells.base import Cell
from rnnzoo.registry import Entry, tables
from rnnzoo.rundir import RunDir
from rnnzoo.runtime import Model
from tests.conftest import sine_export


class LearnedStart(Cell):
    """A leaky tanh cell whose two states start from a learned vector."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.ih = nn.Linear(input_size, hidden_size)
        self.hh = nn.Linear(hidden_size, hidden_size, bias=False)
        self.start = nn.Parameter(torch.linspace(-0.8, 0.8, 2 * hidden_size))

    @property
    def state_sizes(self):
        return (self.hidden_size, self.hidden_size)

    def initial_state(self, batch_size, device=None, dtype=None):
        h, c = self.start.chunk(2)
        return h.expand(batch_size, -1), c.expand(batch_size, -1)

    def step(self, x, state):
        h, c = state
        c = 0.9 * c + 0.1 * self.ih(x)
        h = torch.tanh(self.hh(h) + c)
        return h, (h, c)


@pytest.fixture
def learned(monkeypatch):
    entry = Entry(name="zz_learned", plugin="tests", description="", target=LearnedStart)
    monkeypatch.setitem(tables().cells, "zz_learned", entry)


@pytest.mark.parametrize("layers", [1, 2])
def test_a_learned_initial_state_exports_and_streams(tmp_path, learned, layers):
    result = sine_export(tmp_path, "export", "zz_learned", epochs=1, hidden=6, layers=layers)
    card = json.loads((result.out / "card.json").read_text())
    assert "learned initial state" in card["inputs"][2]["meaning"]

    model = RunDir(tmp_path / "run").load().model.eval()  # PyTorch, from the learned state
    x = np.random.default_rng(0).standard_normal((3, 9, 1)).astype(np.float32)
    with torch.no_grad():
        expected, final = model(torch.from_numpy(x), return_state=True)
        from_zeros = model(torch.from_numpy(x), state=tuple(torch.zeros_like(s) for s in final))
    assert float((expected - from_zeros).abs().max()) > 1e-3  # the start matters

    exported = Model(result.out)
    np.testing.assert_allclose(exported.predict(x), expected.numpy(), rtol=1e-5, atol=1e-5)
    stream = exported.stream()
    for t in range(x.shape[1]):
        y = stream.step(x[:, t])
    np.testing.assert_allclose(y, expected.numpy()[:, -1], rtol=1e-5, atol=1e-5)
    states = exported.session.run(None, {"input": x})[1:]
    start = model.rnn.initial_state(1)
    for got, want, offset in zip(states, final, start):  # offsets from the learned start
        np.testing.assert_allclose(got + offset.detach().numpy(), want.numpy(), atol=1e-5)

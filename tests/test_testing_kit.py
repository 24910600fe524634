"""The kit for cell authors (``rnnzoo.testing``): each check catches the mistake it is for, with
one line naming the cell, the check and the fix; a plugin written by ``rnnzoo new cell``
installs and passes its own tests as generated."""

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from rnnzoo.cells.base import Cell
from rnnzoo.testing import CellCheckError, check_cell


class Elman(Cell):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.ih = nn.Linear(input_size, hidden_size)
        self.hh = nn.Linear(hidden_size, hidden_size, bias=False)

    def step(self, x, state):
        h = torch.tanh(self.ih(x) + self.hh(state[0]))
        return h, (h,)


class MixesTheBatch(Elman):
    def step(self, x, state):
        h, _ = super().step(x - x.mean(0), state)
        return h, (h,)


class Noisy(Elman):
    def step(self, x, state):
        h, _ = super().step(x + torch.randn_like(x), state)
        return h, (h,)


class UnusedWeight(Elman):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.spare = nn.Parameter(torch.ones(hidden_size))


class Leaky(Elman):
    """A linear recurrence whose parallel form drifts from its loop after step 500."""

    def step(self, x, state):
        h = 0.9 * state[0] + 0.1 * self.ih(x)
        return h, (h,)

    @property
    def has_fused(self) -> bool:
        return True

    def fused_sequence(self, x, state, lengths):
        y, final = self.loop(x, state, lengths)
        drift = (torch.arange(x.shape[1]) >= 500).to(y.dtype)[None, :, None] * 1e-2
        return y + drift * (y != 0), final


class PadsWrongly(Leaky):
    def fused_sequence(self, x, state, lengths):
        return self.loop(x, state, None)  # ignores lengths


class NegativeNormaliser(Elman):
    """A state n that must stay non-negative (it is never below its start, 0), without a
    ``sample_state`` that says so: the default's negative n gives nan."""

    @property
    def state_sizes(self):
        return (self.hidden_size, self.hidden_size)

    def step(self, x, state):
        h, n = state
        h = torch.tanh(self.ih(x) + self.hh(h)) * n.sqrt()
        return h, (h, n + 1)


class ClipsWrongly(Elman):
    def after_optimizer_step(self):
        self.hh.weight.clamp_(-1)  # fine
        raise RuntimeError("no such limit")


class Matrix(Cell):
    """A state that is a matrix per head: the kit runs every check on it."""

    @property
    def state_shapes(self):
        return ((2, 3, 3),)

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.k = nn.Linear(input_size, 6)
        self.out = nn.Linear(18, hidden_size)

    def step(self, x, state):
        k = self.k(x).view(-1, 2, 3)
        memory = 0.9 * state[0] + 0.1 * k.unsqueeze(-1) * k.unsqueeze(-2)
        return torch.tanh(self.out(memory.flatten(1))), (memory,)


WITHOUT_EXPORT = [
    "contract",
    "shapes",
    "batch_independence",
    "determinism",
    "gradients",
    "sample_state",
    "padding",
    "parallel_form",
    "constraint",
]


def test_a_good_cell_and_a_matrix_state_pass_every_check():
    check_cell(Elman, checks=WITHOUT_EXPORT)
    check_cell(Matrix, checks=WITHOUT_EXPORT)


@pytest.mark.parametrize(
    "cell,check,words",
    [
        (MixesTheBatch, "batch_independence", "no mean or norm over the batch axis"),
        (Noisy, "determinism", "only when self.training"),
        (UnusedWeight, "gradients", "parameter 'spare' gets no gradient"),
        (Leaky, "parallel_form", "from step 500"),
        (PadsWrongly, "padding", "and freeze the state"),
        (NegativeNormaliser, "sample_state", "overriding sample_state"),
        (ClipsWrongly, "constraint", "after_optimizer_step raised RuntimeError: no such limit"),
    ],
)
def test_each_mistake_is_one_line_naming_the_check_and_the_fix(cell, check, words):
    with pytest.raises(CellCheckError) as caught:
        check_cell(cell, checks=[check])
    message = str(caught.value)
    assert "\n" not in message and words in message, message
    assert cell.__qualname__ in message


@pytest.mark.slow
def test_a_generated_plugin_installs_and_passes_its_own_tests(tmp_path):
    """`rnnzoo new cell` → pip install (into a folder of its own, so the project's environment
    is left as it was) → the plugin's own pytest, with every check including export."""
    run = [sys.executable, "-m", "rnnzoo", "new", "cell", "my-cell", "--out", str(tmp_path)]
    made = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    plugin, site = tmp_path / "rnnzoo-my-cell", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    installed = subprocess.run(
        [*pip, "--target", str(site), str(plugin)], capture_output=True, text=True, timeout=300
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(site)}
    listed = subprocess.run(
        [sys.executable, "-m", "rnnzoo", "cells", "--json"], capture_output=True, text=True, env=env
    )
    assert '"my-cell"' in listed.stdout, listed.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(plugin / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=plugin,
        timeout=900,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "10 passed" in tests.stdout, tests.stdout[-500:]


@pytest.mark.parametrize("name", ["Bad_Name", "gru"])
def test_new_cell_refuses_a_bad_or_taken_name(tmp_path, name):
    run = [sys.executable, "-m", "rnnzoo", "new", "cell", name, "--out", str(tmp_path)]
    result = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())

"""The cell contract is checked once, when a cell is built: each mistake a third-party cell
author makes is one line naming the cell, its plugin and the fix — through the real CLI, with
broken cells installed as a throw-away plugin distribution (a ``.dist-info`` on PYTHONPATH)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import rnnzoo
from rnnzoo.cells.base import Cell
from rnnzoo.cells.contract import (
    CellContractError,
    build_cell,
    check_cell,
    check_cell_class,
)
from rnnzoo.errors import UserError
from rnnzoo.recurrent import Recurrent
from tests.conftest import every_cell

ROOT = Path(__file__).resolve().parents[1]
TINY_SINE = ["--task", "sine", "--param", "n_train=64", "--param", "n_test=16", "--epochs", "1"]

LEAKY = """
import torch
from torch import nn

import rnnzoo
from rnnzoo.cells.base import Cell


class Leaky(Cell):
    description = "A leaky tanh cell."

    def __init__(self, input_size: int, hidden_size: int, leak: float = 0.5):
        super().__init__(input_size, hidden_size)
        self.ih = nn.Linear(input_size, hidden_size)
        self.hh = nn.Linear(hidden_size, hidden_size, bias=False)
        self.leak = leak

    def step(self, x, state):
        (h,) = state
        h = self.leak * h + (1 - self.leak) * torch.tanh(self.ih(x) + self.hh(h))
        return h, (h,)
"""

BROKEN = (
    LEAKY
    + """

class RaisingInit(Leaky):
    def __init__(self, input_size: int, hidden_size: int, leak: float = 0.5):
        raise ValueError("leak must be below 1\\nand a second line")


class BareState(Leaky):
    def step(self, x, state):
        y, (h,) = super().step(x, state)
        return h, h


class WrongSize(Leaky):
    def step(self, x, state):
        y, (h,) = super().step(x, state)
        return h, (torch.cat([h, h], dim=-1),)


class SizesMethod(Leaky):
    def state_sizes(self):
        return (self.hidden_size,)


class IntSizes(Leaky):
    @property
    def state_sizes(self):
        return self.hidden_size


class StepRaises(Leaky):
    def step(self, x, state):
        return self.hh(x), state


class NotACell(nn.Module):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()


@rnnzoo.hookimpl
def register_cells(register):
    register(RaisingInit, name="zz_raising_init")
    register(BareState, name="zz_bare_state")
    register(WrongSize, name="zz_wrong_size")
    register(SizesMethod, name="zz_sizes_method")
    register(IntSizes, name="zz_int_sizes")
    register(StepRaises, name="zz_step_raises")
    register(NotACell, name="zz_not_a_cell", description="forgot to subclass Cell")
"""
)


def readme_plugin(step_return: str = "return h, (h,)") -> str:
    """The module of README's "Write your own cell", with ``step``'s return line replaced."""
    section = (ROOT / "README.md").read_text().split("## Write your own cell", 1)[1]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    source = textwrap.dedent(next(b for b in blocks if "class MyCell" in b))
    assert "return h, (h,)" in source and "register(MyCell)" in source
    return source.replace("return h, (h,)", step_return, 1)


def make_distribution(
    root: Path, name: str, module_source: str, entry_point: str | None = None
) -> dict[str, str]:
    """Install a one-module distribution with an ``rnnzoo`` entry point (``entry_point``, else
    the module's name) into ``root``; return the environment that puts it on the path."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[rnnzoo]\n{entry_point or name} = {name}\n")
    return {"PYTHONPATH": str(root)}


@pytest.fixture
def broken_plugin(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    return make_distribution(site, "zz_broken_cells", BROKEN)


@pytest.mark.parametrize(
    "cell,fix",
    [
        ("zz_raising_init", "could not be built with input_size=1, hidden_size=32: ValueError"),
        ("zz_bare_state", "step's new_state is a Tensor, not a tuple; step must return"),
        ("zz_wrong_size", "new_state[0] is (2, 64), expected (batch, 32) = (2, 32) from state"),
        ("zz_sizes_method", "state_sizes must be a property returning a tuple of ints"),
        ("zz_int_sizes", "state_sizes must be a property returning a tuple of ints"),
        ("zz_step_raises", "step(x, state) raised RuntimeError"),
        ("zz_not_a_cell", "a cell must subclass rnnzoo.cells.base.Cell"),
    ],
)
def test_each_mistake_is_one_line_naming_cell_plugin_and_fix(
    cli, broken_plugin, tmp_path, cell, fix
):
    run = tmp_path / "run"
    result = cli(
        "train", *TINY_SINE, "--cell", cell, "--hidden", "32", "--out", str(run), env=broken_plugin
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert f"cell {cell!r} (plugin 'zz_broken_cells')" in result.stderr
    assert fix in result.stderr
    assert not run.exists(), "a run directory was left behind"


def test_constructor_error_keeps_its_first_line_only(cli, broken_plugin, tmp_path):
    result = cli(
        "train",
        *TINY_SINE,
        "--cell",
        "zz_raising_init",
        "--param",
        "leak=0.9",
        "--hidden",
        "8",
        "--out",
        str(tmp_path / "run"),
        env=broken_plugin,
    )
    assert result.stderr == (
        "Error: cell 'zz_raising_init' (plugin 'zz_broken_cells') could not be built with "
        "input_size=1, hidden_size=8, leak=0.9: ValueError: leak must be below 1\n"
    )


# --- in-process: the checks themselves -------------------------------------------------------


class Leaky(Cell):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.ih = nn.Linear(input_size, hidden_size)

    def step(self, x, state):
        h = torch.tanh(self.ih(x) + state[0])
        return h, (h,)


class BareState(Leaky):
    def step(self, x, state):
        y, (h,) = super().step(x, state)
        return h, h


class Counting(Leaky):
    """Counts its steps, and draws random numbers in each."""

    steps = 0

    def step(self, x, state):
        type(self).steps += 1
        return super().step(x + 0 * torch.rand_like(x), state)


class TwoStates(Leaky):
    """A two-state cell, as the README shows."""

    @property
    def state_sizes(self):
        return (self.hidden_size, 2 * self.hidden_size)

    def step(self, x, state):
        h, c = state
        c = c + self.ih(x).repeat(1, 2)
        h = torch.tanh(c[:, : self.hidden_size])
        return h, (h, c)


@pytest.mark.parametrize("name", every_cell())
def test_registered_cells_keep_the_contract(name):
    """Built-ins and installed plugins (the MGU one) pass the check."""
    from rnnzoo.registry import get_cell_class

    check_cell_class(get_cell_class(name), name)
    check_cell(rnnzoo.create_cell(name, 3, 5), name)


def test_lstm_with_peepholes_and_a_two_state_cell_pass():
    check_cell(rnnzoo.create_cell("lstm", 3, 5, peephole=True), "lstm")
    y, (h, c) = Recurrent(TwoStates, 3, 4, num_layers=2)(torch.zeros(2, 5, 3))
    assert y.shape == (2, 5, 4) and c.shape == (2, 2, 8)


def test_create_cell_with_a_bad_class():
    with pytest.raises(CellContractError, match=r"^cell class .*BareState: step's new_state is a"):
        rnnzoo.create_cell(BareState, 3, 4)
    with pytest.raises(CellContractError, match="not a subclass of rnnzoo.cells.base.Cell"):
        rnnzoo.create_cell(nn.Linear, 3, 4)
    with pytest.raises(rnnzoo.UnknownNameError, match="has no parameter 'leak'"):
        rnnzoo.create_cell(Leaky, 3, 4, leak=0.5)


def test_create_cell_with_a_bad_registered_class_names_its_plugin(monkeypatch):
    from rnnzoo.registry import Entry, tables

    entry = Entry(name="zz_bad", plugin="zz_plugin", description="", target=BareState)
    monkeypatch.setitem(tables().cells, "zz_bad", entry)
    with pytest.raises(CellContractError, match=r"^cell 'zz_bad' \(plugin 'zz_plugin'\): step's"):
        rnnzoo.create_cell("zz_bad", 3, 4)


def test_checked_once_per_configuration_without_touching_the_random_state():
    Counting.steps = 0
    rng = torch.get_rng_state()
    stack = Recurrent(Counting, 3, 4, num_layers=3, bidirectional=True)
    assert Counting.steps == 1  # one step on the first cell, not one per layer
    Recurrent(Counting, 3, 4, num_layers=3)
    assert Counting.steps == 1  # the same configuration is not checked again
    Recurrent(Counting, 3, 7)
    assert Counting.steps == 2
    assert stack.training and all(cell.training for cell in stack.cells)
    # only the cells' initialisation drew random numbers, as before the check existed
    torch.set_rng_state(rng)
    expected = [Counting(3 if i < 2 else 8, 4) for i in range(6)]
    for cell, reference in zip(stack.cells, expected):
        torch.testing.assert_close(cell.ih.weight, reference.ih.weight, rtol=0, atol=0)


def test_bad_stack_arguments_are_user_errors():
    with pytest.raises(UserError, match="num_layers must be at least 1"):
        Recurrent("gru", 2, 3, num_layers=0)
    with pytest.raises(UserError, match=r"dropout must be in \[0, 1\)"):
        Recurrent("gru", 2, 3, dropout=1.0)
    with pytest.raises(rnnzoo.UnknownNameError, match="did you mean"):
        build_cell("lstm", 2, 3, peepholes=True)


# --- a plugin that registers eagerly -----------------------------------------------------------


@pytest.mark.slow
def test_an_eager_plugin_works_registry_wide(cli, tmp_path):
    """README's plugin registers its class itself (``register(MyCell)``): it is listed, it
    trains, and the torch-free listing test still passes beside it (it leaves eager plugins
    out)."""
    env = make_distribution(tmp_path, "rnnzoo_mycell", readme_plugin(), entry_point="mycell")
    listed = cli("cells", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    cells = {c["name"]: c for c in json.loads(listed.stdout)}
    assert cells["mycell"] == {
        "name": "mycell",
        "plugin": "mycell",
        "description": "A leaky tanh cell.",
    }

    run = tmp_path / "run"
    trained = cli(
        "train", *TINY_SINE, "--cell", "mycell", "--hidden", "8", "--out", str(run), env=env
    )
    assert trained.returncode == 0, trained.stderr
    assert (run / "config.json").is_file()

    listing_test = "tests/test_cli.py::test_listing_cells_does_not_import_torch"
    nested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", listing_test],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=300,
    )
    assert nested.returncode == 0, nested.stdout + nested.stderr


def test_readme_shows_the_real_error(cli, tmp_path):
    """README's example mistake (``return h, h``) gives exactly the line README shows."""
    broken = readme_plugin("return h, h  # the mistake: new_state must be a tuple")
    env = make_distribution(tmp_path, "rnnzoo_mycell", broken, entry_point="mycell")
    result = cli(
        "train", "--task", "sine", "--cell", "mycell", "--out", str(tmp_path / "run"), env=env
    )
    assert result.returncode == 2
    section = (ROOT / "README.md").read_text().split("## Write your own cell", 1)[1]
    shown = section.split("$ rnnzoo train --task sine --cell mycell\n", 1)[1].split("\n", 1)[0]
    assert result.stderr == shown + "\n"
    assert not (tmp_path / "run").exists()


class Blocked(Leaky):
    """Declares a residual gated MLP between its layers."""

    @classmethod
    def layer_block(cls, size):
        from rnnzoo.cells.blocks import ResidualGatedMLP

        return ResidualGatedMLP(size)


class Centring(nn.Module):
    """Subtracts the mean over axis 1: time in a sequence, features in one step."""

    def forward(self, x):
        return x - x.mean(dim=1, keepdim=True)


def with_block(make):
    return type("Bad", (Leaky,), {"layer_block": classmethod(lambda cls, size: make(size))})


def test_a_block_between_layers_streams_like_the_whole_sequence():
    torch.manual_seed(0)
    stack = Recurrent(Blocked, 3, 4, num_layers=3)
    assert len(stack.blocks) == 2
    x = torch.randn(2, 6, 3)
    y, final = stack(x)
    state, steps = stack.initial_state(2), []
    for t in range(6):
        y_t, state = stack.step(x[:, t], state)
        steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), y)
    assert not Recurrent(Blocked, 3, 4, num_layers=1).blocks
    assert any(name.startswith("blocks.0.up") for name, _ in stack.named_parameters())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda size: Centring(), "mixes time steps"),
        (lambda size: nn.Linear(size, size + 1), "maps (2, 3, 4) and (2, 4) to (2, 3, 5)"),
        (lambda size: torch.tanh, "layer_block returned function"),
    ],
)
def test_a_bad_block_between_layers_is_one_line(make, message):
    with pytest.raises(CellContractError) as error:
        Recurrent(with_block(make), 3, 4, num_layers=2)
    text = str(error.value)
    assert text.startswith("cell class ") and message in text and "\n" not in text


class BareBridge(Leaky):
    def state_from(self, raw):
        return torch.tanh(raw[0])


def test_a_state_from_that_breaks_the_shapes_is_one_line():
    with pytest.raises(CellContractError) as error:
        rnnzoo.create_cell(BareBridge, 3, 4)
    text = str(error.value)
    assert "state_from(state)" in text and "shaped like its input" in text and "\n" not in text

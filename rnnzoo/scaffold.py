"""``rnnzoo new cell NAME``: a cell plugin distribution that installs and passes its own tests
as written — a pyproject with its entry point, the cell (an Elman cell to start from), a test
that runs the whole cell contract through ``rnnzoo.testing``, and a README."""

from __future__ import annotations

import re
from pathlib import Path

from rnnzoo.errors import UserError

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "rnnzoo-{name}"
version = "0.1.0"
description = "The {name} cell as an rnnzoo plugin."
requires-python = ">=3.10"
dependencies = ["rnnzoo", "torch>=2.2,<3"]

[project.entry-points.rnnzoo]
{name} = "{module}"

[tool.setuptools]
packages = ["{module}"]
"""

INIT = '''\
"""rnnzoo plugin: the {name} cell.

Registered lazily, by import path, so `rnnzoo cells` lists it without importing torch; the
class in ``{module}.cell`` is imported the first time the cell is built or inspected.
"""

import rnnzoo


@rnnzoo.hookimpl
def register_cells(register):
    register("{module}.cell:{cls}", name="{name}", description="{description}")
'''

CELL = '''\
"""The {name} cell. It starts as an Elman cell, h_t = tanh(W x_t + U h_{{t-1}} + b); make it
yours: cite its paper here and say what it is good at.

The contract (see ``rnnzoo.cells.base``): ``__init__(input_size, hidden_size, **params)``
with every further parameter typed and defaulted; ``step(x, state) -> (y, new_state)``;
declare ``state_sizes`` (or ``state_shapes`` for states that are not vectors) as a property.
Optional: ``sample_state`` (valid states for checks), ``after_optimizer_step`` (a weight
constraint), ``has_fused``/``fused_sequence`` (a parallel whole-sequence form).
``pytest`` in this folder runs every check of ``rnnzoo.testing`` on it.
"""

import torch
from torch import nn

from rnnzoo.cells.base import Cell


class {cls}(Cell):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size)
        self.ih = nn.Linear(input_size, hidden_size, bias=bias)
        self.hh = nn.Linear(hidden_size, hidden_size, bias=False)

    def step(self, x, state):
        (h,) = state
        h = torch.tanh(self.ih(x) + self.hh(h))
        return h, (h,)
'''

TEST = '''\
"""Every check of the cell contract on the {name} cell: shapes, batch independence,
determinism, gradients, padding, the parallel form against the step loop, export to ONNX,
every installed runtime and streaming. A failing check names itself and the fix."""

from rnnzoo.testing import parametrize_with_checks


@parametrize_with_checks(["{name}"])
def test_cell_contract(cell, check):
    check(cell)
'''

README = """\
# rnnzoo-{name}

The `{name}` cell for [rnnzoo](https://github.com/rnnzoo/rnnzoo).

```bash
pip install -e .                                   # registers the cell through its entry point
rnnzoo cells                                       # lists {name}
pytest                                             # every check of the cell contract
rnnzoo train --task sine --cell {name} --epochs 5 --out runs/sine-{name}
rnnzoo export runs/sine-{name} --out exports/sine-{name}
```

Edit `{module}/cell.py`; `pytest` names the check that fails and the fix.
"""


def new_cell(name: str, folder: Path) -> Path:
    """Write the plugin distribution ``rnnzoo-NAME`` into ``folder``; returns its path."""
    if not NAME.match(name):
        raise UserError(
            f"cell name {name!r}: use lowercase letters and digits, words joined by '-' "
            "(e.g. 'my-cell')"
        )
    from rnnzoo import list_cells

    if name in list_cells():
        raise UserError(f"a cell named {name!r} is already registered; choose another name")
    out = folder / f"rnnzoo-{name}"
    if out.exists():
        raise UserError(f"{out} exists; remove it or choose another name or --out folder")
    module = "rnnzoo_" + name.replace("-", "_")
    values = {
        "name": name,
        "module": module,
        "cls": "".join(word.capitalize() for word in name.split("-")),
        "description": f"The {name} cell (an Elman cell to start from).",
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{module}/__init__.py": INIT,
        f"{module}/cell.py": CELL,
        f"tests/test_{module[len('rnnzoo_') :]}.py": TEST,
    }
    staging = folder / f".rnnzoo-{name}.partial"
    for path, template in files.items():
        target = staging / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.format(**values))
    staging.rename(out)
    return out

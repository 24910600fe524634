"""``torch.compile`` for training (``--compile auto|on|off``).

Compiled, the step-by-step loop of a recurrent stack becomes one graph whose gate arithmetic is
fused into a few kernels: a Python cell (a plugin's) then trains faster than PyTorch's fused
GRU on the CPU; the built-in cells keep their fused kernels. Compiling costs tens of seconds
once; ``auto`` compiles only where that pays — a cell without a fused kernel, a run of many
steps, a C++ compiler at hand. Inductor's artifacts are cached under
``$RNNZOO_CACHE/inductor``, so the next run of the same model shape compiles in seconds.

The compile happens in ``warm_up``, on the first batch, before the first epoch: its time is
reported apart from the epochs' (``compile_seconds`` in the summary), and it changes nothing —
not the weights, buffers, gradients nor the random state — so a compiled run is the eager run
to within floating-point tolerance.
"""

from __future__ import annotations

import copy
import os
import shutil
import time
from typing import Any

import torch
from torch import nn

from rnnzoo.errors import UserError
from rnnzoo.files import cache_dir
from rnnzoo.recurrent import Recurrent

# inductor reads its cache folder once, when torch._dynamo is first imported (an optimizer
# does): so it is chosen here, on import, unless the user chose one
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir() / "inductor"))

# optimizer steps after which a first compile (~40 s on 2 CPU cores) is paid back by steps
# that take 30-60 % less time
PAYS_AFTER_STEPS = 5000


def compiler() -> str | None:
    """The C++ compiler inductor would use on the CPU, if any."""
    for name in (os.environ.get("CXX", ""), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def decide(mode: str, model: nn.Module, steps: int, device: torch.device) -> tuple[bool, str]:
    """Whether to compile, and why (for the run's header and summary)."""
    if mode == "off":
        return False, "off"
    needs_compiler = device.type == "cpu" and compiler() is None
    if mode == "on":
        if needs_compiler:
            raise UserError(
                "--compile on needs a C++ compiler (g++ or clang++) to compile for the CPU; "
                "install one, or use --compile off"
            )
        return True, "on"
    cells = [cell for m in model.modules() if isinstance(m, Recurrent) for cell in m.cells]
    if all(cell.has_fused for cell in cells):
        return False, "auto: off, every cell has a fused kernel"
    if steps < PAYS_AFTER_STEPS:
        return False, f"auto: off, {steps} steps are too few to pay for compiling"
    if needs_compiler:
        return False, "auto: off, no C++ compiler found"
    return True, f"auto: on, a cell without a fused kernel and {steps} steps"


def compiled(module: nn.Module) -> nn.Module:
    """``module`` (the model, or its DDP wrapper) through ``torch.compile``. A cell's step loop
    is compiled; a cell with a fused kernel keeps it (measured faster than its compiled step
    loop for the LSTM and the basic RNN on the CPU, ``benchmarks/train_speed.py``). The batch
    size may vary (the last batch); the sequence length is specialised, as the unrolled loop
    needs it."""
    return torch.compile(module, dynamic=True)


def warm_up(forward: Any, model: nn.Module, device: torch.device) -> float:
    """Run ``forward()`` (a forward and backward pass of the compiled module) once to compile
    it, then put back the model's weights, buffers and gradients and the random state;
    returns the seconds it took."""
    saved = copy.deepcopy(model.state_dict())
    started = time.perf_counter()
    cuda = device.type == "cuda"
    with torch.random.fork_rng(devices=[device] if cuda else [], device_type=device.type):
        forward()
    model.load_state_dict(saved)
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - started

"""How close an exported file's answers are to the reference's: one measure and one tolerance
for every check — the export against PyTorch, other runtimes and the edge targets against
onnxruntime, the chip against the step graph, ``verify`` against the recorded test data.

The measure is ``max |expected − got| / (1 + max |expected|)`` over each output: the absolute
difference for outputs up to about 1, and for larger ones the difference in units of the
output's magnitude, which is where float32 rounds. A forecast in the thousands is computed, and
rounded, at about 2.4e-4 whatever one element's own value; measured element by element (the
measure before), a forecast near zero in a batch of thousands looked like a wrong graph and
blocked the export. The tolerance grows with the square root of the steps a check streams past
``STEPS_AT_BASE``, as a recurrence's rounding errors do; a wrong graph — one weight moved by
1e-3 — differs by far more (``tests/test_closeness.py``, ``benchmarks/export_rounding.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

BASE_TOLERANCE = 1e-5
STEPS_AT_BASE = 100  # streams up to this long are held to BASE_TOLERANCE


RULE = (
    f"max |diff| / (1 + max |value|) ≤ {BASE_TOLERANCE:g}, × √(steps / {STEPS_AT_BASE}) "
    f"past {STEPS_AT_BASE} steps"
)


def tolerance(steps: int = 1) -> float:
    """What a check over ``steps`` streamed steps may differ by."""
    return BASE_TOLERANCE * math.sqrt(max(1.0, steps / STEPS_AT_BASE))


def difference(expected: np.ndarray, got: np.ndarray) -> float:
    """max |expected − got| / (1 + max |expected|) over one output; infinite when the shapes
    differ or ``got`` is not finite where ``expected`` is."""
    expected, got = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    if expected.shape != got.shape:
        return float("inf")
    if not expected.size:
        return 0.0
    with np.errstate(invalid="ignore"):
        gap = np.abs(expected - got)
    gap[(expected == got) | (np.isnan(expected) & np.isnan(got))] = 0.0  # inf = inf, NaN = NaN
    if np.isnan(gap).any():
        return float("inf")
    scale = np.abs(expected[np.isfinite(expected)])
    return float(gap.max() / (1 + (scale.max() if scale.size else 0.0)))


def worst(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """The largest ``difference`` over pairs of outputs (0 for none)."""
    return max((difference(e, g) for e, g in pairs), default=0.0)


def status(value: float, steps: int = 1) -> str:
    """A check's word in a card: ``ok`` or ``differs by …``."""
    return "ok" if value <= tolerance(steps) else f"differs by {value:.1e}"

"""What the edge targets of the step model share: which optional extra each one needs (checked
before any work, one line if missing), importing them, and silencing their native logging."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import tempfile
from typing import Any

from rnnzoo.errors import UserError

LITERT = "pip install 'rnnzoo[litert]' (litert-torch)"
MICRO = "pip install 'rnnzoo[micro]' (tflite-micro)"
EXECUTORCH = "pip install 'rnnzoo[executorch]' (executorch)"
# what each --format needs installed: (module, how to install it)
NEEDS = {
    "tflite": [("litert_torch", LITERT), ("ai_edge_litert", LITERT)],
    "micro": [("litert_torch", LITERT), ("ai_edge_litert", LITERT), ("tflite_micro", MICRO)],
    "pte": [("executorch", EXECUTORCH)],
}


def check_installed(formats: tuple[str, ...]) -> None:
    """Before any work: one line naming the extra a requested format needs."""
    for fmt in formats:
        for module, extra in NEEDS.get(fmt, []):
            if importlib.util.find_spec(module) is None:
                raise UserError(f"--format {fmt} needs {module}, which is not installed: {extra}")


def require(module: str, extra: str) -> Any:
    """Import an optional converter or runtime, or one line naming the extra to install."""
    try:
        with quiet():
            return importlib.import_module(module)
    except ImportError:
        raise UserError(f"this needs {module}, which is not installed: {extra}") from None


@contextlib.contextmanager
def quiet():
    """TensorFlow's and the converters' C++ logging goes to file descriptor 2 and their
    progress to stdout; neither belongs in rnnzoo's output."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)

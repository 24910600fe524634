"""Ctrl-C that always stops a command.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when SIGINT
arrives. In the first seconds of a command that is inside an import (torch, numpy), where it
is not safe: a library's import code swallowed it (the run went on and exited 0), died of it in
C++ (``terminate called ... KeyboardInterrupt``), or left a half-initialised module that failed
later with an unrelated error. So the command line's handler holds a Ctrl-C that lands inside
an import until the import has finished (a fraction of a second), and remembers every Ctrl-C,
so that code which swallowed one anyway stops at its next ``check()`` (each training step, and
the end of every command). Torch-free.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_received = False  # a Ctrl-C came
_held = False  # one came during an import and has not been raised yet
_asking = False  # the timer has just asked again for a held one
RETRY_SECONDS = 0.05  # how often a held Ctrl-C asks again


def install() -> None:
    """Handle SIGINT as above: for the command line only (a library leaves the signals to the
    program it runs in). A SIGINT its parent set to be ignored stays ignored."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_interrupt)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a Ctrl-C came (and something swallowed it, or it is
    still held)."""
    global _held
    if _received:
        _held = False
        raise KeyboardInterrupt


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    global _received, _held, _asking
    if _asking:
        _asking = False
        if not _held:
            return  # raised by ``check()`` meanwhile: once is enough
    _received = True
    if _importing(frame):
        _held = True
        timer = threading.Timer(RETRY_SECONDS, _ask_again)
        timer.daemon = True
        timer.start()
        return
    _held = False
    raise KeyboardInterrupt


def _ask_again() -> None:
    """Run the handler again (from the timer's thread): a signal to the main thread itself,
    which also wakes it from a blocking call."""
    global _asking
    _asking = True
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


def _importing(frame: FrameType | None) -> bool:
    """Whether the main thread is inside an ``import`` (a frame of importlib's machinery)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False

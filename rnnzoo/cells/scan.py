"""The parallel form of a diagonal linear recurrence, for cells that have one (minGRU, minLSTM):

    h_t = a_t ⊙ h_{t-1} + b_t,    0 < a_t ≤ 1,

solved for every ``t`` at once: ``h_t = A_t h_0 + Σ_{k≤t} (A_t / A_k) b_k`` with
``A_t = a_1 ⋯ a_t``, the sum in log space (``logcumsumexp``, Heinsen 2023; Feng et al. 2024),
its positive and negative parts apart so that ``b`` may take any sign. Chunks of ``chunk``
steps run in parallel and hand their last state to the next: within a chunk the log products
stay small (the error of one long scan grows with ``T``: 2.4e-4 at T = 784 for one scan of
784 steps in float32), and the chunks' loop is ``T / chunk`` iterations instead of ``T``.

A padded step (``t >= lengths[b]``) has ``a = 1, b = 0``: the state is frozen past each
sequence's end, as in the step loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

TINY = 1e-30  # log(0) is -inf, and its gradient nan: the empty part of b is this instead


def diagonal_scan(
    log_a: Tensor, b: Tensor, h0: Tensor, lengths: Tensor | None = None, chunk: int = 64
) -> Tensor:
    """``log_a``, ``b``: ``(batch, time, size)``; ``h0``: ``(batch, size)``; returns every
    ``h_t``, ``(batch, time, size)``."""
    if lengths is not None:
        valid = (torch.arange(b.shape[1], device=b.device) < lengths.to(b.device)[:, None])[
            ..., None
        ]
        log_a = torch.where(valid, log_a, torch.zeros_like(log_a))
        b = torch.where(valid, b, torch.zeros_like(b))
    outputs, h = [], h0
    for start in range(0, b.shape[1], chunk):
        log_a_part, b_part = log_a[:, start : start + chunk], b[:, start : start + chunk]
        log_prefix = log_a_part.cumsum(1)  # log A_t within the chunk
        parts = []
        for sign_part in (b_part.clamp(min=0), (-b_part).clamp(min=0)):
            log_terms = sign_part.clamp(min=TINY).log() - log_prefix
            parts.append((log_terms.logcumsumexp(1) + log_prefix).exp())
        states = log_prefix.exp() * h[:, None] + parts[0] - parts[1]
        outputs.append(states)
        h = states[:, -1]
    return torch.cat(outputs, 1)


def zero_padding(y: Tensor, lengths: Tensor | None) -> Tensor:
    """``y`` ``(batch, time, size)`` with the steps past each row's length set to zero, as the
    step loop outputs them."""
    if lengths is None:
        return y
    valid = torch.arange(y.shape[1], device=y.device) < lengths.to(y.device)[:, None]
    return y * valid[..., None].to(y.dtype)

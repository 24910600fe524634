"""Every registered cell — built-in or installed plugin — keeps the contract: it runs forward and
backward through deep, bidirectional, padded stacks. Parametrised over the registry, so a newly
installed plugin is tested automatically."""

import pytest
import torch

import rnnzoo
from tests.conftest import every_cell


@pytest.mark.parametrize("cell", every_cell())
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_backward(cell, bidirectional):
    torch.manual_seed(0)
    stack = rnnzoo.create_recurrent(
        cell, 3, 8, num_layers=2, bidirectional=bidirectional, dropout=0.1
    )
    x = torch.randn(4, 6, 3, requires_grad=True)
    lengths = torch.tensor([6, 2, 5, 1])
    y, state = stack(x, lengths)
    assert y.shape == (4, 6, stack.output_size)
    assert len(state) == len(stack.state_sizes)
    for s, size in zip(state, stack.state_sizes):
        assert s.shape == (2 * (2 if bidirectional else 1), 4, size)
    assert torch.all(y[1, 2:] == 0)
    (y.square().sum() + sum(s.square().sum() for s in state)).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad[1, 2:].abs().sum() == 0  # padded steps do not influence anything
    grads = [p.grad for p in stack.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("cell", every_cell())
def test_state_carries_over_between_chunks(cell):
    """Running a sequence in two chunks, passing the state along, equals running it whole."""
    torch.manual_seed(0)
    stack = rnnzoo.create_recurrent(cell, 3, 5, num_layers=2).eval()
    x = torch.randn(2, 8, 3)
    whole, whole_state = stack(x)
    first, state = stack(x[:, :3])
    second, state = stack(x[:, 3:], state=state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, atol=1e-5, rtol=0)
    for a, b in zip(state, whole_state):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)

"""Every check of the cell contract on sLSTM, and the stabiliser: it changes neither h nor the
ratio c / n, only keeps exp from overflowing."""

import torch
from rnnzoo_slstm.cell import SLSTM

from rnnzoo.testing import parametrize_with_checks


@parametrize_with_checks(["slstm"])
def test_cell_contract(cell, check):
    check(cell)


@parametrize_with_checks(["slstm"], params={"heads": 2})
def test_cell_contract_with_heads(cell, check):
    check(cell)


def test_the_stabiliser_changes_nothing_but_the_scale():
    """Unstabilised (m fixed at 0, float64) and stabilised steps give the same h."""
    torch.manual_seed(0)
    cell = SLSTM(3, 4).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    state = tuple(torch.zeros(2, 4, dtype=torch.float64) for _ in range(4))
    h_plain, c, n = state[0], state[1], state[2]
    for t in range(6):
        h, *_ = state = cell.step(x[t], state)[1]
        z, i, f, o = (cell.ih(x[t]) + cell.recurrent(h_plain)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.exp(i) * torch.tanh(z)
        n = torch.sigmoid(f) * n + torch.exp(i)
        h_plain = torch.sigmoid(o) * c / n
        torch.testing.assert_close(h, h_plain)

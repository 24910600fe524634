"""Every check of the cell contract on minGRU (the step loop, and the scan forced on CPU), and
its step against the paper's equations."""

import torch
from rnnzoo_mingru.cell import MinGRU, g

from rnnzoo.testing import parametrize_with_checks


@parametrize_with_checks(["mingru"])
def test_cell_contract(cell, check):
    check(cell)


@parametrize_with_checks(["mingru"], params={"parallel": "scan"})
def test_cell_contract_with_the_scan(cell, check):
    check(cell)


def test_step_follows_the_paper():
    torch.manual_seed(0)
    cell = MinGRU(3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    w_z, w_h = cell.ih.weight.chunk(2)
    b_z, b_h = cell.ih.bias.chunk(2)
    z = torch.sigmoid(x @ w_z.T + b_z)
    expected = (1 - z) * h + z * g(x @ w_h.T + b_h)
    y, (new,) = cell.step(x, (h,))
    torch.testing.assert_close(new, expected)
    torch.testing.assert_close(y, expected)

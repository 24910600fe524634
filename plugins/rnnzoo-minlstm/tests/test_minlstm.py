"""Every check of the cell contract on minLSTM (the step loop, and the scan forced on CPU), and
its step against the paper's equations."""

import torch
from rnnzoo_minlstm.cell import MinLSTM, g

from rnnzoo.testing import parametrize_with_checks


@parametrize_with_checks(["minlstm"])
def test_cell_contract(cell, check):
    check(cell)


@parametrize_with_checks(["minlstm"], params={"parallel": "scan"})
def test_cell_contract_with_the_scan(cell, check):
    check(cell)


def test_step_follows_the_paper():
    torch.manual_seed(0)
    cell = MinLSTM(3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    f, i, candidate = (x @ w.T + b for w, b in zip(cell.ih.weight.chunk(3), cell.ih.bias.chunk(3)))
    f, i = torch.sigmoid(f), torch.sigmoid(i)
    expected = f / (f + i) * h + i / (f + i) * g(candidate)
    _, (new,) = cell.step(x, (h,))
    torch.testing.assert_close(new, expected)

"""Every check of the cell contract on the LRU, and its real 2x2 blocks against complex
arithmetic."""

import torch
from rnnzoo_lru.cell import LRU

from rnnzoo.testing import parametrize_with_checks


@parametrize_with_checks(["lru"])
def test_cell_contract(cell, check):
    check(cell)


def test_real_blocks_compute_the_complex_recurrence():
    torch.manual_seed(0)
    cell = LRU(3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 8)  # [Re h, Im h]
    lam = torch.exp(-torch.exp(cell.nu_log) + 1j * torch.exp(cell.theta_log))
    gamma = torch.sqrt(1 - lam.abs() ** 2)
    b_re, b_im = cell.b.weight.chunk(2)
    hc = torch.complex(*h.chunk(2, dim=-1))
    expected = lam * hc + gamma * (x.to(torch.complex64) @ torch.complex(b_re, b_im).T)
    _, (new,) = cell.step(x, (h,))
    torch.testing.assert_close(torch.complex(*new.chunk(2, dim=-1)), expected)
    assert float(lam.abs().max().detach()) < 1  # stable by construction

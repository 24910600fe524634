"""Every check of the cell contract on mLSTM (states that are matrices), and its step against
the paper's equations written head by head."""

import torch
import torch.nn.functional as F
from rnnzoo_mlstm.cell import MLSTM

from rnnzoo.testing import parametrize_with_checks


@parametrize_with_checks(["mlstm"])
def test_cell_contract(cell, check):
    check(cell)


@parametrize_with_checks(["mlstm"], params={"heads": 2})
def test_cell_contract_with_heads(cell, check):
    check(cell)


def test_step_follows_the_paper_head_by_head():
    torch.manual_seed(0)
    cell = MLSTM(3, 4, heads=2)
    x = torch.randn(1, 3)
    c, n, m = (0.3 * torch.randn(1, *shape) for shape in cell.state_shapes)
    y, (c_new, n_new, m_new) = cell.step(x, (c, n, m))
    q, k, v, o = cell.qkvo(x)[0].chunk(4)
    gates = cell.gates(x)[0]
    for head in range(2):
        part = slice(2 * head, 2 * head + 2)
        i_raw, f_raw = gates[head], gates[2 + head]
        m_h = torch.maximum(F.logsigmoid(f_raw) + m[0, head, 0], i_raw)
        i_gate = torch.exp(i_raw - m_h)
        f_gate = torch.exp(F.logsigmoid(f_raw) + m[0, head, 0] - m_h)
        key = k[part] / 2**0.5
        memory = f_gate * c[0, head] + i_gate * torch.outer(v[part], key)
        norm = f_gate * n[0, head] + i_gate * key
        read = memory @ q[part] / torch.maximum((norm @ q[part]).abs(), torch.exp(-m_h))
        torch.testing.assert_close(c_new[0, head], memory)
        normed = (read - read.mean()) / torch.sqrt((read - read.mean()).square().mean() + 1e-5)
        torch.testing.assert_close(y[0, part], torch.sigmoid(o[part]) * normed)

"""The MGU plugin: registered only through its entry point, and its step follows the paper."""

import torch
from rnnzoo_mgu.cell import MGU

import rnnzoo


def test_registered_through_entry_point():
    from rnnzoo.registry import cell_entry

    assert "mgu" in rnnzoo.list_cells()
    assert cell_entry("mgu").plugin == "mgu"


def test_step_matches_paper_equations():
    torch.manual_seed(0)
    cell = MGU(3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    w_f, w_h = cell.ih.weight.chunk(2)
    b_f, b_h = cell.ih.bias.chunk(2)
    f = torch.sigmoid(x @ w_f.T + b_f + h @ cell.fh.weight.T)
    h_tilde = torch.tanh(x @ w_h.T + b_h + (f * h) @ cell.hh.weight.T)
    expected = (1 - f) * h + f * h_tilde
    y, (new_h,) = cell.step(x, (h,))
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(new_h, expected)


def test_stack_trains():
    torch.manual_seed(0)
    stack = rnnzoo.create_recurrent("mgu", 2, 8, num_layers=2, bidirectional=True)
    x = torch.randn(4, 5, 2)
    target = x.sum(-1, keepdim=True).cumsum(1)
    head = torch.nn.Linear(stack.output_size, 1)
    opt = torch.optim.Adam([*stack.parameters(), *head.parameters()], lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(head(stack(x)[0]), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]

"""The library's unrolling: fused and step paths agree, padding is masked, and the stack
matches PyTorch's own multi-layer, bidirectional modules."""

import pytest
import torch

import rnnzoo
from rnnzoo.recurrent import Recurrent, reverse_padded

BUILTIN = [("rnn", {}), ("rnn", {"activation": "relu"}), ("lstm", {}), ("gru", {})]
LENGTHS = torch.tensor([7, 3, 1, 5])


def make(cell, params, layers, bidirectional, **kw):
    torch.manual_seed(0)
    return Recurrent(
        cell, 5, 6, num_layers=layers, bidirectional=bidirectional, **params, **kw
    ).eval()


@pytest.mark.parametrize("cell,params", BUILTIN)
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_fused_equals_step(cell, params, layers, bidirectional, padded):
    stack = make(cell, params, layers, bidirectional)
    x = torch.randn(4, 7, 5)
    lengths = LENGTHS if padded else None
    state = tuple(torch.randn_like(s) for s in stack.initial_state(4))
    stack.fused = True
    y_fused, s_fused = stack(x, lengths, state)
    stack.fused = False
    y_step, s_step = stack(x, lengths, state)
    torch.testing.assert_close(y_fused, y_step, atol=1e-5, rtol=0)
    for a, b in zip(s_fused, s_step):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "cell,torch_cls", [("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]
)
def test_matches_pytorch_multilayer_bidirectional(cell, torch_cls):
    stack = make(cell, {}, 2, True)
    reference = torch_cls(5, 6, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for layer in range(2):
            for direction, suffix in enumerate(["", "_reverse"]):
                inner = stack.cells[2 * layer + direction].rnn
                for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
                    getattr(reference, f"{name}_l{layer}{suffix}").copy_(
                        getattr(inner, f"{name}_l0")
                    )
    x = torch.randn(3, 9, 5)
    expected, expected_state = reference(x)
    expected_state = expected_state if isinstance(expected_state, tuple) else (expected_state,)
    for fused in (True, False):
        stack.fused = fused
        y, state = stack(x)
        torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)
        for a, b in zip(state, expected_state):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("fused", [True, False])
def test_padded_batch_equals_each_sequence_alone(fused):
    stack = make("lstm", {}, 2, True)
    stack.fused = fused
    x = torch.randn(4, 7, 5)
    y, state = stack(x, LENGTHS)
    for b, length in enumerate(LENGTHS.tolist()):
        alone_y, alone_state = stack(x[b : b + 1, :length])
        torch.testing.assert_close(y[b : b + 1, :length], alone_y, atol=1e-5, rtol=0)
        assert torch.all(y[b, length:] == 0)
        for a, s in zip(state, alone_state):
            torch.testing.assert_close(a[:, b : b + 1], s, atol=1e-5, rtol=0)


def test_peephole_lstm_uses_step_path_and_peepholes_matter():
    stack = make("lstm", {"peephole": True}, 1, False)
    assert not stack.cells[0].has_fused
    x = torch.randn(2, 4, 5)
    y, _ = stack(x)
    with torch.no_grad():
        stack.cells[0].peep.zero_()
    y_without, _ = stack(x)
    assert not torch.allclose(y, y_without)


def test_lstm_forget_bias():
    cell = rnnzoo.create_cell("lstm", 3, 4, forget_bias=2.5)
    total = cell.rnn.bias_ih_l0 + cell.rnn.bias_hh_l0
    torch.testing.assert_close(total[4:8], torch.full((4,), 2.5))


def test_reverse_padded_is_its_own_inverse():
    x = torch.arange(2 * 5, dtype=torch.float).reshape(2, 5, 1)
    lengths = torch.tensor([5, 3])
    r = reverse_padded(x, lengths)
    assert r[1, :, 0].tolist() == [7.0, 6.0, 5.0, 8.0, 9.0]
    torch.testing.assert_close(reverse_padded(r, lengths), x)


def test_projection_and_dropout():
    stack = Recurrent("gru", 5, 6, num_layers=2, dropout=0.5, proj_size=3)
    y, _ = stack(torch.randn(2, 4, 5), torch.tensor([4, 2]))
    assert y.shape == (2, 4, 3)
    assert torch.all(y[1, 2:] == 0)


def test_bad_arguments():
    with pytest.raises(rnnzoo.UnknownNameError, match="did you mean lstm"):
        rnnzoo.create_recurrent("lstmm", 2, 3)
    with pytest.raises(rnnzoo.UnknownNameError, match="valid: forget_bias, peephole, bias"):
        rnnzoo.create_cell("lstm", 2, 3, peepholes=True)
    with pytest.raises(ValueError, match="num_layers"):
        rnnzoo.create_recurrent("gru", 2, 3, num_layers=0)

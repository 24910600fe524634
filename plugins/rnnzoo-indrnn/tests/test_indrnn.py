"""Every check of the cell contract on IndRNN, its step, and the clip of its recurrent
weights after every optimiser step — in rnnzoo's training loop."""

import torch
from rnnzoo_indrnn.cell import IndRNN

from rnnzoo.testing import parametrize_with_checks
from rnnzoo.trainer import TrainConfig, train


@parametrize_with_checks(["indrnn"])
def test_cell_contract(cell, check):
    check(cell)


def test_step_follows_the_paper():
    torch.manual_seed(0)
    cell = IndRNN(3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    expected = torch.relu(x @ cell.ih.weight.T + cell.ih.bias + cell.u * h)
    torch.testing.assert_close(cell.step(x, (h,))[0], expected)


def test_training_keeps_the_recurrent_weights_within_the_limit(tmp_path):
    """A learning rate far too big pushes u past the limit; the hook brings it back each step."""
    config = TrainConfig(
        task="sine", cell="indrnn", cell_params={"recurrent_max": 0.5}, hidden=8, lr=5.0,
        epochs=1, max_steps=3, batch_size=16, clip=0.0, device="cpu", compile="off",
    )  # fmt: skip
    train(config, tmp_path / "run", quiet=True)
    from safetensors.torch import load_file

    weights = load_file(tmp_path / "run" / "model.safetensors")
    u = next(value for key, value in weights.items() if key.endswith("cells.0.u"))
    assert float(u.abs().max()) <= 0.5 + 1e-6

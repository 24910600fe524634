"""The synthetic tasks of modern recurrent cells — parity, selective-copy, recall — and
seqmnist's pixel-by-pixel and permuted readings: the data says what the task says, splits
are reproducible from the seed, bad parameters are refused in one line, and a real
``rnnzoo train`` runs and reports the test lengths."""

import json

import numpy as np
import pytest
import torch

from rnnzoo.errors import UserError
from rnnzoo.registry import create_task
from rnnzoo.tasks.parity import TEST_LENGTHS
from rnnzoo.tasks.selective_copy import IGNORE
from rnnzoo.tasks.seqmnist import write_bars

PARITY = {"train_length": 12, "n_train": 300, "n_validation": 50, "n_test": 20}
COPY = {"length": 20, "tokens": 5, "vocab": 6, "n_train": 200, "n_test": 50}
RECALL = {"pairs": 6, "queries": 4, "n_keys": 10, "n_values": 7, "n_train": 200, "n_test": 50}


def same_splits(a: dict, b: dict) -> bool:
    return all(
        all(torch.equal(p, q) for p, q in zip(a[k].tensors(), b[k].tensors(), strict=True))
        for k in ("train", "validation", "test")
    )


@pytest.mark.parametrize(
    "name,params", [("parity", PARITY), ("selective-copy", COPY), ("recall", RECALL)]
)
def test_the_seed_decides_the_data(name, params):
    first = create_task(name, params).load()
    assert same_splits(first, create_task(name, params).load())
    assert not same_splits(first, create_task(name, {**params, "seed": 7}).load())


def test_parity_labels_are_the_xor_of_the_bits():
    task = create_task("parity", PARITY)
    splits = task.load()
    for name, split in splits.items():
        steps = torch.arange(split.x.shape[1])
        valid = steps < split.lengths[:, None]
        assert torch.equal(split.x.sum(-1), valid.float())  # one-hot, padded steps all zero
        bits = split.x[..., 1].long()
        xor = torch.zeros(len(split), dtype=torch.long)
        for t in range(split.x.shape[1]):
            xor ^= bits[:, t]
        assert torch.equal(split.y[:, 0], xor), name
        assert torch.equal(split.y[:, 1], split.lengths), name
    for name in ("train", "validation"):
        lengths = splits[name].lengths
        assert lengths.min() >= 1 and lengths.max() <= PARITY["train_length"]
        assert splits[name].x.shape[1] == PARITY["train_length"]
    test = splits["test"]
    assert sorted(set(test.lengths.tolist())) == list(TEST_LENGTHS) == [256, 1024]
    for length in TEST_LENGTHS:
        assert (test.lengths == length).sum() == PARITY["n_test"]
    assert set(test.lengths[:2].tolist()) == {256, 1024}  # a prefix holds both
    assert 0.3 < splits["train"].y[:, 0].float().mean() < 0.7


def test_parity_scores_each_test_length():
    task = create_task("parity", PARITY)
    splits = task.load()
    test = splits["test"]
    perfect = torch.nn.functional.one_hot(test.y[:, 0], 2).float() * 10
    wrong_on_1024 = perfect.clone()
    wrong_on_1024[test.lengths == 1024] = perfect[test.lengths == 1024].flip(-1)
    metrics = task.evaluate(wrong_on_1024, test.y)
    assert [m.name for m in task.metrics] == ["accuracy", "accuracy_256", "accuracy_1024", "loss"]
    assert metrics["accuracy_256"] == 1.0 and metrics["accuracy_1024"] == 0.0
    assert metrics["accuracy"] == pytest.approx(0.5)
    validation = splits["validation"]
    on_validation = task.evaluate(torch.zeros(len(validation), 2), validation.y)
    assert set(on_validation) == {"accuracy", "loss"}  # no test lengths there
    baseline = task.baseline(splits["train"], test)
    assert {"accuracy", "accuracy_256", "accuracy_1024"} <= set(baseline)
    assert 0.3 < baseline["accuracy"] < 0.7


def test_selective_copy_answers_are_the_data_tokens_in_order():
    task = create_task("selective-copy", COPY)
    length, tokens, vocab = COPY["length"], COPY["tokens"], COPY["vocab"]
    assert task.input_size == vocab + 2 and task.output_size == vocab
    for split in task.load().values():
        assert split.x.shape[1:] == (length + tokens, vocab + 2)
        assert torch.equal(split.x.sum(-1), torch.ones(split.x.shape[:2]))  # one-hot
        ids = split.x.argmax(-1)
        assert (ids[:, length:] == task.marker).all()
        for row, target in zip(ids, split.y, strict=True):
            data = row[:length][row[:length] != task.blank]
            assert len(data) == tokens and (data < vocab).all()
            assert torch.equal(target[length:], data)
            assert (target[:length] == IGNORE).all()
    # the positions vary (else the task would be plain copying)
    first = task.load()["train"].x.argmax(-1)[:, :length] != task.blank
    assert len({tuple(np.flatnonzero(row)) for row in first.numpy()}) > 100


def test_recall_answers_are_the_values_bound_to_the_queried_keys():
    task = create_task("recall", RECALL)
    pairs, queries = RECALL["pairs"], RECALL["queries"]
    n_keys = RECALL["n_keys"]
    assert task.input_size == n_keys + RECALL["n_values"] and task.output_size == RECALL["n_values"]
    for split in task.load().values():
        assert split.x.shape[1] == 2 * pairs + queries
        ids = split.x.argmax(-1)
        for row, target in zip(ids.tolist(), split.y.tolist(), strict=True):
            keys, values = row[0 : 2 * pairs : 2], row[1 : 2 * pairs : 2]
            assert all(k < n_keys for k in keys) and len(set(keys)) == pairs
            assert all(v >= n_keys for v in values)
            bound = dict(zip(keys, values, strict=True))
            asked = row[2 * pairs :]
            assert len(set(asked)) == queries and set(asked) <= set(keys)
            assert target[2 * pairs :] == [bound[k] - n_keys for k in asked]
            assert target[: 2 * pairs] == [IGNORE] * (2 * pairs)


@pytest.mark.parametrize(
    "name,params", [("selective-copy", COPY), ("recall", RECALL)], ids=["copy", "recall"]
)
def test_answer_metrics_and_baseline(name, params):
    task = create_task(name, params)
    splits = task.load()
    test = splits["test"]
    perfect = torch.nn.functional.one_hot(test.y.clamp(min=0), task.output_size).float() * 10
    metrics = task.evaluate(perfect, test.y)
    assert metrics["accuracy"] == metrics["exact_match"] == 1.0
    perfect[0, -1] = perfect[0, -1].roll(1)  # one answer wrong
    metrics = task.evaluate(perfect, test.y)
    answers = (test.y != IGNORE).sum().item()
    assert metrics["accuracy"] == pytest.approx(1 - 1 / answers)
    assert metrics["exact_match"] == pytest.approx(1 - 1 / len(test))
    baseline = task.baseline(splits["train"], test)
    assert baseline["accuracy"] < 0.4 and baseline["exact_match"] < 0.1


@pytest.mark.parametrize(
    "name,params,message",
    [
        ("parity", {"train_length": 1}, "train_length"),
        ("parity", {"n_test": 0}, "n_test"),
        ("selective-copy", {"length": 4, "tokens": 8}, "length must be at least tokens"),
        ("selective-copy", {"vocab": 1}, "vocab"),
        ("recall", {"queries": 9, "pairs": 8}, "queries"),
        ("recall", {"n_keys": 4, "pairs": 8}, "n_keys"),
        ("seqmnist", {"permute": True}, "permute needs pixels"),
    ],
)
def test_bad_parameters_are_refused_in_one_line(name, params, message):
    with pytest.raises(UserError, match=message) as error:
        create_task(name, params)
    assert "\n" not in str(error.value)


def test_seqmnist_reads_pixel_by_pixel_and_permuted(tmp_path):
    data_dir = str(write_bars(tmp_path / "idx", n_train=100, n_test=40))
    common = {"data_dir": data_dir, "validation_size": 20}
    rows = create_task("seqmnist", common)
    assert rows.input_size == 28
    by_rows = rows.load()
    assert by_rows["train"].x.shape[1:] == (28, 28)  # the default is unchanged
    pixels = create_task("seqmnist", {**common, "pixels": True})
    assert pixels.input_size == 1
    by_pixels = pixels.load()
    permuted = create_task("seqmnist", {**common, "pixels": True, "permute": True})
    order = np.random.default_rng(42).permutation(784)
    assert np.array_equal(permuted.order(), order)
    assert "permutation(784)" in permuted.preprocessing
    by_permutation = permuted.load()
    for name, split in by_rows.items():
        flat = split.x.reshape(len(split), 784, 1)
        assert torch.equal(by_pixels[name].x, flat)
        assert torch.equal(by_permutation[name].x, flat[:, order])
        assert torch.equal(by_permutation[name].y, split.y)
    other = create_task("seqmnist", {**common, "pixels": True, "permute": True, "seed": 1})
    assert not np.array_equal(other.order(), order)


def test_train_parity_reports_the_test_lengths(tmp_path, cli):
    out = tmp_path / "run"
    result = cli(
        "train",
        "--task",
        "parity",
        "--cell",
        "gru",
        "--hidden",
        "8",
        "--max-steps",
        "3",
        "--quiet",
        "--json",
        "--param",
        "train_length=8",
        "--param",
        "n_train=128",
        "--param",
        "n_validation=32",
        "--param",
        "n_test=16",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {"accuracy", "accuracy_256", "accuracy_1024", "loss"} <= set(summary["test"])
    assert "accuracy_1024" not in summary["validation"]
    assert summary["against_baseline"]["metric"] == "accuracy"


def test_train_refuses_a_bad_parameter_in_one_line(tmp_path, cli):
    result = cli(
        "train",
        "--task",
        "selective-copy",
        "--cell",
        "gru",
        "--param",
        "tokens=0",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "tokens must be >= 1" in lines[0], result.stderr

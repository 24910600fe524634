"""Every registered cell trains on every registered task: a few optimizer steps of the real
training step make the loss fall. Parametrised over the registry, so installed plugins join in."""

import pytest
import torch

import rnnzoo
from rnnzoo.model import build_model
from rnnzoo.registry import get_task_class, task_entry
from rnnzoo.runs import create_task
from rnnzoo.trainer import TrainConfig, train_step
from tests.corpus import write_corpus
from tests.idx_files import write_mnist_like


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist_like(folder)
    return folder


@pytest.fixture(scope="module")
def loaded_tasks(mnist_dir):
    tasks = {}
    for name in rnnzoo.list_tasks():
        params = dict(get_task_class(name).smoke_params)
        if name in ("seqmnist", "caption"):
            params["data_dir"] = str(mnist_dir)
        if name == "translate":
            params["data_file"] = str(write_corpus(mnist_dir / "corpus.tsv"))
        task = create_task(name, params)
        tasks[name] = (task, task.load())
    return tasks


@pytest.mark.parametrize("task_name", rnnzoo.list_tasks())
def test_registration_matches_class(task_name):
    entry = task_entry(task_name)
    assert entry.kind == entry.load().kind


@pytest.mark.parametrize("task_name", rnnzoo.list_tasks())
@pytest.mark.parametrize("cell", rnnzoo.list_cells())
def test_loss_falls(loaded_tasks, task_name, cell):
    task, splits = loaded_tasks[task_name]
    torch.manual_seed(0)
    model = build_model(task, cell, hidden=32)
    config = TrainConfig(task=task_name, cell=cell, lr=1e-2, batch_size=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    train = splits["train"]
    batch = [t[:32] for t in train.tensors()]

    def loss() -> float:
        with torch.no_grad():
            model.eval()
            x, y, lengths = batch[0], batch[1], batch[2] if len(batch) > 2 else None
            if task.kind in ("encdec", "vec2seq"):  # the loss it trains on: teacher-forced
                value = task.loss(model(x, lengths, target=y), y)
            else:
                value = task.loss(model(x, lengths), y)
            model.train()
            return value.item()

    before = loss()
    for _ in range(25):
        train_step(model, task, batch, config, optimizer, scaler, torch.device("cpu"))
    assert loss() < 0.8 * before


@pytest.mark.parametrize("task_name", rnnzoo.list_tasks())
def test_splits_and_baseline(loaded_tasks, task_name):
    task, splits = loaded_tasks[task_name]
    assert set(splits) == {"train", "validation", "test"}
    for split in splits.values():
        assert len(split.x) == len(split.y) > 0
        assert split.x.shape[-1] == task.input_size or task.kind != "seq2seq"
    baseline = task.baseline(splits["train"], splits["test"])
    assert task.metrics[0].name in baseline

"""What a user sees when training: the header, plain epoch lines, the summary in words, the
baseline verdict, and the figures (checked through matplotlib's objects, not pixels)."""

import json
import re

import matplotlib.image
import pytest

from rnnzoo import plots
from rnnzoo.registry import create_task
from rnnzoo.rundir import RunDir, compare_runs
from rnnzoo.trainer.loop import against_baseline
from rnnzoo.trainer.progress import Progress, duration, format_record

SMALL = ["--task", "sine", "--cell", "gru", "--hidden", "16", "--param", "n_train=2000"]
SMALL += ["--param", "n_test=40", "--seed", "0"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from conftest import run_cli

    root = tmp_path_factory.mktemp("runs")
    good = run_cli("train", *SMALL, "--epochs", "4", "--lr", "1e-2", "--out", str(root / "good"))
    bad = run_cli("train", *SMALL, "--epochs", "1", "--lr", "1e-7", "--out", str(root / "bad"))
    return root, good, bad


def test_training_prints_a_header_plain_epochs_and_a_summary_in_words(two_runs):
    root, good, _ = two_runs
    assert good.returncode == 0, good.stderr
    lines = good.stdout.splitlines()
    assert lines[0].startswith("training gru on sine: 1x16,") and lines[0].endswith(
        f"-> {root / 'good'}"
    ), lines[0]
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/4", "2/4", "3/4", "4/4"]
    assert "eta " in epochs[0] and "eta " not in epochs[-1]
    assert not re.search(r"\de[+-]\d", " ".join(epochs)), epochs  # no 1.037e+04
    words = good.stdout[good.stdout.index("Trained gru (1x16) on sine") :]
    assert "lower than" in words and "persistence" in words
    assert f"In {root / 'good'}: model.safetensors" in words and "curve.png" in words
    assert f"Next: rnnzoo export {root / 'good'} --out exports/my-good" in words


def test_a_run_worse_than_its_baseline_says_so(two_runs):
    root, _, bad = two_runs
    assert bad.returncode == 0, bad.stderr
    assert "WARNING: test mse" in bad.stdout and "no better than" in bad.stdout
    summary = json.loads((root / "bad" / "summary.json").read_text())
    assert summary["against_baseline"]["better"] is False
    good = json.loads((root / "good" / "summary.json").read_text())
    assert good["against_baseline"]["better"] is True


def test_against_baseline_follows_the_metric_direction():
    task = create_task("mnist1d", {"num_samples": 200, "validation_size": 20})
    assert against_baseline(task, {"accuracy": 0.5}, {"accuracy": 0.1})["better"]
    assert not against_baseline(task, {"accuracy": 0.1}, {"accuracy": 0.1})["better"]
    sine = create_task("sine", {})
    assert against_baseline(sine, {"mse": 0.1}, {"mse": 0.6})["better"]
    assert not against_baseline(sine, {"mse": 2e20}, {"mse": 0.6})["better"]


def test_progress_into_a_log_prints_within_a_long_epoch(capsys):
    progress = Progress(True, epochs=2, every=0.0)  # not a terminal under pytest
    progress.new_epoch(0, steps=4)
    progress.advance(0.5, 1234.0)
    assert "epoch 1/2: step 1/4  loss 0.5  1,234 seq/s  epoch ends in" in capsys.readouterr().out
    quiet = Progress(False, epochs=2, every=0.0)
    quiet.new_epoch(0, steps=4)
    quiet.advance(0.5, 1.0)
    quiet.log("nothing")
    assert capsys.readouterr().out == ""


def test_numbers_read_plainly():
    assert [duration(s) for s in (8.2, 125, 3840)] == ["8 s", "2 min 05 s", "1 h 04 min"]
    record = {"epoch": 3, "step": 9, "train_loss": 0.01234, "lr": 1e-3, "seconds": 1.04}
    line = format_record({**record, "sequences_per_second": 10370.4}, 20)
    assert line == "epoch 3/20  train_loss 0.01234  1.0 s  10,370 seq/s"


def test_the_learning_curve_figure(two_runs):
    root, _, _ = two_runs
    fig = plots.curves([RunDir(root / "good")])
    loss_ax, metric_ax = fig.axes
    assert loss_ax.get_xlabel() == metric_ax.get_xlabel() == "epoch"
    assert loss_ax.get_ylabel().startswith("loss") and metric_ax.get_ylabel() == "validation mse"
    labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert labels == ["training loss", "validation loss"]  # together, on one axis
    labels = [t.get_text() for t in metric_ax.get_legend().get_texts()]
    assert labels[0] == "validation mse" and labels[1].startswith("baseline (test): ")
    assert any(t.get_text().startswith("best: epoch ") for t in metric_ax.texts)
    assert (
        str(root / "good") in fig._suptitle.get_text()
        and "sine · gru 1x16" in fig._suptitle.get_text()
    )
    plots.pyplot().close(fig)
    assert matplotlib.image.imread(root / "good" / "curve.png").shape[2] in (3, 4)


def test_plot_overlays_runs_and_runs_compares_them(two_runs, cli):
    root, _, _ = two_runs
    result = cli("plot", str(root / "good"), str(root / "bad"))
    assert result.returncode == 0, result.stderr
    assert matplotlib.image.imread(root / "compare.png").ndim == 3
    fig = plots.curves([RunDir(root / "good"), RunDir(root / "bad")])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [
        "good: training loss",
        "good: validation loss",
        "bad: training loss",
        "bad: validation loss",
    ]
    plots.pyplot().close(fig)
    rows = compare_runs(root)
    assert [r["run"] for r in rows] == ["bad", "good"]
    assert rows[1]["epochs"] == "4/4" and rows[1]["metric"].startswith("mse ")
    table = cli("runs", str(root))
    assert table.returncode == 0 and "good" in table.stdout and "bad" in table.stdout
    assert cli("plot", str(root / "nothing")).returncode == 2


def test_generate_plots_the_true_series_and_prints_rows(two_runs, cli, tmp_path):
    root, _, _ = two_runs
    result = cli("generate", str(root / "good"), "--steps", "25", "--plot", str(tmp_path / "g.png"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "25 values generated after the first test window (20 steps):"
    assert [len(line.split()) for line in lines[1:4]] == [11, 11, 6]  # 10 values per row
    assert matplotlib.image.imread(tmp_path / "g.png").ndim == 3
    run = RunDir(root / "good").load()
    truth = run.task.continuation("test", 0, 25)
    seed = run.splits["test"].x[0, :, 0].numpy()
    fig = plots.generated(seed, truth[:, 0], truth[:, 0], "t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "seed window (test data)",
        "true series",
        "generated",
    ]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "value" and ax.get_title() == "t"
    plots.pyplot().close(fig)
    # the continuation carries on the window's own series: its first value is the target's last
    assert abs(truth[0, 0] - run.splits["test"].y[0, -1, 0].item()) < 1e-5


def test_the_python_api_shows_the_summary_unless_quiet(tmp_path, capsys):
    import rnnzoo

    options = {"epochs": 1, "hidden": 8, "task_params": {"n_train": 200, "n_test": 20}}
    rnnzoo.train("sine", "gru", out=str(tmp_path / "a"), **options)
    shown = capsys.readouterr().out
    assert shown.startswith("training gru on sine") and "test: mse " in shown
    assert "Trained gru (1x8) on sine" in shown
    rnnzoo.train("sine", "gru", out=str(tmp_path / "b"), quiet=True, **options)
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_max_steps_sets_the_epochs_the_header_eta_and_runs_count_to(tmp_path, cli):
    """--epochs 1000 --max-steps 100: every count is to the epochs that 100 steps make."""
    run = tmp_path / "capped"
    result = cli("train", *SMALL, "--epochs", "1000", "--max-steps", "100", "--out", str(run))
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    steps = int(re.search(r"of (\d+) steps", header).group(1))
    planned = -(-100 // steps)
    assert planned > 1 and f" {planned} epochs (--max-steps 100) of {steps}" in header, header
    epochs = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == [f"{e}/{planned}" for e in range(1, planned + 1)]
    eta = re.search(r"eta (\d+) s$", epochs[0])
    assert eta and int(eta.group(1)) < 60, epochs[0]  # seconds left, not 999 epochs' worth
    assert compare_runs(tmp_path)[0]["epochs"] == f"{planned}/{planned}"


@pytest.mark.slow
def test_with_validation_0_the_metrics_are_named_for_the_training_cases(tmp_path, cli):
    from tests.test_generic_tasks import long_csv

    data = long_csv(tmp_path / "long.csv")
    common = ["train", "--task", "classify", "--cell", "gru", "--hidden", "8", "--epochs", "1"]
    common += ["--param", f"data={data}"]
    alone = cli(*common, "--out", str(tmp_path / "alone"))
    assert alone.returncode == 0, alone.stderr
    assert "note: validation=0: the best epoch is picked on the training cases" in alone.stdout
    line = next(x for x in alone.stdout.splitlines() if x.startswith("epoch 1/1"))
    assert "train_cases_accuracy" in line and "validation_" not in line, line
    held = cli(*common, "--param", "validation=0.25", "--out", str(tmp_path / "held"))
    assert held.returncode == 0, held.stderr
    line = next(x for x in held.stdout.splitlines() if x.startswith("epoch 1/1"))
    assert "validation_accuracy" in line and "train_cases" not in held.stdout, line

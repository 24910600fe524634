"""The tasks' data: generators, file readers, baselines, and bad files named with their line."""

import io
import re

import numpy as np
import pytest
import torch

import rnnzoo
from rnnzoo import text
from rnnzoo.errors import UserError
from rnnzoo.registry import create_task
from rnnzoo.tasks import rain, reber


def test_reber_strings_and_near_misses():
    rng = np.random.default_rng(0)
    for _ in range(200):
        good = reber.embedded_reber_string(rng)
        assert reber.is_embedded_reber(good)
        bad = reber.near_miss(rng)
        assert not reber.is_embedded_reber(bad)
    assert reber.is_embedded_reber("BTBTXSETE") and not reber.is_embedded_reber("BTBTXSEPE")


def test_reber_splits_are_balanced_one_hot_and_variable_length():
    splits = create_task("reber", {"n_train": 400, "n_test": 100}).load()
    train = splits["train"]
    assert 0.4 < train.y.float().mean() < 0.6
    assert train.lengths.min() < train.lengths.max() == train.x.shape[1]
    valid_steps = torch.arange(train.x.shape[1]) < train.lengths.unsqueeze(1)
    assert torch.all(train.x.sum(-1) == valid_steps.float())  # one symbol per valid step


CSV_HEADER = ",".join(rain.COLUMNS)


def row(gauge, minutes, ref, expected, distance=5.0):
    values = [""] * len(rain.RADAR)
    values[0] = "" if ref is None else str(ref)
    return ",".join([str(gauge), str(minutes), str(distance), *values, str(expected)])


def test_rain_reader_groups_by_id_keeps_missing_values_and_marshall_palmer():
    text = (
        "\n".join(
            [
                CSV_HEADER,
                row(1, 3, 20.0, 1.5),
                row(1, 33, None, 1.5),
                row(1, 50, 30.0, 1.5),
                row(2, 10, None, 0.2),
            ]
        )
        + "\n"
    )
    sequences, targets = rain.read_rows(io.StringIO(text), "train.csv", 19)
    assert [len(s) for s in sequences] == [3, 1] and targets == [1.5, 0.2]
    assert np.isnan(sequences[0][1, rain.REF]) and sequences[0][0, rain.REF] == 20.0
    x, lengths = rain.pad(sequences)
    # the sample solution: each rate weighted by the minutes it covers, the last to the hour's end
    rate = lambda dbz: ((10 ** (dbz / 10)) / 200) ** 0.625  # noqa: E731
    expected_first = rate(20.0) * 3 / 60 + rate(30.0) * (50 - 33 + 10) / 60
    got = rain.marshall_palmer(x, lengths)
    assert got[0].item() == pytest.approx(expected_first, rel=1e-5)
    assert got[1].item() == 0.0  # no reflectivity at all


def test_rain_reader_sorts_each_gauge_by_time_and_merges_its_scattered_rows():
    rows = [
        row(1, 50, 30.0, 1.5),
        row(2, 10, None, 0.2),
        row(1, 3, 20.0, 1.5),
        row(1, 33, 25.0, 1.5),
    ]
    text = "\n".join([CSV_HEADER, *rows]) + "\n"
    sequences, targets = rain.read_rows(io.StringIO(text), "train.csv", 19)
    assert [len(s) for s in sequences] == [3, 1] and targets == [1.5, 0.2]
    assert sequences[0][:, 0].tolist() == [3, 33, 50]  # minutes_past in order
    x, lengths = rain.pad(sequences)
    assert (rain.marshall_palmer(x, lengths) >= 0).all()  # no negative time weights


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "train.csv: empty file"),
        (
            CSV_HEADER + "\n" + row(1, 3, 20.0, 1.5) + "\n" + row(1, 9, 20.0, 2.5) + "\n",
            "train.csv, lines 2 and 3: Id 1 has two Expected values",
        ),
        ("Id,minutes_past,Expected\n1,2,3\n", "train.csv, line 1: missing column(s) radardist_km"),
        (CSV_HEADER + "\n" + row(1, 3, 20.0, 1.5) + "\n1,2,3\n", "train.csv, line 3: 3 fields"),
        (
            CSV_HEADER + "\n" + row(1, 3, 20.0, 1.5).replace("20.0", "twenty") + "\n",
            "train.csv, line 2: a value is not a number",
        ),
        (CSV_HEADER + "\n", "train.csv: no data rows"),
    ],
)
def test_rain_reader_errors_name_file_and_line(text, message):
    with pytest.raises(UserError, match=re.escape(message)):
        rain.read_rows(io.StringIO(text), "train.csv", 19)


def test_rain_generated_data_and_outlier_filtering():
    task = create_task("rain", {"n_generated": 1500})
    splits = task.load()
    test, train = splits["test"], splits["train"]
    assert int(train.lengths.min()) >= 1 and int(train.lengths.max()) <= 19
    assert torch.isnan(train.x).any()  # missing radar values stay missing
    assert train.y.max() < 70 and len(test) == 150
    encoded = task.encoder()(train.x)
    assert encoded.shape[-1] == task.input_size and torch.isfinite(encoded).all()
    baseline = task.baseline(train, test)
    assert 0 < baseline["mae_below_max"] <= baseline["mae"]


def test_rain_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        create_task("rain", {"data_file": str(tmp_path / "train.csv")}).load()


@pytest.mark.parametrize(
    "task,cell,options,metric",
    [
        ("rain", "lstm", {"epochs": 4, "hidden": 32, "lr": 5e-3}, "mae"),
        ("reber", "gru", {"epochs": 4, "hidden": 30, "lr": 1e-2}, "accuracy"),
        ("video", "gru", {"epochs": 3, "hidden": 32}, "accuracy"),
        ("dates", "lstm", {"epochs": 4, "hidden": 64, "lr": 1e-2}, "token_accuracy"),
    ],
)
def test_short_training_beats_the_baseline(tmp_path, task, cell, options, metric):
    from rnnzoo.registry import get_task_class

    params = dict(get_task_class(task).smoke_params)
    if task in ("reber", "dates"):
        params = {"n_train": 2000, "n_test": 200}
    summary = rnnzoo.train(task, cell, out=str(tmp_path / "run"), task_params=params, **options)
    model, baseline = summary["test"][metric], summary["baseline_test"][metric]
    assert model < baseline if metric == "mae" else model > baseline


def test_video_clips_show_the_class_only_in_motion():
    from rnnzoo.tasks import video

    rng = np.random.default_rng(0)
    clip = video.make_clip(1, 10, 32, rng)  # moving right
    assert clip.shape == (10, 32, 32, 1)
    bright = [np.argwhere(frame[..., 0] > 0.5)[:, 1].mean() for frame in clip]
    assert bright[-1] > bright[0]
    # pooled over frames, the horizontal position of "right" and "left" clips look alike
    right = [video.make_clip(1, 10, 32, rng)[..., 0].sum(axis=(0, 1)) for _ in range(300)]
    left = [video.make_clip(0, 10, 32, rng)[..., 0].sum(axis=(0, 1)) for _ in range(300)]
    profile_r, profile_l = np.mean(right, 0), np.mean(left, 0)
    assert np.abs(profile_r - profile_l).max() < 0.25 * profile_r.max()


def write_clips(root, shapes):
    for i, (name, shape) in enumerate(shapes):
        (root / name).mkdir(parents=True, exist_ok=True)
        np.save(root / name / f"clip{i}.npy", np.random.default_rng(i).random(shape))


def test_video_reads_a_folder_of_npy_clips(tmp_path):
    write_clips(
        tmp_path,
        [
            ("wave", (5, 8, 8)),
            ("wave", (7, 8, 8)),
            ("jump", (6, 8, 8)),
            ("jump", (4, 8, 8)),
            ("wave", (5, 8, 8)),
            ("jump", (5, 8, 8)),
        ],
    )
    task = create_task("video", {"data_dir": str(tmp_path)})
    splits = task.load()
    assert task.labels == ["jump", "wave"] and task.input_shape == (8, 8, 1)
    assert sum(len(s) for s in splits.values()) == 6
    assert splits["train"].x.shape[2:] == (8, 8, 1)


def test_video_inconsistent_clip_shapes_name_the_file(tmp_path):
    write_clips(tmp_path, [("a", (5, 8, 8)), ("b", (5, 9, 8))])
    with pytest.raises(UserError, match=r"b/clip1\.npy: frames of shape \(9, 8, 1\)"):
        create_task("video", {"data_dir": str(tmp_path)}).load()


def test_dates_pairs_decode_to_the_same_day():
    import datetime

    task = create_task("dates", {"n_train": 300, "n_test": 50})
    splits = task.load()
    train = splits["train"]
    chars = lambda row, vocab: "".join(vocab[i] for i in row if i >= len(text.SPECIALS))  # noqa: E731
    seen = set()
    for row in range(len(train)):
        iso = chars(train.y[row].tolist(), task.target_vocab)
        datetime.date.fromisoformat(iso)  # a real ISO date
        source = chars(train.x[row, : train.lengths[row]].tolist(), task.source_vocab)
        assert str(int(iso[:4])) in source  # the year is written out in every format
        seen.add(source.count(" "))
    assert len(seen) > 2  # several formats
    test_days = {tuple(r) for r in splits["test"].y.tolist()}
    assert not test_days & {tuple(r) for r in train.y.tolist()}  # unseen dates only


def training_sizes() -> list[str]:
    """The registered tasks that take a training-set size (``n_train``)."""
    from rnnzoo.params import params_of
    from rnnzoo.registry import get_task_class

    return [
        n
        for n in rnnzoo.list_tasks()
        if "n_train" in {p.name for p in params_of(get_task_class(n))}
    ]


@pytest.mark.parametrize("name", training_sizes())
def test_the_test_split_does_not_depend_on_the_training_size(name, tmp_path):
    """Two runs that differ only in --param n_train are scored on the same test data (sine's
    test windows moved with n_train): the split depends on the seed and the data alone."""
    from rnnzoo.registry import create_task, get_task_class

    params = get_task_class(name).smoke_data(tmp_path)
    small = params.get("n_train") or get_task_class(name).smoke_params.get("n_train", 256)
    tests = []
    for n_train in (small, small + 37):
        task = create_task(name, {**params, "n_train": n_train})
        splits = task.load()
        assert len(splits["train"]) == n_train
        tests.append(splits["test"])
    for a, b in zip(tests[0].tensors(), tests[1].tensors()):
        assert torch.equal(a, b), f"{name}: the test split changed with n_train"

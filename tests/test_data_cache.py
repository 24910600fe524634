"""rnnzoo.data.cache: series too large for memory, converted once into a memory-mapped cache.
The cache gives what read_series gives, is reused while the file is the same and rebuilt when
it changes, refuses a file it cannot stream (one line), and a killed build leaves nothing
half-made. The forecast task reads through it (cache=on/auto), and under torchrun each process
cuts only its own windows. The ``largedata`` test trains on a big file in a child process and
measures its peak resident memory."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from rnnzoo.data import cache, read_series
from rnnzoo.data.cache import cached_series
from rnnzoo.data.formats import csv as csv_format
from rnnzoo.errors import UserError
from rnnzoo.tasks.forecast import Forecast, Windows

DATA = Path(__file__).parent / "data"
READER = {"id": "id", "time": "t"}


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RNNZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "series"


def long_csv(path: Path, lengths: dict[str, int], *, gap: str = "", seed: int = 0) -> Path:
    """``id,t,value,price`` rows, series after series in the order of ``lengths``; a missing
    value now and then, and in series ``gap`` a step left out."""
    rng = np.random.default_rng(seed)
    lines = ["id,t,value,price"]
    for name, length in lengths.items():
        for t in range(length):
            if name == gap and t == length // 2:
                continue
            value = "" if rng.random() < 0.02 else f"{rng.normal(10, 3):.3f}"
            lines.append(f"{name},{t},{value},{t % 7}")
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_same(cached, memory) -> None:
    np.testing.assert_array_equal(cached.values, memory.values)  # NaN == NaN here
    np.testing.assert_array_equal(cached.offsets, memory.offsets)
    assert cached.ids == memory.ids
    assert (cached.targets, cached.covariates) == (memory.targets, memory.covariates)
    if memory.times is None:
        assert cached.times is None
    else:
        np.testing.assert_array_equal(cached.times, memory.times)
    assert (cached.source, cached.notes) == (memory.source, memory.notes)


def fails(message: str, *args, **kwargs) -> str:
    """The cache's error, checked to be one line containing ``message``."""
    with pytest.raises(UserError) as caught:
        cached_series(*args, progress=False, **kwargs)
    text = str(caught.value)
    assert "\n" not in text and message in text, text
    return text


def built(folder: Path) -> list[Path]:
    """The caches in ``folder`` (finished ones: staging folders are hidden)."""
    return sorted(p for p in folder.glob("*") if not p.name.startswith("."))


# ---------------------------------------------------------------- the same series


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cache_equals_read_series(tmp_path, fmt):
    # ids in the file's order s10, s2, s1: both put them in natural order (s1, s2, s10)
    path = long_csv(tmp_path / "sales.csv", {"s10": 300, "s2": 250, "s1": 200}, gap="s2")
    if fmt == "parquet":
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types={"id": pa.string()})
        )
        pq.write_table(table, tmp_path / "sales.parquet", row_group_size=100)
        path = tmp_path / "sales.parquet"
    memory = read_series(path, covariates=["price"], **READER)
    cached = cached_series(path, covariates=["price"], progress=False, **READER)
    assert_same(cached, memory)
    assert memory.ids == ["s1", "s2", "s10"] and any("gap" in n for n in memory.notes)
    assert isinstance(cached.values, np.memmap) and not cached.values.flags.writeable


def test_cache_equals_read_series_on_dates_and_one_series():
    memory = read_series(DATA / "airline.csv", time="Date")
    assert_same(cached_series(DATA / "airline.csv", time="Date", progress=False), memory)


def test_streams_in_batches(tmp_path, monkeypatch):
    """Series that run on from one batch into the next, and ids reordered across batches."""
    monkeypatch.setattr(csv_format, "BATCH_BYTES", 4096)
    monkeypatch.setattr(cache, "COPY_ROWS", 1000)
    path = long_csv(tmp_path / "long.csv", {"b": 3000, "a10": 1500, "a9": 2500}, gap="a9")
    memory = read_series(path, **READER)
    assert_same(cached_series(path, progress=False, **READER), memory)


# ---------------------------------------------------------------- reuse


def test_reused_while_the_file_is_the_same(tmp_path, cache_folder, monkeypatch):
    path = long_csv(tmp_path / "s.csv", {"a": 100, "b": 100})
    first = cached_series(path, progress=False, **READER)
    (folder,) = built(cache_folder)
    stamp = (folder / "meta.json").stat().st_mtime_ns
    monkeypatch.setattr(cache, "convert", lambda *a: pytest.fail("the cache was built again"))
    again = cached_series(path, progress=False, **READER)
    assert built(cache_folder) == [folder] and (folder / "meta.json").stat().st_mtime_ns == stamp
    assert_same(again, first)


def test_rebuilt_when_the_file_changes(tmp_path, cache_folder):
    path = long_csv(tmp_path / "s.csv", {"a": 100, "b": 100})
    cached_series(path, progress=False, **READER)
    (old,) = built(cache_folder)
    long_csv(path, {"a": 100, "b": 120}, seed=1)
    changed = cached_series(path, progress=False, **READER)
    assert_same(changed, read_series(path, **READER))
    assert built(cache_folder) != [old] and len(built(cache_folder)) == 1  # the old one went
    cached_series(path, target=["price"], progress=False, **READER)  # other arguments: another
    assert len(built(cache_folder)) == 2


def test_lines_at_start_and_end_when_not_a_terminal(tmp_path, capfd):
    cached_series(long_csv(tmp_path / "s.csv", {"a": 50}), progress=True, **READER)
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("caching s.csv") and "50 rows" in lines[1]


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,1,1\na,3,2\na,2,3\n", "s.csv, line 4: series 'a' has the time 2 after 3"),
        ("a,1,1\nb,1,2\na,2,3\n", "s.csv, line 4: the rows of series 'a' are not together"),
    ],
)
def test_refuses_a_file_not_sorted_by_id_then_time(tmp_path, cache_folder, rows, message):
    path = tmp_path / "s.csv"
    path.write_text("id,t,v\n" + rows)
    text = fails(message, path, **READER)
    assert "sorted by 'id' then 't'" in text and "--param cache=off" in text
    read_series(path, **READER)  # which sorts it in memory
    left = [p.name for p in cache_folder.iterdir() if not p.name.endswith(".lock")]
    assert left == []  # nothing left behind, not even a staging folder


@pytest.mark.parametrize(
    ("text", "kwargs"),
    [
        ("id,t,v\na,1,1\na,1,2\n", READER),  # a time twice
        ("t,v\n1,1\n1,2\n", {"time": "t"}),  # a time twice, no id
        ("id,t,v\na,1,1\na,2,x\n", READER),  # not a number
        ("id,t,v\na,1,1\na,zz,2\n", READER),  # not a time
        ("id,t,v\na,1,1\n,2,2\n", READER),  # no id
        ("id,t,v\na,1,1\na,2,2,3\n", READER),  # a field too many
        ("id,t,v\n", READER),  # no rows
        ("id,t,v\na,1,1\n", {"id": "id", "time": "tt"}),  # no such column
        ("id,t,v\na,1,1\n", {**READER, "target": ["v"], "covariates": ["v"]}),
        ("id,t,v,w\na,1,1,x\n", {**READER, "target": ["w"]}),  # text to forecast
    ],
)
def test_errors_say_what_read_series_says(tmp_path, text, kwargs):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UserError) as memory:
        read_series(path, **kwargs)
    fails(str(memory.value), path, **kwargs)


def test_a_bad_value_far_into_the_file_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_format, "BATCH_BYTES", 4096)
    path = long_csv(tmp_path / "s.csv", {"a": 3000})
    lines = path.read_text().splitlines()
    lines[2500] = "a,2499,oops,1"
    path.write_text("\n".join(lines) + "\n")
    fails("s.csv, line 2501, column 'value': 'oops' is not a number", path, **READER)


def test_refuses_other_formats(tmp_path):
    fails("the cache reads CSV or Parquet files, not .tsf (Monash)", DATA / "m1_yearly.tsf")


# ---------------------------------------------------------------- killed mid-build

KILL_AFTER_A_BATCH = """
import os, signal, sys
from rnnzoo.data import cache
from rnnzoo.data.formats import csv
csv.BATCH_BYTES = 4096
place = cache.place
def place_then_die(part, *rest):
    place(part, *rest)
    if part.first:  # the second batch is written: die as a kill -9 would
        os.kill(os.getpid(), signal.SIGKILL)
cache.place = place_then_die
cache.cached_series(sys.argv[1], id="id", time="t", progress=False)
"""


def test_a_killed_build_leaves_no_cache(tmp_path, cache_folder):
    path = long_csv(tmp_path / "s.csv", {"a": 2000, "b": 2000})
    env = {**os.environ, "RNNZOO_CACHE": str(cache_folder.parent)}
    child = subprocess.run([sys.executable, "-c", KILL_AFTER_A_BATCH, str(path)], env=env)
    assert child.returncode == -signal.SIGKILL
    assert built(cache_folder) == [] and list(cache_folder.glob(".*staging*"))  # half: hidden
    assert_same(cached_series(path, progress=False, **READER), read_series(path, **READER))
    assert not list(cache_folder.glob(".*staging*"))  # the next build cleared the leftover


# ---------------------------------------------------------------- the forecast task


def forecast(path: Path, cache: str) -> Forecast:
    return Forecast(str(path), id="id", time="t", lookback=12, horizon=2, cache=cache)


def test_forecast_reads_through_the_cache(tmp_path, cache_folder):
    path = long_csv(tmp_path / "s.csv", {"a": 200, "b": 150}, gap="b")
    on, off, auto = (forecast(path, c) for c in ("on", "off", "auto"))
    assert isinstance(on.series.values, np.memmap)
    assert not isinstance(off.series.values, np.memmap)
    assert not isinstance(auto.series.values, np.memmap)  # auto: 256 MB or more
    assert on.notes() == off.notes()
    for which in ("train", "validation", "test"):
        a, b = on.load()[which], off.load()[which]
        every = np.arange(len(a))
        np.testing.assert_array_equal(a.x[every].numpy(), b.x[every].numpy())
        np.testing.assert_array_equal(a.y[every].numpy(), b.y[every].numpy())


def test_each_process_cuts_only_its_own_windows(tmp_path, monkeypatch):
    """What each torchrun process cuts from the map, recorded for ranks 0 and 1 of 2: their
    own halves of the windows, together every window once."""
    from rnnzoo.trainer.distributed import Distributed
    from rnnzoo.trainer.loop import make_loader

    task = forecast(long_csv(tmp_path / "s.csv", {"a": 300, "b": 200}), "on")
    train = task.load()["train"]
    cut: list[int] = []
    original = Windows.cut
    monkeypatch.setattr(
        Windows, "cut", lambda self, index, part: cut.extend(index) or original(self, index, part)
    )
    config = SimpleNamespace(seed=0, batch_size=32)
    seen = []
    for rank in (0, 1):
        cut.clear()
        for _ in make_loader(train, config, Distributed(rank, 2)):
            pass
        seen.append(set(cut))
        assert len(cut) == 2 * len(seen[-1])  # inputs and targets of each window, once
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(len(train)))


@pytest.mark.slow
def test_torchrun_builds_the_cache_once(tmp_path, cache_folder):
    path = long_csv(tmp_path / "s.csv", {"a": 400, "b": 400})
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RNNZOO_CACHE": str(cache_folder.parent)}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
        + ["-m", "rnnzoo", "train", "--task", "forecast", "--cell", "gru", "--hidden", "8"]
        + ["--data", str(path), "--param", "id=id", "--param", "time=t", "--param", "cache=on"]
        + ["--param", "lookback=12", "--batch-size", "50", "--epochs", "1"]
        + ["--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("caching s.csv") == 1  # one process built, the other waited
    assert len(built(cache_folder)) == 1 and not list(cache_folder.glob(".*staging*"))
    (record,) = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    windows = 2 * (400 - 12 - 3 * 1 + 1)
    assert record["step"] == -(-windows // (50 * 2))  # each process half of the windows


# ---------------------------------------------------------------- larger than memory


def write_big(path: Path, series: int, steps: int) -> None:
    schema = pa.schema([("id", pa.string()), ("t", pa.int64()), ("value", pa.float64())])
    rng = np.random.default_rng(0)
    with pacsv.CSVWriter(str(path), schema) as writer:
        for s in range(series):
            t = np.arange(steps)
            value = np.round(10 * (s + 1) * (1.3 + np.sin(t / 4)) + rng.normal(0, 1, steps), 3)
            writer.write_table(pa.table([pa.repeat(pa.scalar(f"s{s}"), steps), t, value], schema))


@pytest.mark.largedata
def test_trains_on_a_big_file_within_2_gb(tmp_path, cache_folder):
    """60 million values (20 series of 3 million steps, ~1.2 GB of CSV): `rnnzoo train` builds
    the cache (cache=auto: the file is over 256 MB) and trains from it; the child's peak
    resident memory, counted by the kernel (wait4), stays within 2 GB. At this size whatever
    grows with the number of windows (a list of their indices: ~40 bytes each) breaks it."""
    path = tmp_path / "big.csv"
    write_big(path, 20, 3_000_000)
    env = {**os.environ, "RNNZOO_CACHE": str(cache_folder.parent)}
    command = [sys.executable, "-m", "rnnzoo", "train", "--task", "forecast", "--cell", "gru"]
    command += ["--data", str(path), "--param", "id=id", "--param", "time=t", "--hidden", "32"]
    command += ["--param", "lookback=48", "--batch-size", "256", "--max-steps", "50"]
    command += ["--device", "cpu", "--out", str(tmp_path / "run"), "--quiet", "--json"]
    with open(tmp_path / "stderr", "w+") as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        err.seek(0)
        assert os.waitstatus_to_exitcode(status) == 0, err.read()[-2000:]
    assert len(built(cache_folder)) == 1
    peak = usage.ru_maxrss * 1024
    assert peak <= 2 * 2**30, f"peak resident memory {peak / 2**20:,.0f} MB"


def flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-5])


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda f: flip_a_bit(f / "values.f32"), "values.f32 changed since it was built"),
        (lambda f: flip_a_bit(f / "times.bin"), "times.bin changed since it was built"),
        (lambda f: truncate(f / "values.f32"), "values.f32 holds"),
        (lambda f: (f / "values.f32").unlink(), "values.f32"),
        (lambda f: (f / "meta.json").write_text("{garbage"), "meta.json does not read"),
        (lambda f: truncate(f / "meta.json"), "meta.json"),
        (lambda f: (f / "meta.json").write_text("[]"), "meta.json is not a whole cache"),
        (lambda f: (f / "meta.json").write_text('{"rows": 3}'), ""),
    ],
    ids=["values-bit", "times-bit", "values-short", "values-gone", "meta-garbage",
         "meta-short", "meta-list", "meta-keys"],
)  # fmt: skip
def test_a_damaged_cache_is_said_in_one_line_and_built_again(
    tmp_path, cache_folder, capsys, damage, reason
):
    path = long_csv(tmp_path / "s.csv", {"a": 40, "b": 30})
    memory = read_series(path, **READER)
    cached_series(path, **READER, progress=False)
    (folder,) = [p for p in cache_folder.iterdir() if p.is_dir()]
    damage(folder)
    capsys.readouterr()
    again = cached_series(path, **READER, progress=False)
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and f"the cache {folder} is damaged (" in notes[0], err
    assert reason in notes[0] and notes[0].endswith("; building it again"), notes[0]
    assert_same(again, memory)
    capsys.readouterr()
    assert_same(cached_series(path, **READER, progress=False), memory)  # whole again: silent
    assert "damaged" not in capsys.readouterr().err


def test_training_on_a_damaged_cache_rebuilds_it_and_exits_0(tmp_path, cache_folder):
    path = long_csv(tmp_path / "s.csv", {"a": 60, "b": 50})
    cached_series(path, **READER, progress=False)
    (folder,) = [p for p in cache_folder.iterdir() if p.is_dir()]
    flip_a_bit(folder / "values.f32")
    trained = subprocess.run(
        [sys.executable, "-m", "rnnzoo", "train", "--task", "forecast", "--cell", "gru",
         "--data", str(path), "--param", "id=id", "--param", "time=t", "--param", "cache=on",
         "--param", "lookback=8", "--param", "horizon=2", "--hidden", "4", "--epochs", "1",
         "--out", str(tmp_path / "run"), "--quiet"],
        capture_output=True, text=True,
        env={**os.environ, "RNNZOO_CACHE": str(cache_folder.parent)},
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "is damaged (values.f32 changed since it was built); building it again" in trained.stderr
    assert "Traceback" not in trained.stderr

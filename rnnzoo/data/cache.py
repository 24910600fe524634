"""Series too large for memory: a CSV or Parquet file converted once, batch by batch, into a
memory-mapped cache that later runs open in a moment (:func:`cached_series`).

The cache holds the rows of :class:`~rnnzoo.data.series.Series` as raw little files beside a
``meta.json``: ``values.f32``, the ``(rows, columns)`` float32 values, and ``times.bin``, the
times (float64, or datetime64[us] for dates). ``values`` is opened as a read-only
``np.memmap``, from which the forecast task cuts each batch's windows; only the pages a batch
touches are read. Measured against an Arrow IPC file on 50M values (batch 256, lookback 48):
the memmap gathers windows as fast as an array in memory (0.11 ms a batch), while an Arrow
file written batch by batch is a chunked column that numpy cannot index, and ``take`` on it
costs 27 ms a batch; one chunk would mean holding the whole column while writing.

Conversion streams the file (``pyarrow.csv.open_csv``, ``ParquetFile.iter_batches``), so it
never holds more than a batch, and so it needs the rows of each series together and in time
order, as a sorted file has them; anything else is one line asking to sort the file (or to
read it in memory). Series are put in the order :func:`~rnnzoo.data.read_series` gives them
(ids in natural order), so that both paths give the same ``values``, ``offsets`` and ``ids``.

The cache lives in ``$RNNZOO_CACHE/series`` (:func:`rnnzoo.files.cache_dir`) under a key from
the file's sha256 and the reader's arguments: a changed file gets a new cache (and its old one
is removed). It is built in a staging folder and renamed into place, so a kill mid-build
leaves no half cache (the next build removes the leftover), and an OS lock makes the
processes of one ``torchrun`` build it once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnzoo import files
from rnnzoo.data.formats import FORMATS, Format, detect, missing_note
from rnnzoo.data.series import MOST_GAP_NOTES, Series, gap_notes, target_columns
from rnnzoo.data.table import (
    Columns,
    Part,
    natural_key,
    no_rows,
    show_time,
    time_column,
    time_note,
)
from rnnzoo.errors import UserError
from rnnzoo.files import (
    Lock,
    file_digest,
    parse_json,
    recover_folder,
    replace_folder,
    staging_folder,
    write_json,
)

VERSION = 2  # of the cache's layout: a new one makes new caches
AUTO_BYTES = 256 * 2**20  # forecast's cache=auto: files of this size or more go through the cache
COPY_ROWS = 2**22  # rows copied at a time when series are put in order
GAP_CHECK_ROWS = 16_000_000  # longest series checked for gaps in time (~40 bytes a row)
META, VALUES, TIMES = "meta.json", "values.f32", "times.bin"
DATETIME = "datetime64[us]"


def worth_caching(path: str | Path) -> bool:
    """Whether forecast's ``cache=auto`` reads ``path`` through the cache: a CSV or Parquet
    file of ``AUTO_BYTES`` or more."""
    path = Path(path)
    return path.is_file() and path.stat().st_size >= AUTO_BYTES and bool(detect(path).stream)


def cached_series(
    path: str | Path,
    *,
    target: list[str] | None = None,
    time: str = "",
    id: str = "",
    covariates: list[str] | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> Series:
    """The series in the CSV or Parquet file ``path``, as :func:`~rnnzoo.data.read_series`
    reads them (same arguments), with ``values`` a read-only memory map of the cache: built on
    the first call (a progress bar on stderr with ``progress``), reused while the file's
    sha256 stays the same. ``cache_dir`` defaults to ``$RNNZOO_CACHE``."""
    path = Path(path)
    fmt = detect(path)
    if fmt.stream is None:
        streamed = " or ".join(f.title for f in FORMATS if f.stream)
        raise UserError(
            f"{path.name}: the cache reads {streamed} files, not {fmt.title}; "
            f"read it in memory (--param cache=off) or save the series as CSV"
        )
    args = {"target": target or [], "time": time, "id": id, "covariates": covariates or []}
    digest = file_digest(path)
    key = hashlib.sha256(
        json.dumps({"version": VERSION, "sha256": digest, **args}, sort_keys=True).encode()
    ).hexdigest()
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", path.stem)[:40]
    folder = Path(cache_dir or files.cache_dir()) / "series" / f"{stem}-{key[:24]}"
    series = open_cache(folder) if (folder / META).exists() else None
    if series is None:
        with building(folder):
            # built meanwhile by another process (another rank), or damaged: said, rebuilt
            series = open_cache(folder, say=True) if (folder / META).exists() else None
            if series is None:
                build(path, fmt, folder, digest, args, progress)
                series = open_cache(folder)
    if series is None:
        raise UserError(f"the cache {folder} did not read back after building it; remove it")
    return series


@contextlib.contextmanager
def building(folder: Path) -> Iterator[None]:
    """Hold the lock on building ``folder``, waiting while another process (another rank of
    the same ``torchrun``) holds it."""
    lock = Lock(folder.parent / f".{folder.name}.lock", f"the cache {folder}")
    while not lock.try_acquire():
        clock.sleep(0.2)
    try:
        yield
    finally:
        lock.release()


def open_cache(folder: Path, say: bool = False) -> Series | None:
    """The cache in ``folder`` as series, or None where it is damaged (:func:`damage`) —
    with ``say``, in a line on stderr."""
    try:
        meta = parse_json((folder / META).read_text())
    except (OSError, ValueError, UserError) as error:
        meta, problem = None, f"{META} does not read: {error}"
    else:
        problem = damage(folder, meta)
    if problem:
        if say:
            print(
                f"note: the cache {folder} is damaged ({problem}); building it again",
                file=sys.stderr,
            )
        return None
    rows, columns = meta["rows"], len(meta["targets"]) + len(meta["covariates"])
    offsets = np.array(meta["offsets"], np.int64)
    values = np.memmap(folder / VALUES, np.float32, "r", shape=(rows, columns))
    times = None
    if meta["times"]:
        times = np.memmap(folder / TIMES, np.dtype(meta["times"]), "r", shape=(rows,))
    return Series(
        values,
        offsets,
        meta["ids"],
        meta["targets"],
        meta["covariates"],
        times,
        meta["source"],
        meta["notes"],
    )


def damage(folder: Path, meta: Any) -> str:
    """What is wrong with the cache in ``folder`` whose ``meta.json`` holds ``meta``: keys
    missing, a file of the wrong size or with other contents than it was built with (the
    sha256 of each is in ``meta``), series that do not add up to its rows; '' for nothing."""
    keys = ("rows", "targets", "covariates", "times", "offsets", "ids", "source", "notes")
    if (
        not isinstance(meta, dict)
        or any(k not in meta for k in keys)
        or not isinstance(meta.get("contents"), dict)
    ):
        return f"{META} is not a whole cache's"
    try:
        rows, columns = int(meta["rows"]), len(meta["targets"]) + len(meta["covariates"])
        sizes = {VALUES: rows * columns * 4}
        if meta["times"]:
            sizes[TIMES] = rows * np.dtype(meta["times"]).itemsize
        offsets = np.array(meta["offsets"], np.int64)
    except (TypeError, ValueError) as error:
        return f"{META} is not a whole cache's: {error}"
    for name, size in sizes.items():
        if not (folder / name).is_file():
            return f"{name} is missing"
        found = (folder / name).stat().st_size
        if found != size:
            return f"{name} holds {found:,} bytes, not {size:,}"
        if file_digest(folder / name) != meta["contents"].get(name):
            return f"{name} changed since it was built"
    if (
        len(offsets) < 2
        or offsets[0] != 0
        or offsets[-1] != rows
        or len(meta["ids"]) != len(offsets) - 1
    ):
        return "its series do not add up to its rows"
    return ""


# ---------------------------------------------------------------- building


def build(
    path: Path, fmt: Format, folder: Path, digest: str, args: dict[str, Any], progress: bool
) -> None:
    """Convert ``path`` into ``folder``: in a staging folder beside it, renamed into place
    when whole; then remove the caches of earlier versions of the file."""
    recover_folder(folder, lambda old: set())  # staging folders of killed builds
    show = BuildProgress(path, folder, progress)
    staging = staging_folder(folder)
    try:
        meta = convert(path, fmt, staging, args, show)
        contents = {n: file_digest(staging / n) for n in (VALUES, TIMES) if (staging / n).exists()}
        meta.update(sha256=digest, path=str(path.resolve()), contents=contents)
        write_json(staging / META, meta)
        replace_folder(folder, staging, lambda old: set())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        show.close()
    show.done(meta, folder)
    remove_stale(folder, str(path.resolve()), args)


def remove_stale(folder: Path, source: str, args: dict[str, Any]) -> None:
    """Delete the other caches of ``source`` read with the same arguments: the file changed
    since they were built. (A run still reading one keeps its open map.)"""
    for other in folder.parent.glob("*/" + META):
        if other.parent == folder:
            continue
        try:
            meta = parse_json(other.read_text())
        except (OSError, ValueError):
            continue
        if meta.get("path") == source and meta.get("args") == args:
            shutil.rmtree(other.parent, ignore_errors=True)


def resolve(head: Part, args: dict[str, Any]) -> Columns:
    """The columns the reader's arguments name, checked on the file's first batch as
    :func:`~rnnzoo.data.series.read_series` checks them on the whole file."""
    id, time, target, covariates = args["id"], args["time"], args["target"], args["covariates"]
    time = time_column(head, time, {*target, *covariates})
    targets = target_columns(head, target, time, id, covariates)
    return Columns(id, time, targets, covariates, head.columns[time].type if time else None)


@dataclass
class Written:
    """What the conversion has written so far, in file order: each series' id, first row
    and length; the last row's series and time (a batch continues them)."""

    ids: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    rows: int = 0
    missing: int = 0
    last_time: Any = None

    def lengths(self) -> list[int]:
        return np.diff([*self.starts, self.rows]).tolist()


def convert(
    path: Path, fmt: Format, out: Path, args: dict[str, Any], show: BuildProgress
) -> dict[str, Any]:
    """Stream ``path``'s rows into ``out``'s files; returns the cache's ``meta.json``."""
    parts, head = fmt.stream(path, args, show.update)
    columns = resolve(head, args)
    show.start()
    written = Written()
    times_dtype = None
    with contextlib.ExitStack() as files_open:
        values_file = files_open.enter_context(open(out / VALUES, "wb"))
        times_file = files_open.enter_context(open(out / TIMES, "wb")) if columns.time else None
        for part in parts(columns):
            if not part.rows:
                continue
            values = np.column_stack([part.numbers(n) for n in columns.values]).astype(np.float32)
            times = None
            if columns.time:
                times = part.times(columns.time)
                times = times.astype(DATETIME) if times.dtype.kind == "M" else times
                times_dtype = times.dtype.str
            place(part, columns, times, written)
            values_file.write(values.tobytes())
            if times_file is not None:
                times_file.write(times.tobytes())
            written.missing += int(np.isnan(values).sum())
            written.rows += part.rows
    if not written.rows:
        raise no_rows(path)
    ids, offsets = put_in_order(out, written, len(columns.values), times_dtype)
    notes = time_note(args["time"], columns.time)
    notes += gap_check(out, ids, offsets, times_dtype) if times_dtype else []
    notes += missing_note(written.missing)
    return {
        "version": VERSION,
        "source": path.name,
        "args": args,
        "rows": written.rows,
        "targets": columns.targets,
        "covariates": columns.covariates,
        "ids": ids,
        "offsets": offsets,
        "times": times_dtype,
        "notes": notes,
    }


def place(part: Part, columns: Columns, times: np.ndarray | None, written: Written) -> None:
    """Add ``part``'s rows to the series written so far: a run of one id continues the last
    series or starts a new one; an id seen before, or a time not after the one before, is an
    error (the file is not sorted by id then time)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = part.rows
    if columns.id:
        ids = pc.cast(part.columns[columns.id], pa.string())
        empty = pc.fill_null(pc.equal(ids, ""), True).to_numpy(zero_copy_only=False)
        if empty.any():
            raise UserError(
                f"{part.source}, {part.where(int(np.argmax(empty)))}: no id in column "
                f"{columns.id!r}; fill it in or remove the row"
            )
        changes = pc.not_equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.flatnonzero(changes) + 1])
        heads = ids.take(pa.array(starts)).to_pylist()
    else:
        starts, heads = np.zeros(1, np.int64), ["series"]
    goes_on = bool(written.ids) and written.ids[-1] == heads[0]  # the last batch's series
    for start, name in list(zip(starts.tolist(), heads))[int(goes_on) :]:
        if name in written.seen:
            began = written.starts[written.ids.index(name)] - part.first
            raise unsorted(
                part,
                columns,
                start,
                f"the rows of series {name!r} are not together (it began at {part.where(began)})",
            )
        written.ids.append(name)
        written.seen.add(name)
        written.starts.append(written.rows + start)
    if times is None:
        return
    previous = np.concatenate([[written.last_time if goes_on else times[0]], times[:-1]])
    begins = np.zeros(n, bool)
    begins[starts] = True
    begins[0] = not goes_on
    wrong = ~begins & (times <= previous)
    written.last_time = times[-1]
    if not wrong.any():
        return
    row = int(np.argmax(wrong))
    name = written.ids[int(np.searchsorted(written.starts, written.rows + row, "right")) - 1]
    if times[row] == previous[row]:  # as read_series says it
        several = "; if the file holds several series, name their id column (id=COLUMN)"
        raise UserError(
            f"{part.source}: series {name!r} has the time {show_time(times[row])} twice "
            f"({part.where(row - 1)} and {part.where(row)}); keep one row per time"
            + ("" if columns.id else several)
        )
    raise unsorted(
        part,
        columns,
        row,
        f"series {name!r} has the time {show_time(times[row])} after {show_time(previous[row])}",
    )


def unsorted(part: Part, columns: Columns, row: int, what: str) -> UserError:
    order = " then ".join(repr(c) for c in (columns.id, columns.time) if c)
    return UserError(
        f"{part.source}, {part.where(row)}: {what}; the cache reads a file sorted by {order}: "
        f"sort it so, or read it in memory (--param cache=off)"
    )


def put_in_order(
    out: Path, written: Written, width: int, times_dtype: str | None
) -> tuple[list[str], list[int]]:
    """Reorder the series written in file order as ``read_series`` orders them (ids in
    natural order: ``s2`` before ``s10``), copying them into new files if they were not;
    returns the ids and offsets."""
    order = sorted(range(len(written.ids)), key=lambda i: natural_key(written.ids[i]))
    lengths = written.lengths()
    offsets = np.concatenate([[0], np.cumsum([lengths[i] for i in order])]).tolist()
    ids = [written.ids[i] for i in order]
    if order == sorted(order):
        return ids, offsets
    arrays = [(VALUES, np.float32, (width,))] + ([(TIMES, times_dtype, ())] if times_dtype else [])
    for name, dtype, shape in arrays:
        source = np.memmap(out / name, dtype, "r", shape=(written.rows, *shape))
        with open(out / f"{name}.ordered", "wb") as f:
            for i in order:
                start = written.starts[i]
                for a in range(start, start + lengths[i], COPY_ROWS):
                    f.write(source[a : min(a + COPY_ROWS, start + lengths[i])].tobytes())
        del source
        os.replace(out / f"{name}.ordered", out / name)
    return ids, offsets


def gap_check(out: Path, ids: list[str], offsets: list[int], times_dtype: str) -> list[str]:
    """Notes on the gaps in each series' time axis (``gap_notes`` on each series alone: the
    regular step is its own); series longer than ``GAP_CHECK_ROWS`` are left unchecked, as a
    note says. Each series is mapped only while it is checked."""
    notes, unchecked = [], []
    for name, a, b in zip(ids, offsets[:-1], offsets[1:]):
        if b - a > GAP_CHECK_ROWS:
            unchecked.append(name)
            continue
        times = np.memmap(out / TIMES, times_dtype, "r", offset=a * 8, shape=(b - a,))
        notes += gap_notes(times, np.array([0, b - a]), [name])
        del times
    if len(notes) > MOST_GAP_NOTES:
        notes = notes[:MOST_GAP_NOTES] + [f"{len(notes) - MOST_GAP_NOTES} more series have gaps"]
    if unchecked:
        notes.append(
            f"{len(unchecked)} series longer than {GAP_CHECK_ROWS:,} steps not "
            f"checked for gaps in time (first: {unchecked[0]!r})"
        )
    return notes


# ---------------------------------------------------------------- reading in batches

# ---------------------------------------------------------------- showing it


class BuildProgress:
    """A line when the build starts and one when it ends, on stderr; between them, on a
    terminal, a bar of the file read so far."""

    def __init__(self, path: Path, folder: Path, enabled: bool):
        self.path, self.folder, self.enabled = path, folder, enabled
        self.started, self.bar = clock.perf_counter(), None

    def start(self) -> None:
        """Once the file's columns are checked."""
        if not self.enabled:
            return
        size = self.path.stat().st_size / 2**20
        print(
            f"caching {self.path.name} ({size:,.1f} MB) in {self.folder} for later runs...",
            file=sys.stderr,
            flush=True,
        )
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

            self.bar = Progress(
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("cache", total=1.0)

    def update(self, fraction: float) -> None:
        if self.bar:
            self.bar.update(self.task, completed=fraction)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()
            self.bar = None

    def done(self, meta: dict[str, Any], folder: Path) -> None:
        if self.enabled:
            size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
            print(
                f"cached {meta['source']}: {meta['rows']:,} rows, "
                f"{len(meta['ids']):,} series ({size:,.1f} MB) in "
                f"{clock.perf_counter() - self.started:.1f} s",
                file=sys.stderr,
                flush=True,
            )

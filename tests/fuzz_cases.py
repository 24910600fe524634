"""Generated fault and bad-input cases for the ``rnnzoo`` command line, and the oracles that
every case must pass (``tests/test_fuzz.py`` runs them).

A case is one command line run in a fresh workspace: copies of a tiny trained sine run
(``run/``) and of its export (``exp/``) where the case needs them, plus whatever the case
prepares there (a corrupted file, an input file, a folder in the way). Cases run in-process
through ``click.testing.CliRunner`` (a time limit and an address-space limit keep a runaway case
from hanging or swapping the test process); the few whose arguments are not valid UTF-8 run in a
real subprocess, as a shell would start them.

The oracles, the same for every case (``check_outcome``):

- **exit status**: 0 or 2 (``verify`` may also exit 1 for a difference between runtimes);
- **no traceback**: no exception escapes click's runner (``result.exception`` other than
  ``SystemExit``), and neither stream shows ``Traceback (most recent call last)``; nor does
  the command hang past the time limit;
- **one error line**: a command that exits 2 prints exactly one non-blank line on stderr, and
  it starts with ``Error:`` (warnings the command raises count as stderr lines, as they would in
  a shell);
- **files**: the workspace is snapshotted before and after (path → kind, sha256, mode). A
  command that succeeds may create or change only its declared outputs (``Case.outputs``,
  ``fnmatch`` patterns, a folder pattern covering what is under it), never the paths in
  ``Case.keep`` (a user's own files); a command that fails may create new files only among
  its outputs and must leave every file that existed before exactly as it was — so a read-only
  command (``evaluate``, ``export``'s run, ``generate``) never "repairs" a corrupted file, and
  ``train --overwrite`` that fails leaves the old run intact;
- **no debris**: no new or changed 0-byte file, and no new temporary file (``*.tmp``,
  ``.*.tmp.*``) anywhere in the workspace.

Cases are generated deterministically (seeded ``random.Random`` and ``numpy`` generators; the
``info NAME --json`` output names the parameters of every task and cell), category by
category: training options, ``--param`` values, output paths, run-directory and export
corruptions, runtime input files, and miscellaneous command lines. Each category is one
ordered stream; ``cases("default")`` takes the first few of each (about 80, for the normal
suite), ``cases("deep")`` many more (over 850, ``pytest -m fuzz``). Cases that may run long
when the product lacks a guard (huge sizes, slow tasks) sit at the end of their stream, so only
the deep run reaches them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import gc
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

from rnnzoo.cli import cli

# ---------------------------------------------------------------- settings

SEED = 20240611
CASE_SECONDS = float(os.environ.get("RNNZOO_FUZZ_CASE_SECONDS", "15"))
MEMORY_HEADROOM = 4 << 30  # bytes of address space a case may add to the test process
SUBPROCESS_MEMORY = 6 << 30
OK_CODES = frozenset({0, 2})
VERIFY_CODES = frozenset({0, 1, 2})
TRACEBACK = "Traceback (most recent call last)"

# cases taken from each category's stream at each depth (None: the whole systematic part)
DEPTHS: dict[str, dict[str, int | None]] = {
    "default": {
        "train-options": 16,
        "params": 10,
        "paths": 12,
        "corrupt": 20,
        "inputs": 16,
        "misc": 8,
    },
    "deep": {
        "train-options": 220,
        "params": None,
        "paths": None,
        "corrupt": 300,
        "inputs": 160,
        "misc": None,
    },
}

TINY = ("--hidden", "4", "--epochs", "1", "--quiet")
TASK_BASE: dict[str, tuple[str, ...]] = {
    "sine": ("n_train=64", "n_test=16"),
    "reber": ("n_train=64", "n_test=16"),
    "dates": ("n_train=64", "n_test=16"),
    "dates-seq2seq": ("n_train=64", "n_test=16"),
    "rain": ("n_generated=200",),
    "video": ("n_train=32", "n_test=16", "frames=2", "side=14"),
    "mnist1d": ("num_samples=200", "validation_size=20"),
    "seqmnist": ("limit=200", "validation_size=50"),
    "caption": ("n_train=64", "n_test=16"),
    "translate": ("data_file=in/corpus.tsv", "max_pairs=60"),
}
FAST_TASKS = ("sine", "reber", "dates-seq2seq", "rain")
# time limits of tasks whose legitimate runs take long: video's baseline trains a CNN for 150
# steps (~12 s); seqmnist's limit=0 means every image; caption's and mnist1d's data
SLOW_TASK_SECONDS = {"video": 120.0, "seqmnist": 120.0, "caption": 60.0, "mnist1d": 60.0}
SINE = (
    "train",
    "--task",
    "sine",
    "--cell",
    "gru",
    *TINY,
    "--param",
    "n_train=64",
    "--param",
    "n_test=16",
)
OVERWRITE_RUN = ("--out", "run", "--overwrite")
NON_UTF8 = os.fsdecode(b"-\xff")  # a name suffix that is not valid UTF-8


# ---------------------------------------------------------------- cases


Prepare = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One command line and the workspace it runs in.

    ``needs``: fixtures copied into the workspace (``run``, ``exp``); ``prepare``: functions
    that then change the workspace; ``outputs``: what the command may write (patterns relative
    to the workspace); ``keep``: what it must never change; ``codes``: the exit statuses
    allowed; ``subprocess``: run as a real process (arguments that are not UTF-8); ``slow``:
    may run long where the product lacks a guard (deep runs only); ``seconds``: time limit."""

    id: str
    args: tuple[str, ...]
    needs: tuple[str, ...] = ()
    prepare: tuple[Prepare, ...] = ()
    outputs: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    codes: frozenset[int] = OK_CODES
    subprocess: bool = False
    slow: bool = False
    seconds: float = CASE_SECONDS


def case_id(case: Case) -> str:
    return case.id


def unique(cases: list[Case]) -> list[Case]:
    """The cases with ids made unique (``~2``, ``~3`` … for repeats)."""
    seen: dict[str, int] = {}
    result = []
    for c in cases:
        n = seen.get(c.id, 0) + 1
        seen[c.id] = n
        result.append(c if n == 1 else dataclasses.replace(c, id=f"{c.id}~{n}"))
    return result


def stream(systematic: list[Case], rng: random.Random, extra: Iterator[Case] | None = None):
    """A category's stream: its systematic cases shuffled, the slow ones last, then ``extra``
    (random combinations) without end."""
    fast = [c for c in systematic if not c.slow]
    slow = [c for c in systematic if c.slow]
    rng.shuffle(fast)
    rng.shuffle(slow)
    yield from fast
    yield from slow
    if extra is not None:
        yield from extra


def take(cases: Iterator[Case], n: int | None) -> list[Case]:
    result = []
    for c in cases:
        if n is not None and len(result) >= n:
            break
        result.append(c)
    return result


# ---------------------------------------------------------------- running a command


class CaseTimeout(BaseException):
    """Raised in the test process when an in-process case runs past its time limit (a
    ``BaseException``, so that no ``except Exception`` in the product swallows it)."""


@dataclass
class Outcome:
    """What a command did: exit status, output, and an exception that escaped (its last
    traceback line and where it was raised), or a timeout."""

    exit_code: int
    stdout: str
    stderr: str
    exception: str | None = None
    timed_out: bool = False
    seconds: float = 0.0


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"no result after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def address_space() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def memory_limit(headroom: int) -> Iterator[None]:
    """Cap the process's address space at its current size plus ``headroom``: a case that
    asks for a huge allocation fails fast instead of swapping or being killed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = address_space() + headroom
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def describe_exception(exc_info: Any) -> str:
    """The traceback's last line, where it was raised, and the innermost rnnzoo frame."""
    kind, value, tb = exc_info
    frames = traceback.extract_tb(tb) if tb is not None else []
    last = " ".join(traceback.format_exception_only(kind, value)[-1].split())[:300]
    places = list(frames[-1:])
    ours = [f for f in frames if f"{os.sep}rnnzoo{os.sep}" in f.filename]
    if ours and ours[-1] is not frames[-1]:
        places.append(ours[-1])
    where = ", from ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in places)
    return f"{last} (at {where})" if where else last


def cli_warnings() -> None:
    """The warning filters of a plain ``python`` process (deprecations hidden)."""
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", category=ResourceWarning)


def cli_runner() -> CliRunner:
    """A runner that also captures what C code writes to file descriptors 1 and 2 (as a
    terminal would show it), where this click version can."""
    try:
        return CliRunner(capture="fd")
    except TypeError:  # click < 8.3
        return CliRunner()


def run_in_process(args: tuple[str, ...], env: dict[str, str], seconds: float) -> Outcome:
    runner = cli_runner()
    start = time.perf_counter()
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            memory_limit(MEMORY_HEADROOM),
            time_limit(seconds),
        ):
            cli_warnings()
            result = runner.invoke(
                cli, list(args), env=env, catch_exceptions=True, prog_name="rnnzoo"
            )
    except CaseTimeout as timeout:
        return Outcome(-1, "", "", str(timeout), True, time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    shown = "".join(
        warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught
    )
    exception = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exception = describe_exception(result.exc_info)
    return Outcome(
        result.exit_code, result.stdout, shown + result.stderr, exception, False, elapsed
    )


def run_in_subprocess(
    args: tuple[str, ...], cwd: Path, env: dict[str, str], seconds: float
) -> Outcome:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_MEMORY, SUBPROCESS_MEMORY))

    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rnnzoo", *(os.fsencode(a) for a in args)],
            cwd=cwd,
            env={**os.environ, **env},
            capture_output=True,
            timeout=seconds + 30,  # the interpreter and torch take seconds to start
            preexec_fn=limit,
        )
    except subprocess.TimeoutExpired:
        elapsed = time.perf_counter() - start
        return Outcome(-1, "", "", f"no result after {elapsed:.0f} s", True, elapsed)
    stdout = done.stdout.decode(errors="replace")
    stderr = done.stderr.decode(errors="replace")
    exception = None
    if done.returncode < 0:
        exception = f"killed by signal {-done.returncode}"
    return Outcome(done.returncode, stdout, stderr, exception, False, time.perf_counter() - start)


# ---------------------------------------------------------------- the oracles


Entry = tuple[str, str | None, int, int]  # kind, sha256, mode, size


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under ``root`` (relative, POSIX) → kind, sha256 (files), mode, size."""
    entries: dict[str, Entry] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256()
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                entries[rel] = ("file", digest.hexdigest(), info.st_mode, info.st_size)
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = ("dir", None, info.st_mode, 0)
            else:
                entries[rel] = ("other", None, info.st_mode, 0)
    return entries


def matches(rel: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``rel`` is one of ``patterns`` or lies under one."""
    return any(
        fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(rel, p.rstrip("/") + "/*")
        for p in patterns
    )


def is_temporary(rel: str) -> bool:
    name = os.path.basename(rel)
    return name.endswith(".tmp") or fnmatch.fnmatchcase(name, ".*.tmp.*")


def last_traceback_line(text: str) -> str:
    tail = text[text.rfind(TRACEBACK) :].strip().splitlines()
    return tail[-1].strip()[:300] if tail else ""


def check_outcome(
    case: Case, outcome: Outcome, before: dict[str, Entry], after: dict[str, Entry]
) -> list[str]:
    """Every way the outcome breaks the oracles (see the module docstring), one line each."""
    if outcome.timed_out:  # interrupted as by a kill: what it left is the kill tests' business
        return [f"hangs: {outcome.exception}"]
    problems = []
    if outcome.exception:
        problems.append(f"exception escaped: {outcome.exception}")
    for name, text in (("stderr", outcome.stderr), ("stdout", outcome.stdout)):
        if TRACEBACK in text:
            problems.append(f"traceback on {name}: {last_traceback_line(text)}")
    if outcome.exit_code not in case.codes:
        problems.append(f"exit status {outcome.exit_code}, not one of {sorted(case.codes)}")
    if outcome.exit_code == 2:
        lines = [line for line in outcome.stderr.splitlines() if line.strip()]
        if len(lines) != 1 or not lines[0].startswith("Error:"):
            shown = " | ".join(lines)[:300]
            problems.append(f"exit 2 without one 'Error:' line on stderr ({len(lines)}: {shown})")
    succeeded = outcome.exit_code == 0

    def writable(rel: str) -> bool:
        return matches(rel, case.outputs) and not matches(rel, case.keep)

    for rel, entry in before.items():
        now = after.get(rel)
        if now is None:
            if not (succeeded and writable(rel)):
                problems.append(f"deleted {rel!r}")
        elif now[:3] != entry[:3]:
            if entry[0] == now[0] == "dir":
                problems.append(f"changed the mode of {rel!r}")
            elif not (succeeded and writable(rel)):
                problems.append(f"changed {rel!r} ({entry[0]} → {now[0]}, {now[3]} bytes)")
    stray = [rel for rel in after if rel not in before and not writable(rel)]
    if stray:
        shown = ", ".join(repr(rel) for rel in stray[:3]) + (", …" if len(stray) > 3 else "")
        problems.append(f"created {len(stray)} path(s) outside {list(case.outputs)}: {shown}")
    for rel, now in after.items():
        changed = before.get(rel) != now
        if changed and now[0] == "file" and now[3] == 0:
            problems.append(f"left a 0-byte file {rel!r}")
        if rel not in before and is_temporary(rel):
            problems.append(f"left a temporary file {rel!r}")
    return problems


# ---------------------------------------------------------------- fixtures and a case's run


@dataclass(frozen=True)
class Fixtures:
    """What cases copy: a finished tiny sine run, its export, and a shared cache folder."""

    run: Path
    export: Path
    cache: Path


def build_fixtures(root: Path) -> Fixtures:
    """Train the tiny run and export it (onnxruntime only), once."""
    cache = root / "cache"
    cache.mkdir(parents=True)
    env = {"RNNZOO_CACHE": str(cache)}
    runner = CliRunner()
    trained = runner.invoke(cli, [*SINE, "--out", str(root / "run")], env=env)
    assert trained.exit_code == 0, (trained.output, trained.exception)
    exported = runner.invoke(
        cli,
        ["export", str(root / "run"), "--out", str(root / "exp"), "--runtime", "onnxruntime"],
        env=env,
    )
    assert exported.exit_code == 0, (exported.output, exported.exception)
    return Fixtures(root / "run", root / "exp", cache)


@dataclass
class Report:
    case: Case
    outcome: Outcome
    problems: list[str]

    def message(self) -> str:
        """The first line sums up (for pytest's short summary); the rest shows the details."""
        o = self.outcome
        first = f"{self.case.id}: " + "; ".join(self.problems)
        return "\n".join(
            [
                first[:500],
                f"command: rnnzoo {' '.join(repr(a) if ' ' in a else a for a in self.case.args)}",
                f"exit status {o.exit_code} after {o.seconds:.2f} s",
                "stderr (tail): " + o.stderr[-1500:],
                "stdout (tail): " + o.stdout[-500:],
            ]
        )


def run_case(case: Case, fixtures: Fixtures, root: Path) -> Report:
    """Set up ``root/ws`` for ``case``, run it there, and check every oracle."""
    ws = root / "ws"
    ws.mkdir(parents=True)
    for name in case.needs:
        source = {"run": fixtures.run, "exp": fixtures.export}[name]
        shutil.copytree(source, ws / name)
    (ws / "in").mkdir(exist_ok=True)
    for prepare in case.prepare:
        prepare(ws)
    before = snapshot(ws)
    env = {"RNNZOO_CACHE": str(fixtures.cache)}
    cwd = os.getcwd()
    os.chdir(ws)
    try:
        if case.subprocess:
            outcome = run_in_subprocess(case.args, ws, env, case.seconds)
        else:
            outcome = run_in_process(case.args, env, case.seconds)
    finally:
        os.chdir(cwd)
    if outcome.exception:
        gc.collect()  # free what the traceback's frames held (a full collection takes ~0.3 s)
    after = snapshot(ws)
    return Report(case, outcome, check_outcome(case, outcome, before, after))


# ---------------------------------------------------------------- preparing a workspace


def write(rel: str, data: bytes | str) -> Prepare:
    def prepare(ws: Path) -> None:
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    prepare.__name__ = f"write {rel}"
    return prepare


def make_dir(rel: str) -> Prepare:
    return lambda ws: (ws / rel).mkdir(parents=True, exist_ok=True)


def corpus(ws: Path) -> None:
    from rnnzoo.tasks.translate import write_example_corpus

    write_example_corpus(ws / "in" / "corpus.tsv")


def example_input(ws: Path) -> None:
    shutil.copy(ws / "exp" / "example.json", ws / "in" / "example.json")


def corrupt(rel: str, how: Callable[[Path, random.Random], None], seed: int) -> Prepare:
    """Corrupt the workspace's ``rel`` with ``how`` and a generator seeded with ``seed``."""

    def prepare(ws: Path) -> None:
        how(ws / rel, random.Random(seed))

    return prepare


# ---------------------------------------------------------------- category 1: train options

INT_OPTIONS = (
    "--hidden",
    "--layers",
    "--epochs",
    "--batch-size",
    "--tbptt",
    "--patience",
    "--max-steps",
    "--seed",
)
FLOAT_OPTIONS = ("--lr", "--weight-decay", "--clip", "--dropout")
HUGE = {"1e9": "1000000000", "2^64": str(2**64), "10^22": str(10**22)}
INT_EDGES = {
    "0": "0",
    "-1": "-1",
    "1": "1",
    **HUGE,
    "-2^64": str(-(2**64)),
    "1.5": "1.5",
    "nan": "nan",
    "inf": "inf",
    "abc": "abc",
    "empty": "",
    "1e3": "1e3",
    "arabic-3": "\u0663",
}
FLOAT_EDGES = {
    "0": "0",
    "-1": "-1",
    "-0.0": "-0.0",
    "nan": "nan",
    "inf": "inf",
    "-inf": "-inf",
    "1e38": "1e38",
    "1e39": "1e39",
    "1e308": "1e308",
    "2^64": str(2**64),
    "1e-45": "1e-45",
    "5e-324": "5e-324",
    "abc": "abc",
    "empty": "",
    "0.999999": "0.999999",
}
FLAG_COMBOS: dict[str, tuple[str, ...]] = {
    "tbptt3-bidirectional": ("--tbptt", "3", "--bidirectional"),
    "tbptt1": ("--tbptt", "1"),
    "device-cuda": ("--device", "cuda"),
    "device-cuda-99": ("--device", "cuda:99"),
    "device-bogus": ("--device", "bogus"),
    "device-empty": ("--device", ""),
    "device-meta": ("--device", "meta"),
    "device-cpu": ("--device", "cpu"),
    "device-CPU": ("--device", "CPU"),
    "amp": ("--amp",),
    "onecycle": ("--schedule", "onecycle"),
    "onecycle-max-steps1": ("--schedule", "onecycle", "--max-steps", "1"),
    "schedule-bogus": ("--schedule", "bogus"),
    "bidirectional-layers2-dropout": ("--bidirectional", "--layers", "2", "--dropout", "0.5"),
    "dropout-1-layer": ("--dropout", "0.5"),
    "batch-size1": ("--batch-size", "1"),
    "patience1-epochs3": ("--patience", "1", "--epochs", "3"),
    "lr-huge-diverges": ("--lr", "1e30", "--clip", "0", "--epochs", "2"),
    "no-clip-lr-1e10": ("--clip", "0", "--lr", "1e10"),
    "json": ("--json",),
    "not-quiet": ("--quiet", "--json"),
}
NAME_CASES: dict[str, tuple[str, ...]] = {
    "task-bogus": ("train", "--task", "bogus", "--cell", "gru"),
    "cell-bogus": ("train", "--task", "sine", "--cell", "bogus"),
    "task-empty": ("train", "--task", "", "--cell", "gru"),
    "cell-wildcard": ("train", "--task", "sine", "--cell", "g*"),
    "task-upper": ("train", "--task", "SINE", "--cell", "gru"),
    "task-missing": ("train", "--cell", "gru"),
    "cell-missing": ("train", "--task", "sine"),
    "cell-is-task": ("train", "--task", "sine", "--cell", "sine"),
    "task-is-cell": ("train", "--task", "gru", "--cell", "gru"),
}


def option_case(option: str, label: str, value: str, overwrite: bool = True) -> Case:
    extra: tuple[str, ...] = (option, value)
    slow = False
    if label in HUGE:
        if option == "--epochs":
            extra = (*extra, "--max-steps", "1")  # the run itself stays short
        slow = option in ("--layers", "--hidden")
    where = OVERWRITE_RUN if overwrite else ("--out", "new")
    return Case(
        f"train-opt{option}={label}" + ("" if overwrite else "-new-dir"),
        (*SINE, *extra, *where),
        needs=("run",),
        outputs=("run",) if overwrite else ("new",),
        slow=slow,
    )


def train_option_cases(rng: random.Random) -> Iterator[Case]:
    systematic = [
        option_case(option, label, value)
        for option in INT_OPTIONS
        for label, value in INT_EDGES.items()
    ]
    systematic += [
        option_case(option, label, value)
        for option in FLOAT_OPTIONS
        for label, value in FLOAT_EDGES.items()
    ]
    systematic += [
        option_case(o, label, v, overwrite=False)
        for o, label, v in (("--hidden", "0", "0"), ("--lr", "nan", "nan"), ("--seed", "-1", "-1"))
    ]
    for label, extra in FLAG_COMBOS.items():
        systematic.append(
            Case(
                f"train-{label}", (*SINE, *extra, *OVERWRITE_RUN), needs=("run",), outputs=("run",)
            )
        )
    for label, args in NAME_CASES.items():
        systematic.append(
            Case(f"train-{label}", (*args, *TINY, *OVERWRITE_RUN), needs=("run",), outputs=("run",))
        )
    systematic += [
        Case("train-existing-run-no-overwrite", (*SINE, "--out", "run"), needs=("run",)),
        Case("train-resume-with-options", (*SINE, "--out", "run", "--resume"), needs=("run",)),
        Case("train-resume-no-out", ("train", "--resume", "--quiet")),
        Case("train-resume-missing-dir", ("train", "--resume", "--out", "nothing")),
        Case(
            "train-resume-and-overwrite",
            ("train", "--resume", "--overwrite", "--out", "run", "--quiet"),
            needs=("run",),
            outputs=("run",),
        ),
        Case("train-no-out-default-runs", SINE, outputs=("runs",)),
    ]
    yield from stream(systematic, rng, random_option_combos(rng))


def random_option_combos(rng: random.Random) -> Iterator[Case]:
    """Two to four options at edge values (never the slow huge sizes), maybe with a flag."""
    n = 0
    options = [(o, INT_EDGES) for o in INT_OPTIONS] + [(o, FLOAT_EDGES) for o in FLOAT_OPTIONS]
    while True:
        n += 1
        extra: list[str] = []
        labels = []
        for option, edges in rng.sample(options, rng.randint(2, 4)):
            label = rng.choice([k for k in edges if not (k in HUGE and option != "--seed")])
            extra += [option, edges[label]]
            labels.append(f"{option}={label}")
        if rng.random() < 0.4:
            flag = rng.choice(list(FLAG_COMBOS))
            extra += FLAG_COMBOS[flag]
            labels.append(flag)
        yield Case(
            f"train-combo-{n:03d}[{','.join(labels)}]",
            (*SINE, *extra, *OVERWRITE_RUN),
            needs=("run",),
            outputs=("run",),
        )


# ---------------------------------------------------------------- category 1b: --param values

PARAM_EDGES: dict[str, dict[str, str]] = {
    "int": {
        "-1": "-1",
        "0": "0",
        "1": "1",
        "1e9": "1000000000",
        "10^22": str(10**22),
        "nan": "nan",
        "inf": "inf",
        "1e39": "1e39",
        "1.5": "1.5",
        "abc": "abc",
        "empty": "",
        "true": "true",
    },
    "float": {
        "-1": "-1",
        "0": "0",
        "1": "1",
        "1e39": "1e39",
        "1e308": "1e308",
        "nan": "nan",
        "inf": "inf",
        "-inf": "-inf",
        "1e-300": "1e-300",
        "abc": "abc",
        "empty": "",
    },
    "bool": {
        "true": "true",
        "False": "False",
        "maybe": "maybe",
        "empty": "",
        "2": "2",
        "nan": "nan",
    },
    "str": {
        "empty": "",
        "nonexistent": "/nonexistent/file",
        "dot": ".",
        "long": "x" * 300,
        "garbage-file": "in/garbage.bin",
        "empty-dir": "in/emptydir",
        "nul-ish": "a\tb",
    },
    "choice": {"bogus": "bogus", "empty": "", "upper": "TANH"},
}
PARAM_FORMS: dict[str, str] = {
    "unknown-key": "bogus=1",
    "missing-equals": "n_train",
    "empty-key": "=5",
    "empty-pair": "",
    "double-equals": "n_train==5",
    "task-prefix": "task.n_train=32",
    "cell-prefix": "cell.bias=false",
    "bad-prefix": "model.n_train=5",
    "task-prefix-cell-param": "task.bias=1",
    "cell-prefix-task-param": "cell.n_train=5",
    "dotted-twice": "task.cell.bias=1",
    "spaces": " n_train = 32 ",
}


def info_params(name: str) -> list[dict[str, Any]]:
    """A task's or cell's parameters as ``rnnzoo info NAME --json`` lists them."""
    result = CliRunner().invoke(cli, ["info", name, "--json"])
    if result.exit_code != 0:
        return []
    try:
        return list(json.loads(result.stdout)["params"])
    except (ValueError, KeyError, TypeError):
        return []


def listed(what: str) -> list[str]:
    result = CliRunner().invoke(cli, [what, "--json"])
    try:
        return [entry["name"] for entry in json.loads(result.stdout)]
    except (ValueError, KeyError, TypeError):
        return []


def edges_for(type_name: str) -> dict[str, str]:
    if "|" in type_name:
        choices = [c.strip() for c in type_name.split("|")]
        return {**PARAM_EDGES["choice"], **{c: c for c in choices}}
    return PARAM_EDGES.get(type_name, PARAM_EDGES["str"])


def train_with(task: str, cell: str, pairs: list[str]) -> tuple[str, ...]:
    """A tiny training of ``cell`` on ``task`` with ``--param`` pairs, over the finished run."""
    args = ["train", "--task", task, "--cell", cell, *TINY]
    for pair in pairs:
        args += ["--param", pair]
    return tuple(args) + OVERWRITE_RUN


def param_prepares(task: str) -> tuple[Prepare, ...]:
    """Files the str-valued parameters point at, and the translate task's corpus."""
    return (
        write("in/garbage.bin", bytes(range(256)) * 4),
        make_dir("in/emptydir"),
        *((corpus,) if task == "translate" else ()),
    )


def param_cases(rng: random.Random) -> Iterator[Case]:
    systematic = []
    tasks = [t for t in listed("tasks") if t in TASK_BASE] or ["sine"]
    cells = listed("cells") or ["gru"]
    targets = [(t, "task", t, "gru") for t in tasks] + [(c, "cell", "sine", c) for c in cells]
    for name, what, task, cell in targets:
        base = list(TASK_BASE.get(task, ()))
        for param in info_params(name):
            key = param["name"]
            kept = [p for p in base if p.split("=", 1)[0] != key]
            edges = edges_for(str(param["type"]))
            labels = list(edges)
            if what == "task" and task not in FAST_TASKS:  # a few values: these train slowly
                labels = rng.sample(labels, min(2 if task in SLOW_TASK_SECONDS else 3, len(labels)))
            for label in labels:
                huge = label in ("1e9", "10^22") and key != "seed"
                systematic.append(
                    Case(
                        f"param-{name}-{key}={label}",
                        train_with(task, cell, [*kept, f"{key}={edges[label]}"]),
                        needs=("run",),
                        prepare=param_prepares(task),
                        outputs=("run",),
                        slow=huge or task not in FAST_TASKS,
                        seconds=SLOW_TASK_SECONDS.get(task, CASE_SECONDS),
                    )
                )
    for label, pair in PARAM_FORMS.items():
        systematic.append(
            Case(
                f"param-form-{label}",
                train_with("sine", "gru", [*TASK_BASE["sine"], pair]),
                needs=("run",),
                outputs=("run",),
            )
        )
    yield from stream(systematic, rng)


# ---------------------------------------------------------------- category 2: output paths

USER_CONFIG = '{"my": "own settings"}\n'
USER_FILES = {
    "config": {"config.json": USER_CONFIG},
    "summary": {"summary.json": '{"notes": "mine"}\n'},
    "config-and-summary": {"config.json": USER_CONFIG, "summary.json": "[1, 2]\n"},
    "metrics": {"metrics.jsonl": "my log line\n"},
    "data": {"data.json": '{"dataset": "mine"}\n'},
    "curve": {"curve.png": "not a png, mine\n"},
}
PREDICT = ("predict", "exp", "--input", "in/example.json")
GENERATE = ("generate", "run", "--steps", "3")
EXPORT = ("export", "run", "--runtime", "onnxruntime")


def path_cases(rng: random.Random) -> Iterator[Case]:
    user = write("f", "the user's own file\n")
    odd = f"run{NON_UTF8}"
    example = (example_input,)
    cases = [
        Case("out-train-is-a-file", (*SINE, "--out", "f"), prepare=(user,)),
        Case(
            "out-train-is-a-file-overwrite", (*SINE, "--out", "f", "--overwrite"), prepare=(user,)
        ),
        Case("out-train-under-a-file", (*SINE, "--out", "f/run"), prepare=(user,)),
        Case("out-train-empty", (*SINE, "--out", ""), outputs=("runs",)),  # as if left out
        Case("out-train-long-name", (*SINE, "--out", "r" * 300), outputs=("r" * 300,)),
        Case("out-train-a-file-of-the-run", (*SINE, "--out", "run/config.json"), needs=("run",)),
        Case("out-train-non-utf8", (*SINE, "--out", odd), outputs=(odd,), subprocess=True),
        Case("out-export-is-a-file", (*EXPORT, "--out", "f"), needs=("run",), prepare=(user,)),
        Case("out-export-under-a-file", (*EXPORT, "--out", "f/e"), needs=("run",), prepare=(user,)),
        Case("out-export-empty", (*EXPORT, "--out", ""), needs=("run",)),
        Case("out-export-into-the-run", (*EXPORT, "--out", "run"), needs=("run",)),
        Case(
            "out-export-user-folder",
            (*EXPORT, "--out", "mine"),
            needs=("run",),
            prepare=(write("mine/notes.txt", "keep me\n"),),
            outputs=("mine",),
            keep=("mine/notes.txt",),
        ),
        Case(
            "out-export-replaces-an-export",
            (*EXPORT, "--out", "exp"),
            needs=("run", "exp"),
            outputs=("exp",),
        ),
        Case(
            "out-export-non-utf8",
            (*EXPORT, "--out", f"exp{NON_UTF8}"),
            needs=("run",),
            outputs=(f"exp{NON_UTF8}",),
            subprocess=True,
        ),
        Case(
            "out-predict-output-folder",
            (*PREDICT, "--output", "outdir"),
            needs=("exp",),
            prepare=(example_input, make_dir("outdir")),
        ),
        Case(
            "out-predict-output-under-a-file",
            (*PREDICT, "--output", "f/y.npy"),
            needs=("exp",),
            prepare=(example_input, user),
        ),
        Case(
            "out-predict-output-missing-folder",
            (*PREDICT, "--output", "missing/y.json"),
            needs=("exp",),
            prepare=example,
        ),
        Case(
            "out-predict-output-existing-json",
            (*PREDICT, "--output", "y.json", "--json"),
            needs=("exp",),
            prepare=(example_input, write("y.json", "old\n")),
            outputs=("y.json",),
        ),
        Case(
            "out-predict-output-non-utf8",
            (*PREDICT, "--output", f"y{NON_UTF8}.json"),
            needs=("exp",),
            prepare=example,
            outputs=(f"y{NON_UTF8}.json",),
            subprocess=True,
        ),
        Case(
            "out-predict-input-non-utf8-name",
            ("predict", "exp", "--input", f"in/x{NON_UTF8}.json"),
            needs=("exp",),
            prepare=(lambda ws: shutil.copy(ws / "exp/example.json", ws / f"in/x{NON_UTF8}.json"),),
            subprocess=True,
        ),
        Case(
            "out-generate-plot-folder",
            (*GENERATE, "--plot", "plots"),
            needs=("run",),
            prepare=(make_dir("plots"),),
        ),
        Case(
            "out-generate-plot-under-a-file",
            (*GENERATE, "--plot", "f/g.png"),
            needs=("run",),
            prepare=(user,),
        ),
        Case(
            "out-generate-plot-existing-file",
            (*GENERATE, "--plot", "f.png"),
            needs=("run",),
            prepare=(write("f.png", "x"),),
            outputs=("f.png",),
        ),
        Case(
            "out-generate-plot-non-utf8",
            (*GENERATE, "--plot", f"g{NON_UTF8}.png"),
            needs=("run",),
            outputs=(f"g{NON_UTF8}.png",),
            subprocess=True,
        ),
        Case(
            "out-webpage-is-a-file",
            ("webpage", "exp", "--out", "f"),
            needs=("exp",),
            prepare=(user,),
        ),
        Case(
            "out-webpage-under-a-file",
            ("webpage", "exp", "--out", "f/w"),
            needs=("exp",),
            prepare=(user,),
        ),
        Case(
            "out-webpage-into-the-export",
            ("webpage", "exp", "--out", "exp"),
            needs=("exp",),
            outputs=("exp",),
        ),
    ]
    for name in ("y.xyz", "y", "y.npy", "y.NPY", "y.json"):
        cases.append(
            Case(
                f"out-predict-output-{name}",
                (*PREDICT, "--output", name),
                needs=("exp",),
                prepare=example,
                outputs=(name,),
            )
        )
    for name in ("g.xyz", "g", "g.pdf", "g.svg", "g.PNG", "run/model.safetensors"):
        cases.append(
            Case(
                f"out-generate-plot-{name}",
                (*GENERATE, "--plot", name),
                needs=("run",),
                outputs=(name,),
            )
        )
    for value in ("0", "-1", "abc", "1.5", ""):
        cases.append(
            Case(
                f"out-generate-steps={value or 'empty'}",
                ("generate", "run", "--steps", value),
                needs=("run",),
            )
        )
    for label, value in HUGE.items():
        cases.append(
            Case(
                f"out-generate-steps={label}",
                ("generate", "run", "--steps", value),
                needs=("run",),
                slow=True,
            )
        )
    for label, files in USER_FILES.items():
        for overwrite in (False, True):
            prepares = tuple(write(f"mine/{name}", text) for name, text in files.items())
            cases.append(
                Case(
                    f"out-train-user-folder-{label}" + ("-overwrite" if overwrite else ""),
                    (*SINE, "--out", "mine", *(("--overwrite",) if overwrite else ())),
                    prepare=prepares,
                    outputs=("mine", "mine-*"),
                    keep=tuple(f"mine/{name}" for name in files),
                )
            )
    yield from stream(cases, rng)


# ---------------------------------------------------------------- category 3: corruptions


Corruption = Callable[[Path, random.Random], None]


def replace_with(data: bytes | str) -> Corruption:
    def corruption(path: Path, rng: random.Random) -> None:
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return corruption


def random_bytes(path: Path, rng: random.Random) -> None:
    path.write_bytes(rng.randbytes(rng.randint(1, 4096)))


def emptied(path: Path, rng: random.Random) -> None:
    path.write_bytes(b"")


def deleted(path: Path, rng: random.Random) -> None:
    path.unlink()


def made_a_folder(path: Path, rng: random.Random) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("a file in the folder\n")


def truncated(path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(1, len(data))])


def flipped(count: int, start: int = 0, end: int | None = None) -> Corruption:
    """``count`` random bytes in ``data[start:end]`` (negative: from the end) XOR-ed."""

    def corruption(path: Path, rng: random.Random) -> None:
        data = bytearray(path.read_bytes())
        lo = start % len(data) if start < 0 else min(start, len(data) - 1)
        hi = len(data) if end is None else (end % len(data) if end < 0 else end)
        for _ in range(count):
            i = rng.randrange(lo, max(lo + 1, hi))
            data[i] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(data))

    return corruption


def appended(path: Path, rng: random.Random) -> None:
    with open(path, "ab") as f:
        f.write(rng.randbytes(rng.randint(1, 512)))


def deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


BYTE_CORRUPTIONS: dict[str, Corruption] = {
    "random-bytes": random_bytes,
    "non-utf8": replace_with(b'{"task": "\xff\xfe", "cell": "\x80"}'),
    "emptied": emptied,
    "deleted": deleted,
    "a-folder": made_a_folder,
    "truncated": truncated,
    "flip-3-bytes": flipped(3),
    "appended-garbage": appended,
}
JSON_CORRUPTIONS: dict[str, Corruption] = {
    "null": replace_with("null"),
    "list": replace_with("[]"),
    "string": replace_with('"config"'),
    "number": replace_with("1e400"),
    "empty-object": replace_with("{}"),
    "deep-nesting": replace_with(deep_json()),
    "deep-object": replace_with('{"a":' * 50_000 + "1" + "}" * 50_000),
    "nan-literal": replace_with("NaN"),
    "bom": lambda path, rng: path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes()),
    "nul-bytes": lambda path, rng: path.write_bytes(path.read_bytes().replace(b",", b",\0", 1)),
}


def edited_json(change: Callable[[Any], Any]) -> Corruption:
    def corruption(path: Path, rng: random.Random) -> None:
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return corruption


def with_fields(**fields: Any) -> Corruption:
    return edited_json(lambda config: {**config, **fields})


def without(*keys: str) -> Corruption:
    return edited_json(lambda config: {k: v for k, v in config.items() if k not in keys})


CONFIG_EDITS: dict[str, Corruption] = {
    "hidden-abc": with_fields(hidden="abc"),
    "hidden-0": with_fields(hidden=0),
    "hidden-5": with_fields(hidden=5),  # other weights' shapes
    "hidden-true": with_fields(hidden=True),
    "hidden-4.0": with_fields(hidden=4.0),
    "hidden-null": with_fields(hidden=None),
    "layers-0": with_fields(layers=0),
    "layers-2": with_fields(layers=2),
    "layers--1": with_fields(layers=-1),
    "lr--1": with_fields(lr=-1),
    "lr-nan": edited_json(lambda c: json.loads(json.dumps({**c, "lr": float("nan")}))),
    "lr-string": with_fields(lr="0.001"),
    "dropout-1.5": with_fields(dropout=1.5),
    "epochs-0": with_fields(epochs=0),
    "batch-size-0": with_fields(batch_size=0),
    "seed-2^64": with_fields(seed=2**64),
    "seed-string": with_fields(seed="x"),
    "tbptt--1": with_fields(tbptt=-1),
    "bidirectional-true": with_fields(bidirectional=True),
    "bidirectional-string": with_fields(bidirectional="yes"),
    "schedule-bogus": with_fields(schedule="bogus"),
    "device-bogus": with_fields(device="bogus"),
    "device-cuda": with_fields(device="cuda"),
    "device-int": with_fields(device=0),
    "amp-string": with_fields(amp="no"),
    "missing-task": without("task"),
    "missing-cell": without("cell"),
    "missing-hidden": without("hidden"),
    "task-bogus": with_fields(task="bogus"),
    "task-empty": with_fields(task=""),
    "task-number": with_fields(task=7),
    "cell-bogus": with_fields(cell="bogus"),
    "cell-lstm": with_fields(cell="lstm"),  # other weights' names
    "cell-list": with_fields(cell=["gru"]),
    "task-reber": with_fields(task="reber", task_params={}),
    "extra-key": with_fields(colour="blue"),
    "task-params-list": with_fields(task_params=[1, 2]),
    "task-params-null": with_fields(task_params=None),
    "task-params-unknown": with_fields(task_params={"bogus": 1}),
    "task-params-negative": with_fields(task_params={"n_train": -5, "n_test": 16}),
    "task-params-string": with_fields(task_params={"n_train": "many"}),
    "task-params-t-max-inf": edited_json(
        lambda c: {**c, "task_params": {**c["task_params"], "t_max": 1e400}}
    ),
    "cell-params-unknown": with_fields(cell_params={"bogus": True}),
    "cell-params-bias-string": with_fields(cell_params={"bias": "yes"}),
    "cell-params-bias-false": with_fields(cell_params={"bias": False}),
}
CONFIG_EDITS_SLOW: dict[str, Corruption] = {
    "hidden-1e9": with_fields(hidden=10**9),
    "layers-1e9": with_fields(layers=10**9),
    "task-params-n-test-1e9": edited_json(
        lambda c: {**c, "task_params": {**c["task_params"], "n_test": 10**9}}
    ),
}


# safetensors: 8 bytes of header length (little-endian u64), the JSON header, the data


def split_safetensors(data: bytes) -> tuple[int, dict[str, Any], bytes]:
    n = struct.unpack("<Q", data[:8])[0]
    return n, json.loads(data[8 : 8 + n]), data[8 + n :]


def join_safetensors(header: dict[str, Any], body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def header_length(value: Callable[[int, int], int]) -> Corruption:
    """Replace the header length by ``value(length, file size)``."""

    def corruption(path: Path, rng: random.Random) -> None:
        data = path.read_bytes()
        n = struct.unpack("<Q", data[:8])[0]
        path.write_bytes(struct.pack("<Q", value(n, len(data)) % 2**64) + data[8:])

    return corruption


def edited_header(change: Callable[[dict[str, Any], random.Random], None]) -> Corruption:
    """Change the JSON header of a safetensors file, keeping the data as it was."""

    def corruption(path: Path, rng: random.Random) -> None:
        _, header, body = split_safetensors(path.read_bytes())
        change(header, rng)
        path.write_bytes(join_safetensors(header, body))

    return corruption


def some_tensor(header: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    names = sorted(k for k in header if k != "__metadata__")
    return header[rng.choice(names)]


def set_tensor(key: str, value: Any) -> Callable[[dict[str, Any], random.Random], None]:
    def change(header: dict[str, Any], rng: random.Random) -> None:
        some_tensor(header, rng)[key] = value

    return change


def header_garbage(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    n = struct.unpack("<Q", data[:8])[0]
    for i in range(8, 8 + n):
        data[i] = rng.choice(b'{}[]":,0123456789abc ')
    path.write_bytes(bytes(data))


def header_non_utf8(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    n = struct.unpack("<Q", data[:8])[0]
    data[rng.randrange(9, 8 + n - 1)] = 0xFF
    path.write_bytes(bytes(data))


def rewritten(change: Callable[[dict, dict[str, str]], None]) -> Corruption:
    """Rewrite a safetensors file as a valid one whose tensors or metadata ``change`` edited
    (keeping a recorded checksum in the metadata unless ``change`` drops it)."""

    def corruption(path: Path, rng: random.Random) -> None:
        from safetensors import safe_open
        from safetensors.torch import save_file

        with safe_open(path, framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            metadata = dict(f.metadata() or {})
        change(tensors, metadata)
        save_file(tensors, str(path), metadata=metadata)

    return corruption


def drop_checksums(metadata: dict[str, str]) -> None:
    for key in [k for k in metadata if "sha" in k or "checksum" in k]:
        del metadata[key]


def nan_weights(tensors: dict, metadata: dict[str, str]) -> None:
    for name, tensor in tensors.items():
        if tensor.is_floating_point():
            tensors[name] = tensor * float("nan")
    drop_checksums(metadata)  # as an older run, written before checksums, would be


def drop_tensor(tensors: dict, metadata: dict[str, str]) -> None:
    del tensors[sorted(tensors)[0]]
    drop_checksums(metadata)


def extra_tensor(tensors: dict, metadata: dict[str, str]) -> None:
    import torch

    tensors["bogus.weight"] = torch.zeros(3)
    drop_checksums(metadata)


def transposed(tensors: dict, metadata: dict[str, str]) -> None:
    name = next(k for k in sorted(tensors) if tensors[k].dim() == 2)
    tensors[name] = tensors[name].t().contiguous()
    drop_checksums(metadata)


def to_float64(tensors: dict, metadata: dict[str, str]) -> None:
    for name, tensor in tensors.items():
        if tensor.is_floating_point():
            tensors[name] = tensor.double()
    drop_checksums(metadata)


SAFETENSORS_CORRUPTIONS: dict[str, Corruption] = {
    "flip-tensor-bytes": flipped(2, start=-16),
    "flip-header-bytes": lambda path, rng: flipped(
        2, start=8, end=8 + struct.unpack("<Q", path.read_bytes()[:8])[0]
    )(path, rng),
    "flip-length-prefix": flipped(1, start=0, end=8),
    "truncated-in-header": lambda path, rng: path.write_bytes(
        path.read_bytes()[: rng.randrange(1, 8 + struct.unpack("<Q", path.read_bytes()[:8])[0])]
    ),
    "truncated-in-data": lambda path, rng: path.write_bytes(
        path.read_bytes()[: -rng.randint(1, 8)]
    ),
    "header-length-huge": header_length(lambda n, size: 2**63),
    "header-length-zero": header_length(lambda n, size: 0),
    "header-length-past-end": header_length(lambda n, size: size + 100),
    "header-length-short": header_length(lambda n, size: n - 1),
    "header-garbage": header_garbage,
    "header-non-utf8": header_non_utf8,
    "header-dtype-f64": edited_header(set_tensor("dtype", "F64")),
    "header-dtype-bogus": edited_header(set_tensor("dtype", "XYZ")),
    "header-shape-huge": edited_header(set_tensor("shape", [2**40, 2**40])),
    "header-shape-negative": edited_header(set_tensor("shape", [-1])),
    "header-shape-empty": edited_header(set_tensor("shape", [0])),
    "header-offsets-reversed": edited_header(set_tensor("data_offsets", [8, 0])),
    "header-offsets-huge": edited_header(set_tensor("data_offsets", [0, 2**62])),
    "header-metadata-not-strings": edited_header(
        lambda header, rng: header.update({"__metadata__": {"x": [1, 2]}})
    ),
    "valid-nan-weights": rewritten(nan_weights),
    "valid-missing-tensor": rewritten(drop_tensor),
    "valid-extra-tensor": rewritten(extra_tensor),
    "valid-transposed-tensor": rewritten(transposed),
    "valid-float64": rewritten(to_float64),
    "valid-no-metadata": rewritten(lambda tensors, metadata: metadata.clear()),
}


def checkpoint_state(change: Callable[[Any], Any]) -> Corruption:
    """Rewrite the checkpoint's JSON state (its ``state`` metadata) with ``change``."""

    def edit(tensors: dict, metadata: dict[str, str]) -> None:
        try:
            state = json.loads(metadata.get("state", "{}"))
        except ValueError:
            state = {}
        changed = change(state)
        metadata["state"] = changed if isinstance(changed, str) else json.dumps(changed)

    return rewritten(edit)


def state_without(*keys: str) -> Corruption:
    return checkpoint_state(
        lambda s: {k: v for k, v in s.items() if k not in keys} if isinstance(s, dict) else s
    )


def counters(**values: Any) -> Corruption:
    return checkpoint_state(lambda s: {**s, "counters": {**s.get("counters", {}), **values}})


CHECKPOINT_CORRUPTIONS: dict[str, Corruption] = {
    "state-without-counters": state_without("counters"),
    "state-without-rng": state_without("rng"),
    "state-without-counters-and-rng": state_without("counters", "rng"),
    "state-without-optimizer": state_without("optimizer"),
    "state-without-model": state_without("model"),
    "state-not-json": checkpoint_state(lambda s: "{not json"),
    "state-a-string": checkpoint_state(lambda s: json.dumps("state")),
    "state-null": checkpoint_state(lambda s: None),
    "state-deep": checkpoint_state(lambda s: deep_json()),
    "state-missing-metadata": rewritten(lambda tensors, metadata: metadata.pop("state", None)),
    "counters-epoch-string": counters(epoch="one"),
    "counters-epoch-negative": counters(epoch=-1),
    "counters-epoch-huge": counters(epoch=10**9),
    "counters-step-float": counters(step=1.5),
    "counters-unknown-key": counters(colour="blue"),
    "counters-best-string": counters(best="high"),
    "counters-null": checkpoint_state(lambda s: {**s, "counters": None}),
    "rng-missing-tensor": checkpoint_state(
        lambda s: {**s, "rng": {"torch": {"__tensor__": "s.nowhere"}}}
    ),
    "rng-a-number": checkpoint_state(lambda s: {**s, "rng": {"torch": 5}}),
}

METRICS_CORRUPTIONS: dict[str, Corruption] = {
    "torn-last-line": lambda path, rng: path.write_bytes(
        path.read_bytes() + b'{"epoch": 2, "step": 9, "train_lo'
    ),
    "garbage-lines": lambda path, rng: path.write_bytes(
        path.read_bytes() + rng.randbytes(300) + b"\n" + rng.randbytes(300)
    ),
    "garbage-first-line": lambda path, rng: path.write_bytes(b"garbage\n" + path.read_bytes()),
    "non-utf8-line": lambda path, rng: path.write_bytes(path.read_bytes() + b"\xff\xfe\n"),
    "epoch-as-string": replace_with('{"epoch": "1", "step": 1}\n'),
    "json-list-line": replace_with("[1, 2, 3]\n"),
    "huge-line": lambda path, rng: path.write_bytes(path.read_bytes() + b"x" * 3_000_000),
    "deep-line": lambda path, rng: path.write_text(deep_json() + "\n"),
}

SUMMARY_CORRUPTIONS: dict[str, Corruption] = {
    "test-string": with_fields(test="x"),
    "test-metrics-nan": edited_json(lambda s: {**s, "test": {"mse": "NaN"}}),
    "baseline-list": with_fields(baseline_test=[1, 2]),
    "best-epoch-string": with_fields(best_epoch="best"),
}


RUN_COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "evaluate": (("evaluate", "run"), ()),
    "evaluate-json-train": (("evaluate", "run", "--json", "--split", "train"), ()),
    "export": (("export", "run", "--out", "exp2", "--runtime", "onnxruntime"), ("exp2",)),
    "generate": (("generate", "run", "--steps", "3"), ()),
    "resume": (("train", "--resume", "--out", "run", "--quiet"), ("run",)),
}
READ_ONLY = ("evaluate", "export", "generate")
EXPORT_COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], frozenset[int]]] = {
    "predict": (("predict", "exp", "--input", "in/example.json"), (), OK_CODES),
    "predict-json": (("predict", "exp", "--input", "in/example.json", "--json"), (), OK_CODES),
    "verify": (("verify", "exp", "--runtime", "onnx.reference"), (), VERIFY_CODES),
    "webpage": (("webpage", "exp", "--out", "web"), ("web",), OK_CODES),
}


def run_corruption(
    file: str, label: str, how: Corruption, command: str, seed: int, slow: bool = False
) -> Case:
    """``command`` on the run after ``how`` corrupted its ``file``."""
    args, outputs = RUN_COMMANDS[command]
    return Case(
        f"corrupt-{file}-{label}-{command}",
        args,
        needs=("run",),
        prepare=(corrupt(f"run/{file}", how, seed),),
        outputs=outputs,
        slow=slow,
    )


def corruption_cases(rng: random.Random) -> Iterator[Case]:
    main = ("evaluate", "export", "generate", "resume")
    plans: list[tuple[str, dict[str, Corruption], tuple[str, ...]]] = [
        ("config.json", {**BYTE_CORRUPTIONS, **JSON_CORRUPTIONS, **CONFIG_EDITS}, main),
        ("model.safetensors", {**BYTE_CORRUPTIONS, **SAFETENSORS_CORRUPTIONS}, main),
        (
            "checkpoint.safetensors",
            {**BYTE_CORRUPTIONS, **SAFETENSORS_CORRUPTIONS, **CHECKPOINT_CORRUPTIONS},
            ("resume",),
        ),
        ("data.json", {**BYTE_CORRUPTIONS, **JSON_CORRUPTIONS}, ("evaluate", "export", "resume")),
        ("metrics.jsonl", {**BYTE_CORRUPTIONS, **METRICS_CORRUPTIONS}, ("resume",)),
        (
            "summary.json",
            {**BYTE_CORRUPTIONS, **JSON_CORRUPTIONS, **SUMMARY_CORRUPTIONS},
            ("evaluate-json-train", "export", "resume"),
        ),
        ("curve.png", {"a-folder": made_a_folder, "deleted": deleted}, ("resume",)),
        ("predictions.png", {"a-folder": made_a_folder, "random-bytes": random_bytes}, ("resume",)),
    ]
    systematic = [
        run_corruption(file, label, how, command, rng.randrange(2**32))
        for file, corruptions, commands in plans
        for label, how in corruptions.items()
        for command in commands
    ]
    systematic += [
        run_corruption("config.json", label, how, command, 0, slow=True)
        for label, how in CONFIG_EDITS_SLOW.items()
        for command in ("evaluate", "resume")
    ]
    # the checkpoint is not read by the read-only commands: they must not touch it either
    systematic += [
        run_corruption("checkpoint.safetensors", label, how, command, rng.randrange(2**32))
        for label, how in (("random-bytes", random_bytes), ("a-folder", made_a_folder))
        for command in READ_ONLY
    ]
    for label, prepare in {
        "emptied": lambda ws: [p.unlink() for p in (ws / "run").iterdir()],
        "is-a-file": lambda ws: (shutil.rmtree(ws / "run"), (ws / "run").write_text("x")),
        "missing": lambda ws: shutil.rmtree(ws / "run"),
        "only-config": lambda ws: [
            p.unlink() for p in (ws / "run").iterdir() if p.name != "config.json"
        ],
    }.items():
        for command, (args, outputs) in RUN_COMMANDS.items():
            systematic.append(
                Case(
                    f"corrupt-rundir-{label}-{command}",
                    args,
                    needs=("run",),
                    prepare=(prepare,),
                    outputs=outputs,
                )
            )
    systematic += export_corruption_cases(rng)
    yield from stream(systematic, rng, random_corruptions(rng))


ONNX_CORRUPTIONS: dict[str, Corruption] = {
    "truncated": truncated,
    "random-bytes": random_bytes,
    "emptied": emptied,
    "deleted": deleted,
    "a-folder": made_a_folder,
    "flip-8-bytes": flipped(8),
}


def export_corruption_cases(rng: random.Random) -> list[Case]:
    plans: list[tuple[str, dict[str, Corruption]]] = [
        ("card.json", {**BYTE_CORRUPTIONS, **JSON_CORRUPTIONS}),
        ("model.onnx", ONNX_CORRUPTIONS),
        ("model.full.onnx", ONNX_CORRUPTIONS),
        ("model.step.onnx", {"deleted": deleted, "truncated": truncated}),
        ("example.json", {**BYTE_CORRUPTIONS, "deep-nesting": JSON_CORRUPTIONS["deep-nesting"]}),
    ]
    cases = []
    for file, corruptions in plans:
        for label, how in corruptions.items():
            for command, (args, outputs, codes) in EXPORT_COMMANDS.items():
                cases.append(
                    Case(
                        f"corrupt-export-{file}-{label}-{command}",
                        args,
                        needs=("exp",),
                        prepare=(example_input, corrupt(f"exp/{file}", how, rng.randrange(2**32))),
                        outputs=outputs,
                        codes=codes,
                    )
                )
    return cases


def random_corruptions(rng: random.Random) -> Iterator[Case]:
    """A random run file, truncated or with random bytes flipped, under a random command."""
    files = ("config.json", "model.safetensors", "checkpoint.safetensors", "data.json")
    n = 0
    while True:
        n += 1
        file = rng.choice(files)
        label, how = rng.choice(
            [("truncated", truncated), ("flip-1", flipped(1)), ("flip-5", flipped(5))]
        )
        command = rng.choice(("evaluate", "export", "generate", "resume"))
        seed = rng.randrange(2**32)
        yield run_corruption(file, f"{label}-s{seed}", how, command, seed)


def flipped_weight_cases() -> list[Case]:
    """A byte of the tensor data flipped (the last bytes of the file): once weights carry
    checksums, each command that reads the file must refuse it (exit 2)."""
    cases = []
    for file, commands in (
        ("model.safetensors", ("evaluate", "export", "generate")),
        ("checkpoint.safetensors", ("resume",)),
    ):
        for command in commands:
            args, outputs = RUN_COMMANDS[command]
            cases.append(
                Case(
                    f"checksum-{file}-{command}",
                    args,
                    needs=("run",),
                    prepare=(corrupt(f"run/{file}", flip_last_byte, 0),),
                    outputs=outputs,
                )
            )
    return cases


def flip_last_byte(path: Path, rng: random.Random) -> None:
    """Flip the top bit of the file's last byte: the sign of its last float32 value."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x80
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------- category 4: runtime inputs


def npy(array: Any, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_header(header: str, body: bytes = b"\0" * 80, version: bytes = b"\x01\x00") -> bytes:
    """A hand-made .npy file: magic, version, header text (padded) and ``body``."""
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(text)) + text + body


def sine_rows(batch: int = 2, steps: int = 20, features: int = 1) -> np.ndarray:
    t = np.linspace(0, 3, batch * steps * features, dtype=np.float32)
    return (t * np.sin(t)).reshape(batch, steps, features)


def npz(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, x=array)
    return buffer.getvalue()


NPY_INPUTS: dict[str, Callable[[], bytes]] = {
    "empty-file": lambda: b"",
    "truncated-header": lambda: npy(sine_rows())[:20],
    "truncated-data": lambda: npy(sine_rows())[:-10],
    "shape-expression": lambda: npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (10**12, 20, 1), }"
    ),
    "huge-shape-literal": lambda: npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 20, 1), }"
    ),
    "overflowing-shape": lambda: npy_header(
        f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({2**62}, {2**62}, 1), }}"
    ),
    "negative-shape": lambda: npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 20, 1), }"
    ),
    "bad-descr": lambda: npy_header("{'descr': '<x9', 'fortran_order': False, 'shape': (2,), }"),
    "header-not-a-dict": lambda: npy_header("[1, 2, 3]"),
    "header-code": lambda: npy_header("__import__('os').getcwd()"),
    "bad-magic": lambda: b"\x93NUMPX" + npy(sine_rows())[6:],
    "version-9": lambda: npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", version=b"\x09\x00"
    ),
    "object-dtype": lambda: npy(np.array([[[1.0], [None]]], dtype=object), allow_pickle=True),
    "pickle-payload": lambda: b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94." + b"\0" * 40,
    "npz-inside": lambda: npz(sine_rows()),
    "int64": lambda: npy(np.ones((2, 20, 1), np.int64)),
    "int8": lambda: npy(np.ones((2, 20, 1), np.int8)),
    "uint64-max": lambda: npy(np.full((2, 20, 1), 2**64 - 1, np.uint64)),
    "bool": lambda: npy(np.ones((2, 20, 1), bool)),
    "complex64": lambda: npy(np.ones((2, 20, 1), np.complex64)),
    "float16": lambda: npy(sine_rows().astype(np.float16)),
    "float64": lambda: npy(sine_rows().astype(np.float64)),
    "float64-huge": lambda: npy(np.full((2, 20, 1), 1e300)),
    "longdouble": lambda: npy(sine_rows().astype(np.longdouble)),
    "big-endian": lambda: npy(sine_rows().astype(">f4")),
    "fortran-order": lambda: npy(np.asfortranarray(sine_rows(3, 20, 1))),
    "unicode": lambda: npy(np.full((2, 20, 1), "abc")),
    "bytes": lambda: npy(np.full((2, 20, 1), b"abc")),
    "datetime64": lambda: npy(np.zeros((2, 20, 1), "datetime64[s]")),
    "timedelta64": lambda: npy(np.zeros((2, 20, 1), "timedelta64[s]")),
    "structured": lambda: npy(np.zeros((2, 20, 1), [("a", "<f4"), ("b", "<i4")])),
    "void": lambda: npy(np.zeros((2, 20, 1), "V4")),
    "rank-0": lambda: npy(np.float32(1.0)),
    "rank-1": lambda: npy(sine_rows(1)[0, :, 0]),
    "rank-2": lambda: npy(sine_rows(1)[0]),
    "rank-4": lambda: npy(sine_rows()[None]),
    "rank-6": lambda: npy(sine_rows()[None, None, None]),
    "3-features": lambda: npy(sine_rows(2, 20, 3)),
    "0-features": lambda: npy(np.zeros((2, 20, 0), np.float32)),
    "0-steps": lambda: npy(np.zeros((2, 0, 1), np.float32)),
    "0-batch": lambda: npy(np.zeros((0, 20, 1), np.float32)),
    "all-zero-sizes": lambda: npy(np.zeros((0, 0, 0), np.float32)),
    "nan": lambda: npy(np.full((2, 20, 1), np.nan, np.float32)),
    "inf": lambda: npy(np.full((2, 20, 1), np.inf, np.float32)),
    "-inf": lambda: npy(np.full((2, 20, 1), -np.inf, np.float32)),
    "mixed-nan-inf": lambda: npy(
        np.where(sine_rows() > 0, np.float32(np.nan), np.float32(np.inf)).astype(np.float32)
    ),
    "1e38": lambda: npy(np.full((2, 20, 1), 1e38, np.float32)),
    "max-float32": lambda: npy(np.full((2, 20, 1), np.finfo(np.float32).max, np.float32)),
    "subnormal": lambda: npy(np.full((2, 20, 1), 1e-45, np.float32)),
    "1-step": lambda: npy(sine_rows(1, 1, 1)),
    "100000-steps": lambda: npy(sine_rows(1, 100_000, 1)),
    "5000-rows": lambda: npy(sine_rows(5000, 20, 1)),
}

CSV_INPUTS: dict[str, bytes] = {
    "200KiB-field": b"1.0\n" + b"9" * (200 * 1024) + b"\n",
    "200KiB-quoted-field": b'1.0\n"' + b"9" * (200 * 1024) + b'"\n',
    "non-numeric": b"1.0\n2.0\nabc\n",
    "ragged": b"1,2\n3\n4,5,6\n",
    "only-header": b"value\n",
    "only-header-two-lines": b"value\nunit\n1.0\n",
    "binary-garbage": random.Random(7).randbytes(2000),
    "nul-byte": b"1.0\n\x002.0\n",
    "non-utf8": b"1.0\n\xff\xfe\n",
    "latin1-header": b"caf\xe9\n1.0\n2.0\n",
    "empty-file": b"",
    "blank-lines": b"\n\n  \n",
    "semicolons": b"1;2\n3;4\n",
    "nan-inf": b"nan\ninf\n-inf\n",
    "huge-values": b"1e39\n1e308\n-1e39\n",
    "big-integer": b"1" + b"0" * 400 + b"\n",
    "valid": "\n".join(f"{v:.4f}" for v in sine_rows(1).ravel()).encode() + b"\n",
    "two-columns": b"1,2\n3,4\n",
    "unbalanced-quote": b'"1.0\n2.0\n',
    "bom": "\ufeff1.0\n2.0\n".encode(),
    "crlf": b"1.0\r\n2.0\r\n",
    "cr-only": b"1.0\r2.0\r",
    "100000-rows": b"0.5\n" * 100_000,
    "empty-cells": b",\n,\n",
    "10000-columns": b"1," * 10_000 + b"1\n",
    "text-after-numbers": b"a\n1\nb\n",
    "whitespace": b" 1.0 \n\t2\n",
    "underscores": b"1_000\n2_0\n",
}


def json_with_lengths(lengths: Any) -> str:
    return json.dumps({"input": sine_rows().tolist(), "lengths": lengths})


JSON_INPUTS: dict[str, bytes | str] = {
    "deep-100000": deep_json(),
    "deep-1000": "[" * 1000 + "1.0" + "]" * 1000,
    "deep-object": '{"input":' * 50_000 + "1" + "}" * 50_000,
    "string": '"text"',
    "number": "1.5",
    "true": "true",
    "null": "null",
    "empty-list": "[]",
    "empty-nested": "[[]]",
    "empty-nested-3": "[[[]]]",
    "dict-without-input": '{"inputs": [[[1.0]]]}',
    "empty-dict": "{}",
    "input-null": '{"input": null}',
    "input-string": '{"input": "abc"}',
    "input-dict": '{"input": {"a": 1}}',
    "ragged": "[[[1.0], [2.0]], [[1.0]]]",
    "strings-inside": '[[["a"], ["b"]]]',
    "nulls-inside": "[[[null], [1.0]]]",
    "bools-inside": "[[[true], [false]]]",
    "nan-literals": "[[[NaN], [Infinity], [-Infinity]]]",
    "1e400": "[[[1e400]]]",
    "big-integer": f"[[[{10**400}]]]",
    "lengths-too-long": json_with_lengths([21, 20]),
    "lengths-negative": json_with_lengths([-1, 3]),
    "lengths-zero": json_with_lengths([0, 0]),
    "lengths-float": json_with_lengths([1.5, 2.0]),
    "lengths-wrong-count": json_with_lengths([20]),
    "lengths-strings": json_with_lengths(["a", "b"]),
    "lengths-nested": json_with_lengths([[1], [2]]),
    "lengths-huge": json_with_lengths([10**30, 1]),
    "lengths-int64-max": json_with_lengths([2**63 - 1, 1]),
    "lengths-a-number": json_with_lengths(20),
    "lengths-bool": json_with_lengths([True, True]),
    "lengths-null": json_with_lengths(None),
    "lengths-valid": json_with_lengths([20, 5]),
    "non-utf8": b"[[[1.0]]]\xff",
    "utf16": "[[[1.0]]]".encode("utf-16"),
    "bom": "\ufeff[[[1.0]]]",
    "trailing-garbage": "[[[1.0]]] xx",
    "empty-file": b"",
    "rank-4": json.dumps(sine_rows()[None].tolist()),
    "3-features": json.dumps(sine_rows(2, 20, 3).tolist()),
    "0-steps": "[[], []]",
}

PREDICT_MISC: dict[str, tuple[tuple[str, ...], tuple[Prepare, ...]]] = {
    "suffix-txt": (("--input", "in/x.txt"), (write("in/x.txt", "[[[1.0]]]"),)),
    "suffix-none": (("--input", "in/x"), (write("in/x", "[[[1.0]]]"),)),
    "suffix-upper-JSON": (("--input", "in/x.JSON"), (write("in/x.JSON", "[[[1.0]]]"),)),
    "suffix-npz": (("--input", "in/x.npz"), (write("in/x.npz", npz(sine_rows())),)),
    "missing-file": (("--input", "in/missing.npy"), ()),
    "a-folder": (("--input", "in/d.npy"), (make_dir("in/d.npy"),)),
    "the-export-folder": (("--input", "exp"), ()),
    "dev-null": (("--input", "/dev/null"), ()),
    "empty-path": (("--input", ""), ()),
    "int8-without-int8": (("--input", "in/example.json", "--int8"), (example_input,)),
    "beam-0": (("--input", "in/example.json", "--beam", "0"), (example_input,)),
    "beam-huge": (("--input", "in/example.json", "--beam", str(10**9)), (example_input,)),
}


def predict_case(label: str, name: str, data: bytes | str | Callable[[], bytes]) -> Case:
    def prepare(ws: Path) -> None:
        content = data() if callable(data) else data
        write(f"in/{name}", content)(ws)

    return Case(
        f"input-{label}",
        ("predict", "exp", "--input", f"in/{name}"),
        needs=("exp",),
        prepare=(prepare,),
    )


def input_cases(rng: random.Random) -> Iterator[Case]:
    systematic = [predict_case(f"npy-{k}", "x.npy", v) for k, v in NPY_INPUTS.items()]
    systematic += [predict_case(f"csv-{k}", "x.csv", v) for k, v in CSV_INPUTS.items()]
    systematic += [predict_case(f"json-{k}", "x.json", v) for k, v in JSON_INPUTS.items()]
    for label, (extra, prepares) in PREDICT_MISC.items():
        systematic.append(
            Case(f"input-{label}", ("predict", "exp", *extra), needs=("exp",), prepare=prepares)
        )
    systematic += [
        Case(
            "input-predict-a-run",
            ("predict", "run", "--input", "in/example.json"),
            needs=("run", "exp"),
            prepare=(example_input,),
        ),
        Case(
            "input-predict-missing-export",
            ("predict", "nothing", "--input", "in/example.json"),
            needs=("exp",),
            prepare=(example_input,),
        ),
    ]
    yield from stream(systematic, rng, random_array_inputs(rng))


DTYPES = ("<f4", "<f8", "<f2", ">f4", "<i8", "<i4", "|u1", "|b1", "<c8", "<U3", "|O", "<M8[s]")


def random_array(rng: np.random.Generator) -> np.ndarray:
    """An array of a random dtype and rank (0–4), sizes near the model's (20 steps, 1
    feature), and values from a random mixture of ordinary, huge and non-finite ones."""
    rank = int(rng.integers(0, 5))
    sizes = [0, 1, 2, 3, 20, 21]
    shape = tuple(int(rng.choice(sizes)) for _ in range(rank))
    if rank >= 2 and rng.random() < 0.6:
        shape = (*shape[:-1], 1)
    scale = float(rng.choice([1.0, 1e3, 1e38, 1e300]))
    values = rng.normal(size=shape) * scale
    if values.size and rng.random() < 0.3:
        special = rng.choice([np.nan, np.inf, -np.inf], size=values.shape)
        values = np.where(rng.random(values.shape) < 0.2, special, values)
    dtype = np.dtype(str(rng.choice(DTYPES)))
    with np.errstate(all="ignore"):
        if dtype.kind == "O":
            return values.astype(object)
        if dtype.kind in "iub":
            return np.nan_to_num(values, posinf=0, neginf=0).astype(dtype)
        if dtype.kind == "U":
            return values.astype(str).astype(dtype)
        if dtype.kind == "M":
            return np.zeros(shape, dtype)
        return values.astype(dtype)


def render(array: np.ndarray, fmt: str, rng: np.random.Generator) -> bytes:
    if fmt == "npy":
        return npy(array, allow_pickle=array.dtype.kind == "O")
    if fmt == "csv":
        rows = array.reshape(array.shape[0] if array.ndim else 1, -1) if array.size else array
        return "\n".join(",".join(str(v) for v in np.ravel(row)) for row in rows).encode()
    values = array.tolist() if array.dtype.kind not in "MmO" else array.astype(str).tolist()
    if rng.random() < 0.3:
        lengths = rng.integers(-2, 25, size=int(rng.integers(0, 4))).tolist()
        return json.dumps({"input": values, "lengths": lengths}).encode()
    return json.dumps(values).encode()


def random_array_inputs(rng: random.Random) -> Iterator[Case]:
    n = 0
    while True:
        n += 1
        seed = rng.randrange(2**32)
        fmt = rng.choice(["npy", "npy", "npy", "json", "json", "csv"])

        def data(seed: int = seed, fmt: str = fmt) -> bytes:
            generator = np.random.default_rng(seed)
            return render(random_array(generator), fmt, generator)

        yield predict_case(f"random-{fmt}-{n:03d}-s{seed}", f"x.{fmt}", data)


# ---------------------------------------------------------------- category 5: misc


def misc_cases(rng: random.Random) -> Iterator[Case]:
    user = write("f", "the user's own file\n")
    plain: dict[str, tuple[str, ...]] = {
        "unknown-command": ("bogus",),
        "unknown-command-close": ("trian",),
        "unknown-top-option": ("--bogus",),
        "no-arguments": (),
        "help": ("-h",),
        "version": ("--version",),
        "train-unknown-option": ("train", "--bogus"),
        "train-extra-argument": ("train", "extra"),
        "info-unknown": ("info", "bogus"),
        "info-empty": ("info", ""),
        "info-upper": ("info", "LSTM"),
        "info-wildcard": ("info", "l*"),
        "info-missing-name": ("info",),
        "info-json": ("info", "sine", "--json"),
        "cells-bracket": ("cells", "["),
        "cells-json": ("cells", "--json"),
        "tasks-no-match-json": ("tasks", "zz*", "--json"),
        "plugins-json": ("plugins", "--json"),
        "evaluate-missing-argument": ("evaluate",),
        "evaluate-nothing": ("evaluate", "nothing"),
        "predict-missing-input": ("predict", "exp"),
        "export-missing-out": ("export", "run"),
        "verify-nothing": ("verify", "nothing"),
    }
    cases = [Case(f"misc-{label}", args, needs=("run", "exp")) for label, args in plain.items()]
    with_run: list[tuple[str, tuple[str, ...], tuple[str, ...], frozenset[int]]] = [
        ("evaluate-split-bogus", ("evaluate", "run", "--split", "bogus"), (), OK_CODES),
        ("evaluate-extra-argument", ("evaluate", "run", "extra"), (), OK_CODES),
        ("evaluate-an-export", ("evaluate", "exp"), (), OK_CODES),
        ("evaluate-a-file", ("evaluate", "f"), (), OK_CODES),
        ("generate-an-export", ("generate", "exp"), (), OK_CODES),
        ("export-quantize-bogus", (*EXPORT, "--out", "e", "--quantize", "bogus"), ("e",), OK_CODES),
        ("export-quantize-int8", (*EXPORT, "--out", "e", "--quantize", "int8"), ("e",), OK_CODES),
        ("export-format-bogus", (*EXPORT, "--out", "e", "--format", "bogus"), ("e",), OK_CODES),
        (
            "export-runtime-bogus",
            ("export", "run", "--out", "e", "--runtime", "bogus"),
            ("e",),
            OK_CODES,
        ),
        ("export-an-export", ("export", "exp", "--out", "e"), ("e",), OK_CODES),
        ("verify-runtime-bogus", ("verify", "exp", "--runtime", "bogus"), (), VERIFY_CODES),
        ("verify-a-run", ("verify", "run"), (), VERIFY_CODES),
        (
            "verify-json",
            ("verify", "exp", "--runtime", "onnx.reference", "--json"),
            (),
            VERIFY_CODES,
        ),
        ("webpage-a-run", ("webpage", "run", "--out", "w"), ("w",), OK_CODES),
    ]
    for value in ("0", "1", "13", "14", "23", "24", "100", "-5", str(2**64), "abc", ""):
        with_run.append(
            (
                f"export-opset={value or 'empty'}",
                (*EXPORT, "--out", "e", "--opset", value),
                ("e",),
                OK_CODES,
            )
        )
    for label, args, outputs, codes in with_run:
        cases.append(
            Case(
                f"misc-{label}",
                args,
                needs=("run", "exp"),
                prepare=(user,),
                outputs=outputs,
                codes=codes,
            )
        )
    yield from stream(cases, rng)


# ---------------------------------------------------------------- all cases

CATEGORIES: dict[str, Callable[[random.Random], Iterator[Case]]] = {
    "train-options": train_option_cases,
    "params": param_cases,
    "paths": path_cases,
    "corrupt": corruption_cases,
    "inputs": input_cases,
    "misc": misc_cases,
}


def cases(depth: str) -> list[Case]:
    """The cases of every category at ``depth`` (``default`` or ``deep``); the same seeds at
    both depths, so the default cases are the first of the deep ones."""
    result = []
    for offset, (name, generate) in enumerate(CATEGORIES.items()):
        result += take(generate(random.Random(SEED + offset)), DEPTHS[depth][name])
    return unique(result)

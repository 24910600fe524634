"""The ONNX runtimes an export is verified on, behind one small interface, torch-free.

onnxruntime for Python is rnnzoo's own; ``onnx.reference`` comes with onnx; tract and OpenVINO
are optional Python packages; onnxruntime-node and onnxruntime-web (its wasm backend, run in
node) are npm packages found through ``RNNZOO_NODE_MODULES`` (a ``node_modules`` folder) or the
repository's own ``node_modules``. A runtime that is not installed says why, in one line.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from rnnzoo import closeness

Feeds = dict[str, np.ndarray]
JS_RUNNER = Path(__file__).resolve().parent / "js" / "run_onnx.cjs"
# OpenVINO on CPUs with bf16 or AMX otherwise infers in bf16 and quantizes activations
OPENVINO_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}
THREADS = 2  # for timing: every runtime on the same number of threads


class Engine:
    """One runtime: whether it is usable here, its version, and running cases of one file."""

    name = ""

    def unavailable(self) -> str | None:
        """Why this runtime cannot run here, or None when it can."""
        return None

    def version(self) -> str:
        return ""

    def run(self, path: Path, cases: list[Feeds]) -> list[list[np.ndarray]]:
        """The outputs of ``path`` (in the graph's order) for each case's feeds."""
        raise NotImplementedError

    def prepare(self, path: Path, feeds: Feeds):
        """A function that runs ``path`` on ``feeds`` once, loaded and planned beforehand, for
        timing (``benchmarks/runtimes_speed.py``)."""
        raise NotImplementedError

    def seconds(self, path: Path, feeds: Feeds, repeats: int) -> float:
        """The median wall time of one run of ``path`` on ``feeds``, after a warm-up."""
        import statistics
        import time

        call = self.prepare(path, feeds)
        call()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return statistics.median(times)


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


class OnnxRuntime(Engine):
    name = "onnxruntime"

    def version(self) -> str:
        import onnxruntime

        return onnxruntime.__version__

    def run(self, path: Path, cases: list[Feeds]) -> list[list[np.ndarray]]:
        from rnnzoo.runtime.session import open_session

        session = open_session(path)
        return [session.run(None, feeds) for feeds in cases]

    def prepare(self, path: Path, feeds: Feeds):
        from rnnzoo.runtime.session import open_session

        session = open_session(path, threads=THREADS)
        return lambda: session.run(None, feeds)


class Reference(Engine):
    """onnx's own ``ReferenceEvaluator``: slow, but the specification in Python."""

    name = "onnx.reference"

    def unavailable(self) -> str | None:
        return None if _package_version("onnx") else "the onnx package is not installed"

    def version(self) -> str:
        return _package_version("onnx")

    def run(self, path: Path, cases: list[Feeds]) -> list[list[np.ndarray]]:
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(str(path))
        return [list(evaluator.run(None, feeds)) for feeds in cases]

    def prepare(self, path: Path, feeds: Feeds):
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(str(path))
        return lambda: evaluator.run(None, feeds)


TRACT_SECONDS = 300


def _tract_child(path: str, cases: list[Feeds], answers) -> None:
    """``Tract.run_here`` in a child process; ``(True, outputs)`` or ``(False, the error)``."""
    try:
        answers.put((True, Tract().run_here(Path(path), cases)))
    except Exception as error:  # each runtime fails in its own words
        answers.put((False, " ".join(str(error).split()) or type(error).__name__))


class Tract(Engine):
    name = "tract"

    def unavailable(self) -> str | None:
        return None if _package_version("tract") else "not installed (pip install tract)"

    def version(self) -> str:
        return _package_version("tract")

    def run(self, path: Path, cases: list[Feeds]) -> list[list[np.ndarray]]:
        """In a child process given ``TRACT_SECONDS``: tract's planner (``into_model``) has
        run for over ten minutes on some graphs (an LRU trained on reber), and a call into
        its library cannot be interrupted from Python."""
        import multiprocessing
        import queue

        context = multiprocessing.get_context("spawn")
        answers = context.Queue()
        child = context.Process(target=_tract_child, args=(str(path), cases, answers))
        child.start()
        try:
            ok, value = answers.get(timeout=TRACT_SECONDS)
        except queue.Empty:
            raise TimeoutError(f"tract did not plan the graph within {TRACT_SECONDS} s") from None
        finally:
            if child.is_alive():
                child.kill()
            child.join()
        if not ok:
            raise RuntimeError(value)
        return value

    def run_here(self, path: Path, cases: list[Feeds]) -> list[list[np.ndarray]]:
        return [[v.to_numpy() for v in self.prepare(path, feeds)()] for feeds in cases]

    def prepare(self, path: Path, feeds: Feeds):
        """tract plans for concrete shapes: one plan per input shape."""
        import tract

        model = tract.onnx().load(str(path))
        names = [model.input_name(i) for i in range(model.input_count())]
        for i, name in enumerate(names):
            value = feeds[name]
            kind = {"float32": "f32", "int64": "i64"}[str(value.dtype)]
            model.set_input_fact(i, ",".join([*map(str, value.shape), kind]))
        runnable = model.into_model().into_runnable()
        inputs = [feeds[n] for n in names]
        return lambda: runnable.run(inputs)


class OpenVINO(Engine):
    name = "openvino"

    def unavailable(self) -> str | None:
        return None if _package_version("openvino") else "not installed (pip install openvino)"

    def version(self) -> str:
        return _package_version("openvino")

    def run(self, path: Path, cases: list[Feeds]) -> list[list[np.ndarray]]:
        import openvino

        compiled = openvino.Core().compile_model(str(path), "CPU", OPENVINO_CONFIG)
        results = []
        for feeds in cases:
            out = compiled(feeds)
            results.append([np.asarray(out[o]) for o in compiled.outputs])
        return results

    def prepare(self, path: Path, feeds: Feeds):
        import openvino

        config = {**OPENVINO_CONFIG, "INFERENCE_NUM_THREADS": THREADS}
        compiled = openvino.Core().compile_model(str(path), "CPU", config)
        return lambda: compiled(feeds)


def node_modules() -> Path | None:
    """Where onnxruntime-node and onnxruntime-web are installed, if anywhere."""
    candidates = [os.environ.get("RNNZOO_NODE_MODULES", "")]
    candidates.append(str(Path(__file__).resolve().parents[2] / "node_modules"))
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


def _encode(value: np.ndarray) -> dict:
    value = np.ascontiguousarray(value)
    return {
        "dtype": str(value.dtype),
        "dims": list(value.shape),
        "data": base64.b64encode(value.tobytes()).decode(),
    }


class NodeEngine(Engine):
    """onnxruntime-node, or onnxruntime-web's wasm backend, through a small node script."""

    def __init__(self, package: str, backend: str):
        self.name, self.package, self.backend = package, package, backend

    def unavailable(self) -> str | None:
        if shutil.which("node") is None:
            return "node is not installed (Debian: apt-get install nodejs)"
        folder = node_modules()
        if folder is None or not (folder / self.package).is_dir():
            return f"not installed (npm install --ignore-scripts {self.package})"
        return None

    def version(self) -> str:
        folder = node_modules()
        try:
            return json.loads((folder / self.package / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError, TypeError):
            return ""

    def seconds(self, path: Path, feeds: Feeds, repeats: int) -> float:
        """Timed inside node (the median of ``repeats`` runs after a warm-up), so the process
        start and the JSON transfer are not counted."""
        answer = self._job(path, [feeds], repeats)
        return answer["median_ms"] / 1e3

    def run(self, path: Path, cases: list[Feeds]) -> list[list[np.ndarray]]:
        answer = self._job(path, cases)
        return [
            [
                np.frombuffer(base64.b64decode(o["data"]), np.float32).reshape(o["dims"])
                for o in outputs
            ]
            for outputs in answer["results"]
        ]

    def _job(self, path: Path, cases: list[Feeds], repeats: int = 0) -> dict:
        job = {
            "backend": self.backend,
            "model": str(path),
            "cases": [{name: _encode(v) for name, v in feeds.items()} for feeds in cases],
            "repeats": repeats,
            "threads": THREADS,
        }
        env = {**os.environ, "NODE_PATH": str(node_modules())}
        result = subprocess.run(
            ["node", str(JS_RUNNER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
            raise RuntimeError(f"node failed: {lines[-1]}") from None
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer


ENGINES: tuple[Engine, ...] = (
    OnnxRuntime(),
    Reference(),
    Tract(),
    OpenVINO(),
    NodeEngine("onnxruntime-node", "node"),
    NodeEngine("onnxruntime-web", "web"),
)


def engines(names: list[str] | None = None) -> list[Engine]:
    """The known runtimes, or those named (unknown names are refused with the known ones)."""
    if not names:
        return list(ENGINES)
    known = {e.name: e for e in ENGINES}
    unknown = [n for n in names if n not in known]
    if unknown:
        from rnnzoo.errors import UserError

        raise UserError(f"unknown runtime {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]


def compare(
    folder: Path,
    feeds: dict[str, list[Feeds]],
    tolerance: float = closeness.BASE_TOLERANCE,
    names: list[str] | None = None,
) -> dict:
    """Each file of ``folder`` on each runtime against onnxruntime for Python, on the same
    inputs. Returns ``{runtime: {"version", "files": {file: "ok" or the reason},
    "max_diff"}}``, or ``{"version": "", "skipped": reason, "files": {}}`` for a runtime that
    is not installed here."""
    reference = {file: OnnxRuntime().run(folder / file, cases) for file, cases in feeds.items()}
    report = {}
    for engine in engines(names):
        if engine.name == OnnxRuntime.name:
            continue
        reason = engine.unavailable()
        if reason:
            report[engine.name] = {"version": "", "skipped": reason, "files": {}}
            continue
        results, worst = {}, 0.0
        for file, cases in feeds.items():
            try:
                got = engine.run(folder / file, cases)
                value = closeness.worst(
                    (e, g) for want, have in zip(reference[file], got) for e, g in zip(want, have)
                )
                worst = max(worst, value)
                results[file] = "ok" if value <= tolerance else f"differs by {value:.1e}"
            except Exception as error:  # each runtime fails in its own words
                text = " ".join(str(error).split()) or type(error).__name__
                results[file] = "fails: " + text[:200]
        report[engine.name] = {"version": engine.version(), "files": results, "max_diff": worst}
    return report

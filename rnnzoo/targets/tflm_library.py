"""TensorFlow Lite Micro for a Cortex-M core, compiled out of tree into a cached static archive.

The TFLM sources are not part of rnnzoo: the folder that ``RNNZOO_TFLM_DIR`` names is a
tflite-micro checkout (with its third-party headers where TFLM's own Makefile puts them,
``tensorflow/lite/micro/tools/make/downloads/``). It is only ever read: objects and archives go
under a cache folder of the caller's choosing.

What gets compiled:

- the runtime (:data:`RUNTIME_SOURCES`: interpreter, allocator, memory planner, flatbuffer
  parsing, the shared kernel helpers), at ``-Os``;
- the kernels of the operators a model uses (:func:`kernel_sources`), at ``-O2``: the file that
  defines each operator's ``Register_<OP>()`` plus the helper files its kernel headers need (the
  ``*_common.cc`` beside them, and ``lstm_eval.cc`` style helpers), found by reading the sources, so
  the table follows whatever TFLM version the folder holds;
- with ``cmsis_nn=True``, TFLM's CMSIS-NN kernels in place of the reference ones where they exist
  (ADD, FULLY_CONNECTED, MUL, CONV_2D, ...) and the CMSIS-NN library itself (its ``Source/``).

Each object is compiled once per (TFLM folder, compiler, flags) and shared between archives;
an archive built for an operator set is reused by any later call that asks for the same operators
or fewer (the linker only pulls the kernels a firmware references, ``--gc-sections`` the rest).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from rnnzoo.errors import UserError
from rnnzoo.targets import chip

ENV_VAR = "RNNZOO_TFLM_DIR"
DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
KERNELS_DIR = "tensorflow/lite/micro/kernels"
CMSIS_NN_KERNELS_DIR = "tensorflow/lite/micro/kernels/cmsis_nn"
RESOLVER_HEADER = "tensorflow/lite/micro/micro_mutable_op_resolver.h"

#: Cortex-M4F with its single-precision FPU, hard-float ABI (the MPS2 AN386 board QEMU emulates).
CORTEX_M4F_FLAGS: tuple[str, ...] = (
    "-mcpu=cortex-m4",
    "-mthumb",
    "-mfloat-abi=hard",
    "-mfpu=fpv4-sp-d16",
)

#: The TFLM runtime, without the kernels: what every firmware links (paths in the TFLM folder).
RUNTIME_SOURCES: tuple[str, ...] = (
    "tensorflow/compiler/mlir/lite/core/api/error_reporter.cc",
    "tensorflow/compiler/mlir/lite/schema/schema_utils.cc",
    "tensorflow/lite/core/api/flatbuffer_conversions.cc",
    "tensorflow/lite/core/c/common.cc",
    "tensorflow/lite/kernels/internal/common.cc",
    "tensorflow/lite/kernels/internal/portable_tensor_utils.cc",
    "tensorflow/lite/kernels/internal/quantization_util.cc",
    "tensorflow/lite/kernels/internal/reference/portable_tensor_utils.cc",
    "tensorflow/lite/kernels/internal/runtime_shape.cc",
    "tensorflow/lite/kernels/internal/tensor_ctypes.cc",
    "tensorflow/lite/kernels/kernel_util.cc",
    "tensorflow/lite/micro/arena_allocator/non_persistent_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/arena_allocator/persistent_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/arena_allocator/single_arena_buffer_allocator.cc",
    "tensorflow/lite/micro/debug_log.cc",
    "tensorflow/lite/micro/flatbuffer_utils.cc",
    "tensorflow/lite/micro/kernels/kernel_util.cc",
    "tensorflow/lite/micro/memory_helpers.cc",
    "tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc",
    "tensorflow/lite/micro/memory_planner/linear_memory_planner.cc",
    "tensorflow/lite/micro/micro_allocation_info.cc",
    "tensorflow/lite/micro/micro_allocator.cc",
    "tensorflow/lite/micro/micro_context.cc",
    "tensorflow/lite/micro/micro_interpreter.cc",
    "tensorflow/lite/micro/micro_interpreter_context.cc",
    "tensorflow/lite/micro/micro_interpreter_graph.cc",
    "tensorflow/lite/micro/micro_log.cc",
    "tensorflow/lite/micro/micro_op_resolver.cc",
    "tensorflow/lite/micro/micro_resource_variable.cc",
    "tensorflow/lite/micro/micro_utils.cc",
    "tensorflow/lite/micro/tflite_bridge/flatbuffer_conversions_bridge.cc",
    "tensorflow/lite/micro/tflite_bridge/micro_error_reporter.cc",
)

#: Headers (besides the runtime sources) a build needs, relative to the TFLM folder.
REQUIRED_HEADERS: tuple[str, ...] = (
    RESOLVER_HEADER,
    "tensorflow/lite/micro/micro_interpreter.h",
    "tensorflow/lite/micro/kernels/micro_ops.h",
    "tensorflow/lite/schema/schema_generated.h",
    f"{DOWNLOADS}/flatbuffers/include/flatbuffers/flatbuffers.h",
    f"{DOWNLOADS}/gemmlowp/fixedpoint/fixedpoint.h",
    f"{DOWNLOADS}/ruy/ruy/profiler/instrumentation.h",
)

#: What the CMSIS-NN path needs on top.
CMSIS_NN_REQUIRED: tuple[str, ...] = (
    f"{DOWNLOADS}/cmsis_nn/Include/arm_nnfunctions.h",
    f"{DOWNLOADS}/cmsis_nn/Source",
    CMSIS_NN_KERNELS_DIR,
)

#: Operators an exported step model may use: building them all into one archive lets every model
#: reuse it (see :func:`build_library`'s ``ops``).
STEP_OPS: tuple[str, ...] = (
    "ABS",
    "ADD",
    "BATCH_MATMUL",
    "CAST",
    "CONCATENATION",
    "CONV_2D",
    "DEQUANTIZE",
    "DIV",
    "EXP",
    "EXPAND_DIMS",
    "FULLY_CONNECTED",
    "GATHER",
    "LOG",
    "LOGISTIC",
    "MAXIMUM",
    "MEAN",
    "MINIMUM",
    "MUL",
    "NEG",
    "PACK",
    "PAD",
    "QUANTIZE",
    "RELU",
    "RESHAPE",
    "RSQRT",
    "SELECT_V2",
    "SLICE",
    "SOFTMAX",
    "SPLIT",
    "SPLIT_V",
    "SQRT",
    "SQUARE",
    "SQUARED_DIFFERENCE",
    "SQUEEZE",
    "STRIDED_SLICE",
    "SUB",
    "SUM",
    "TANH",
    "TRANSPOSE",
    "UNPACK",
)

#: Defines the library is compiled with; whatever includes TFLM headers (the adapter) must use the
#: same ones: TF_LITE_STATIC_MEMORY changes the layout of TfLiteTensor.
BASE_DEFINES: tuple[str, ...] = (
    "TF_LITE_STATIC_MEMORY",
    "TF_LITE_DISABLE_X86_NEON",
    "TF_LITE_USE_GLOBAL_CMATH_FUNCTIONS",
    "TF_LITE_USE_GLOBAL_MAX",
    "TF_LITE_USE_GLOBAL_MIN",
)

#: C++ language flags for TFLM (and for the adapter): no RTTI, exceptions or unwind tables.
CXX_FLAGS: tuple[str, ...] = (
    *chip.CXX_FLAGS,  # the scaffold's C++ flags, so the adapter and the library agree
    "-ffunction-sections",
    "-fdata-sections",
    "-fmessage-length=0",
)
C_FLAGS: tuple[str, ...] = ("-std=c11", "-ffunction-sections", "-fdata-sections")
RUNTIME_OPT = "-Os"
KERNEL_OPT = "-O2"

_LAYOUT_VERSION = 2  # bump when the cache layout or what goes into an archive changes


@dataclasses.dataclass(frozen=True)
class Library:
    """A compiled TFLM: the archive to link and what to compile the code that uses it with."""

    archive: Path
    tflm_dir: Path
    include_dirs: tuple[Path, ...]
    defines: tuple[str, ...]
    cxx_flags: tuple[str, ...]
    ops: tuple[str, ...]
    cmsis_nn: bool
    sources: tuple[Path, ...]
    key: str
    compile_seconds: float = 0.0  # 0.0 when it came from the cache
    cached: bool = False

    def preprocessor_args(self, system: bool = True) -> list[str]:
        """The -D and include flags (valid for C and C++); ``system``: TFLM's headers as
        ``-isystem``, so ``-Wall -Wextra`` on the adapter warns about its own code only."""
        inc = "-isystem" if system else "-I"
        return [*(f"-D{d}" for d in self.defines), *(f"{inc}{p}" for p in self.include_dirs)]

    def compile_args(self) -> list[str]:
        """The -D, -I and language flags for a C++ file that includes TFLM headers."""
        return [
            *self.cxx_flags,
            *(f"-D{d}" for d in self.defines),
            *(f"-I{p}" for p in self.include_dirs),
        ]


# ----------------------------------------------------------------------------------------------
# The source tree


def check_tflm_dir(path: str | Path, *, cmsis_nn: bool = False) -> Path:
    """``path`` resolved, if it is a TFLM source tree with everything a build needs.

    Raises :class:`UserError` (one line) naming what is missing.
    """
    where = f"{ENV_VAR}={path}"
    if not str(path).strip():
        raise UserError(f"{ENV_VAR} is empty: set it to a tflite-micro source checkout")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UserError(f"{where}: no such folder (set {ENV_VAR} to a tflite-micro checkout)")
    root = root.resolve()
    needed = [*RUNTIME_SOURCES, *REQUIRED_HEADERS, KERNELS_DIR]
    if cmsis_nn:
        needed += CMSIS_NN_REQUIRED
    missing = [rel for rel in needed if not (root / rel).exists()]
    if missing:
        hint = (
            f" (TFLM's third-party headers belong in {DOWNLOADS}/)"
            if missing[0].startswith(DOWNLOADS)
            else " (is it a tflite-micro checkout?)"
        )
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise UserError(
            f"{where} is not a usable TensorFlow Lite Micro tree: missing {missing[0]}{more}{hint}"
        )
    return root


def tflm_dir_from_env(*, cmsis_nn: bool = False) -> Path:
    """The checked TFLM folder that ``RNNZOO_TFLM_DIR`` names, or a UserError saying to set it."""
    value = os.environ.get(ENV_VAR)
    if value is None:
        raise UserError(
            f"{ENV_VAR} is not set: point it at a tflite-micro source checkout "
            "(with its downloads in tensorflow/lite/micro/tools/make/downloads)"
        )
    return check_tflm_dir(value, cmsis_nn=cmsis_nn)


def include_dirs(tflm_dir: Path, cmsis_nn: bool = False) -> tuple[Path, ...]:
    """The include folders TFLM code needs (the tree itself and its downloads)."""
    dl = tflm_dir / DOWNLOADS
    dirs = [tflm_dir, dl / "flatbuffers" / "include", dl / "gemmlowp", dl / "ruy"]
    if cmsis_nn:
        dirs += [dl / "cmsis_nn", dl / "cmsis_nn" / "Include"]
    return tuple(dirs)


def defines(cmsis_nn: bool = False, strip_errors: bool = True) -> tuple[str, ...]:
    """The preprocessor defines of a build (without the ``-D``)."""
    out = list(BASE_DEFINES)
    if strip_errors:
        out.append("TF_LITE_STRIP_ERROR_STRINGS")
    if cmsis_nn:
        out.append("CMSIS_NN")
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Operators -> kernel files


@dataclasses.dataclass(frozen=True)
class _OpInfo:
    op: str  # TFLite builtin name, e.g. FULLY_CONNECTED
    add_method: str  # MicroMutableOpResolver method, e.g. AddFullyConnected
    register: str  # the function that makes its registration, e.g. Register_FULLY_CONNECTED


_METHOD_RE = re.compile(r"TfLiteStatus\s+(Add\w+)\s*\((.*?)\n  \}", re.S)
_BUILTIN_RE = re.compile(r"AddBuiltin\(\s*BuiltinOperator_(\w+)")
_REGISTER_RE = re.compile(r"\b(Register_\w+)\s*\(\s*\)")
_DEFINES_RE = re.compile(r"^TFLMRegistration\s*\*?\s*(Register_\w+)\s*\(\s*\)\s*\{", re.M)
_KERNEL_INCLUDE_RE = re.compile(r'^#include\s+"(tensorflow/lite/micro/kernels/[\w/]+)\.h"', re.M)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


_OP_TABLES: dict[tuple[str, int], dict[str, _OpInfo]] = {}


def _op_table(tflm_dir: Path) -> dict[str, _OpInfo]:
    """Builtin operator name -> resolver method and registration function, read from TFLM."""
    header = tflm_dir / RESOLVER_HEADER
    memo = (str(header), header.stat().st_mtime_ns)
    if memo in _OP_TABLES:
        return _OP_TABLES[memo]
    table: dict[str, _OpInfo] = {}
    for match in _METHOD_RE.finditer(_read(header)):
        method, body = match.group(1), match.group(2)
        builtin = _BUILTIN_RE.search(body)
        registers = _REGISTER_RE.findall(match.group(0))
        if builtin and registers and method != "AddBuiltin":
            op = builtin.group(1)
            table.setdefault(op, _OpInfo(op, method, registers[0]))
    if not table:
        raise UserError(f"{header}: no operators found (an unexpected TFLM version?)")
    _OP_TABLES[memo] = table
    return table


def _registrations(folder: Path) -> dict[str, Path]:
    """``Register_X`` -> the .cc file in ``folder`` that defines it (tests left out)."""
    found: dict[str, Path] = {}
    for cc in sorted(folder.glob("*.cc")):
        if cc.name.endswith("_test.cc") or "test" in cc.stem.split("_"):
            continue
        for name in _DEFINES_RE.findall(_read(cc)):
            found.setdefault(name, cc)
    return found


def _helpers_of(cc: Path, kernels: Path, registering: set[Path]) -> list[Path]:
    """Helper sources the kernel headers that ``cc`` includes are implemented in.

    For each ``tensorflow/lite/micro/kernels/<x>.h`` it includes: ``<x>_common.cc`` when it
    exists, and ``<x>.cc`` when it exists and registers no operator (a helper such as
    ``lstm_eval.cc`` or ``micro_tensor_utils.cc``).
    """
    out: list[Path] = []
    for inc in _KERNEL_INCLUDE_RE.findall(_read(cc)):
        stem = inc.rsplit("/", 1)[-1]
        if "/" in inc[len("tensorflow/lite/micro/kernels/") :]:
            continue  # another backend's folder (cmsis_nn/, xtensa/ ...)
        for candidate in (kernels / f"{stem}_common.cc", kernels / f"{stem}.cc"):
            if candidate.name == "kernel_util.cc":
                continue  # in the runtime
            if candidate.exists() and candidate not in registering and candidate != cc:
                out.append(candidate)
    return out


def normalise_ops(ops: Iterable[str]) -> tuple[str, ...]:
    """Operator names upper-cased, without duplicates, sorted."""
    return tuple(sorted({str(op).strip().upper() for op in ops if str(op).strip()}))


def kernel_sources(tflm_dir: str | Path, ops: Iterable[str], cmsis_nn: bool = False) -> list[Path]:
    """The kernel sources that the TFLite builtin operators ``ops`` need, nothing more.

    Each operator maps (through TFLM's own ``MicroMutableOpResolver``) to the function that makes
    its registration, and that to the file defining it: ``cmsis_nn/<op>.cc`` first when
    ``cmsis_nn``; then the helper files its kernel headers are implemented in, transitively.
    An operator TFLM has no kernel for raises a one-line :class:`UserError` naming it.
    """
    root = Path(tflm_dir)
    table = _op_table(root)
    kernels = root / KERNELS_DIR
    reference = _registrations(kernels)
    optimised = _registrations(root / CMSIS_NN_KERNELS_DIR) if cmsis_nn else {}
    registering = set(reference.values())
    wanted = normalise_ops(ops)
    unknown = [op for op in wanted if op not in table]
    if unknown:
        raise UserError(
            f"TensorFlow Lite Micro has no kernel for operator{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)} (its MicroMutableOpResolver does not list "
            f"{'them' if len(unknown) > 1 else 'it'})"
        )
    chosen: list[Path] = []
    for op in wanted:
        register = table[op].register
        cc = optimised.get(register) or reference.get(register)
        if cc is None:
            raise UserError(
                f"TensorFlow Lite Micro has no kernel for operator {op} "
                f"({register}() is defined in no file of {KERNELS_DIR})"
            )
        chosen.append(cc)
    out: list[Path] = []
    todo = list(chosen)
    while todo:
        cc = todo.pop(0)
        if cc in out:
            continue
        out.append(cc)
        todo.extend(_helpers_of(cc, kernels, registering))
    return sorted(out)


def cmsis_nn_sources(tflm_dir: str | Path) -> list[Path]:
    """The CMSIS-NN library's integer C sources (the linker keeps what the kernels call).

    Its float API (``*_f16.c``, ``*_f32.c``) is left out: it compiles only with
    ``ARM_NN_FLOAT_API_ENABLED`` (and f16 only for cores with half-precision arithmetic), and TFLM's
    CMSIS-NN kernels never call it (float tensors go to the reference code).
    """
    found = (Path(tflm_dir) / DOWNLOADS / "cmsis_nn" / "Source").rglob("*.c")
    return sorted(p for p in found if not re.search(r"_f(16|32)$", p.stem))


def runtime_sources(tflm_dir: str | Path) -> list[Path]:
    """The TFLM runtime's sources in ``tflm_dir``."""
    return [Path(tflm_dir) / rel for rel in RUNTIME_SOURCES]


# ----------------------------------------------------------------------------------------------
# Building


def _manifest_digest(root: Path) -> str:
    """A hash of every file's path, size and mtime under ``root`` (a few ms for TFLM)."""
    h = hashlib.sha256()
    entries: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.stat(p)
            except OSError:
                continue
            entries.append(f"{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}")
    for e in sorted(entries):
        h.update(e.encode())
        h.update(b"\n")
    return h.hexdigest()


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _tool(prefix: str, name: str) -> str:
    exe = shutil.which(prefix + name)
    if exe is None:
        raise UserError(
            f"{prefix}{name} not found: install the Arm GNU toolchain "
            "(Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)"
        )
    return exe


def _compiler_id(cxx: str) -> str:
    out = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=False)
    return f"{cxx}\0{out.stdout.splitlines()[0] if out.stdout else ''}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[0].strip() if lines else "no output"


def _compile_all(jobs: list[tuple[Path, Path, list[str]]], workers: int, log_dir: Path) -> None:
    """Run compile commands ``(source, object, argv)`` in parallel; objects appear atomically."""

    def one(job: tuple[Path, Path, list[str]]) -> tuple[Path, int, str]:
        src, obj, argv = job
        obj.parent.mkdir(parents=True, exist_ok=True)
        tmp = obj.with_name(f".{obj.name}.{os.getpid()}.tmp")
        proc = subprocess.run(
            [*argv, "-c", str(src), "-o", str(tmp)], capture_output=True, text=True, check=False
        )
        if proc.returncode == 0:
            os.replace(tmp, obj)
        else:
            tmp.unlink(missing_ok=True)
        return src, proc.returncode, proc.stdout + proc.stderr

    failures: list[tuple[Path, str]] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for src, rc, text in pool.map(one, jobs):
            if rc != 0:
                failures.append((src, text))
    if failures:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / "compile-errors.log"
        log.write_text("".join(f"== {s}\n{t}\n" for s, t in failures))
        src, text = failures[0]
        raise UserError(
            f"compiling TFLM failed in {len(failures)} file(s), first {src.name}: "
            f"{_first_error(text)} (full output: {log})"
        )


def build_library(
    tflm_dir: str | Path,
    ops: Iterable[str] | None,
    core_flags: Sequence[str],
    cache_dir: str | Path,
    cmsis_nn: bool = False,
    strip_errors: bool = True,
    *,
    toolchain_prefix: str = "arm-none-eabi-",
    jobs: int | None = None,
) -> Library:
    """Compile (or reuse) TFLM with the kernels of ``ops`` for the core ``core_flags`` describes.

    ``ops``: TFLite builtin operator names (a card's ``operators``); ``None`` builds
    :data:`STEP_OPS`, one archive that every step model can link. ``core_flags``: the CPU flags,
    e.g. :data:`CORTEX_M4F_FLAGS` (anything else that must match at link time, such as
    ``--specs=nano.specs``, belongs there too). The runtime is compiled at ``-Os``, kernels and
    CMSIS-NN at ``-O2``, in parallel on every core, into ``cache_dir/<key>/libtflm.a`` where the key
    hashes the TFLM folder's path, a manifest of its files' sizes and mtimes, the compiler, the
    flags and the source list. A later call with the same or fewer operators (and the same
    everything else) reuses an existing archive; objects are shared between archives, so a new
    operator set only compiles its new kernels.
    """
    t0 = time.monotonic()
    root = check_tflm_dir(tflm_dir, cmsis_nn=cmsis_nn)
    wanted = normalise_ops(STEP_OPS if ops is None else ops)
    kernels = kernel_sources(root, wanted, cmsis_nn=cmsis_nn)
    runtime = runtime_sources(root)
    extra_c = cmsis_nn_sources(root) if cmsis_nn else []
    cxx = _tool(toolchain_prefix, "g++")
    cc = _tool(toolchain_prefix, "gcc")
    ar = _tool(toolchain_prefix, "ar")
    cache = Path(cache_dir).expanduser().resolve()
    defs = defines(cmsis_nn=cmsis_nn, strip_errors=strip_errors)
    incs = include_dirs(root, cmsis_nn=cmsis_nn)
    flags = [*core_flags]
    base = {
        "layout": _LAYOUT_VERSION,
        "tflm": str(root),
        "manifest": _manifest_digest(root),
        "compiler": _compiler_id(cxx) + "\0" + _compiler_id(cc),
        "core_flags": flags,
        "cxx_flags": list(CXX_FLAGS),
        "c_flags": list(C_FLAGS),
        "opt": [RUNTIME_OPT, KERNEL_OPT],
        "defines": list(defs),
        "includes": [str(p) for p in incs],
        "runtime": list(RUNTIME_SOURCES),
        "cmsis_nn": [str(p.relative_to(root)) for p in extra_c],
    }
    base_key = _hash(base)
    rels = [str(p.relative_to(root)) for p in kernels]
    key = _hash({"base": base_key, "kernels": rels})[:20]

    def library(folder: Path, meta: dict[str, object], cached: bool) -> Library:
        return Library(
            archive=folder / "libtflm.a",
            tflm_dir=root,
            include_dirs=incs,
            defines=defs,
            cxx_flags=CXX_FLAGS,
            ops=tuple(meta["ops"]),  # type: ignore[arg-type]
            cmsis_nn=cmsis_nn,
            sources=tuple(root / s for s in meta["sources"]),  # type: ignore[union-attr]
            key=folder.name,
            compile_seconds=0.0 if cached else round(time.monotonic() - t0, 2),
            cached=cached,
        )

    with _locked(cache / ".lock"):
        found = _find_cached(cache, base_key, key, wanted)
        if found is not None:
            return library(found[0], found[1], cached=True)

        objdir = cache / f"obj-{base_key[:16]}"
        common = [*flags]
        inc_args = [f"-I{p}" for p in incs]
        def_args = [f"-D{d}" for d in defs]
        plan: list[tuple[Path, Path, list[str]]] = []
        for src, opt, lang in (
            *((s, RUNTIME_OPT, "c++") for s in runtime),
            *((s, KERNEL_OPT, "c++") for s in kernels),
            *((s, KERNEL_OPT, "c99") for s in extra_c),
        ):
            rel = src.relative_to(root)
            # a flat, unique name: an archive member is named by its basename, and TFLM has
            # several common.cc, kernel_util.cc and portable_tensor_utils.cc
            obj = objdir / f"{str(rel).replace('/', '__')}{opt}.o"
            if lang == "c++":
                argv = [cxx, *common, *CXX_FLAGS, opt, *def_args, *inc_args]
            else:
                argv = [cc, *common, *C_FLAGS, opt, *def_args, *inc_args]
            plan.append((src, obj, argv))
        todo = [job for job in plan if not job[1].exists()]
        _compile_all(todo, jobs or os.cpu_count() or 2, cache / key)

        folder = cache / key
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache))
        objs = [str(job[1]) for job in plan]
        archive_tmp = tmpdir / "libtflm.a"
        proc = subprocess.run(
            [ar, "rcs", str(archive_tmp), *objs], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise UserError(f"{ar} failed: {_first_error(proc.stdout + proc.stderr)}")
        meta = {
            "base": base_key,
            "ops": list(wanted),
            "sources": [str(p.relative_to(root)) for p in (*runtime, *kernels, *extra_c)],
            "kernels": rels,
            "compiled_files": len(todo),
            "seconds": round(time.monotonic() - t0, 2),
            "tflm": str(root),
            "core_flags": flags,
            "defines": list(defs),
        }
        (tmpdir / "library.json").write_text(json.dumps(meta, indent=1) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmpdir, folder)
        return library(folder, meta, cached=False)


def _find_cached(
    cache: Path, base_key: str, key: str, wanted: tuple[str, ...]
) -> tuple[Path, dict[str, object]] | None:
    """An archive already built with the same base whose operators include ``wanted``."""
    exact = cache / key
    candidates = [exact] + sorted(p for p in cache.glob("*/library.json") if p.parent != exact)
    best: tuple[Path, dict[str, object]] | None = None
    for entry in candidates:
        folder = entry if entry.is_dir() else entry.parent
        try:
            meta = json.loads((folder / "library.json").read_text())
        except (OSError, ValueError):
            continue
        if meta.get("base") != base_key or not (folder / "libtflm.a").exists():
            continue
        if set(wanted) <= set(meta.get("ops", [])):
            if folder == exact:
                return folder, meta
            if best is None or len(meta["ops"]) < len(best[1]["ops"]):  # type: ignore[arg-type]
                best = (folder, meta)
    return best


# ----------------------------------------------------------------------------------------------
# The model as a header


def model_data_header(tflite: bytes, name: str = "g_model") -> str:
    """A ``.tflite`` file as an aligned C array (the text of ``model_data.h``)."""
    rows = []
    for i in range(0, len(tflite), 12):
        rows.append("  " + ", ".join(f"0x{b:02x}" for b in tflite[i : i + 12]) + ",")
    return (
        "// A TensorFlow Lite model as a C array; written by rnnzoo.\n"
        "#pragma once\n\n"
        f"alignas(16) const unsigned char {name}[] = {{\n" + "\n".join(rows) + "\n};\n"
        f"const unsigned int {name}_len = {len(tflite)};\n"
    )

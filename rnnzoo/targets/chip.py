"""A model adapter as bare-metal firmware for an emulated Cortex-M, run under QEMU.

The firmware is the scaffold in ``firmware/`` (``startup.c``, ``harness.c``, the MPS2 linker
scripts) plus an adapter implementing ``firmware/rz_model.h``: generated C, or TFLM's
``tflm_adapter.cc`` with its library. :func:`build` compiles and links it with the Arm GNU
toolchain and newlib-nano (semihosting: librdimon), :func:`sizes` reads its flash and RAM, and
:func:`run` streams test rows through it under ``qemu-system-arm``: the harness reads ``in.bin`` and
writes ``out.bin`` in QEMU's working directory (a temporary folder), with the stack the streaming
used and the interpreter arena. With ``count=True`` a TCG plugin (``firmware/insn_count.c``,
compiled with the host's gcc) counts the executed instructions, the streaming alone among them.

Every failure is one :class:`~rnnzoo.errors.UserError` line: a missing tool (with the Debian
package that brings it), a compile or link error (a model too large for the board among them), a
fault on the chip (with its name and where it happened), a firmware that does not finish.
Nothing is written inside the package: builds go to the caller's folder.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnzoo.errors import UserError

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"
MAGIC = 0x4B4F5A52
QEMU = "qemu-system-arm"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Core:
    """A Cortex-M core: the QEMU board that has it, how to compile for it, its memory."""

    name: str
    cpu: str
    board: str
    flags: tuple[str, ...]
    linker_script: str
    defsyms: tuple[tuple[str, int], ...] = ()
    flash_bytes: int = 4 * MiB
    ram_bytes: int = 4 * MiB
    io_bytes: int = 16 * MiB


#: Core name → board and flags. Memory as QEMU 7.2 builds the boards: 4 MB of code SSRAM (the
#: "flash"), 4 MB of data SSRAM (the RAM) and 16 MB of PSRAM that holds only the test I/O.
CORES: dict[str, Core] = {
    "m4": Core(
        "m4",
        "Cortex-M4F",
        "mps2-an386",
        ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
        "mps2.ld",
        (("__rz_io_origin", 0x21000000),),
    ),
    "m7": Core(
        "m7",
        "Cortex-M7 (double-precision FPU)",
        "mps2-an500",
        ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
        "mps2.ld",
        (("__rz_io_origin", 0x60000000),),
    ),
    "m33": Core(
        "m33",
        "Cortex-M33 (Secure state)",
        "mps2-an505",
        ("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
        "mps2-an505.ld",
    ),
}

#: Language flags: the scaffold and generated code are C99; C++ as TFLM is built.
C_FLAGS: tuple[str, ...] = ("-std=c99",)
CXX_FLAGS: tuple[str, ...] = (
    "-std=c++17",
    "-fno-rtti",
    "-fno-exceptions",
    "-fno-threadsafe-statics",
    "-fno-unwind-tables",
    "-fno-asynchronous-unwind-tables",
)
COMMON_FLAGS: tuple[str, ...] = ("-g", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections")
LINK_FLAGS: tuple[str, ...] = (
    "--specs=nano.specs",
    "--specs=rdimon.specs",
    "-nostartfiles",
    "-Wl,--gc-sections",
)
SCAFFOLD_SOURCES: tuple[str, ...] = ("startup.c", "harness.c")
CXX_SUFFIXES = (".cc", ".cpp", ".cxx", ".C")

# (program, Debian package that installs it)
_TOOLS: tuple[tuple[str, str], ...] = (
    ("arm-none-eabi-gcc", "gcc-arm-none-eabi"),
    ("arm-none-eabi-size", "binutils-arm-none-eabi"),
    (QEMU, "qemu-system-arm"),
)


@dataclass(frozen=True)
class Build:
    """A linked firmware: the ELF, the core it is for, the compiler's warnings (one line each)."""

    elf: Path
    core: str
    warnings: list[str] = field(default_factory=list)
    map_file: Path | None = None


@dataclass(frozen=True)
class Result:
    """One run: per row the outputs, shape (steps, out_floats); what the streaming used.

    ``stack_bytes`` is the stack the streaming used below the harness's SP (64 bytes is the
    resolution), ``arena_bytes`` what ``rz_arena_used()`` reported. With ``count=True``,
    ``instructions`` counts the whole run and ``stream_instructions`` the streaming alone (every
    ``rz_reset`` and ``rz_step`` and the harness's loop around them: no setup, no I/O).
    """

    outputs: list[np.ndarray]
    stack_bytes: int
    arena_bytes: int
    instructions: int | None = None
    stream_instructions: int | None = None
    seconds: float = 0.0


# ---- tools ------------------------------------------------------------------------------------


TEST_STEPS = 20_000  # at most this many test steps are streamed in one run on a core


def test_steps(in_floats: int, out_floats: int, core: str = "m4") -> int:
    """How many test steps one run streams: ``TEST_STEPS``, or fewer where a step's input and
    output floats would overflow the board's test I/O memory (a video frame per step)."""
    fit = CORES[core].io_bytes * 3 // 4 // (4 * (in_floats + out_floats))
    return max(1, min(TEST_STEPS, fit))


def core_info(core: str) -> Core:
    """The :class:`Core` named ``core`` (a UserError naming the choices otherwise)."""
    if core not in CORES:
        raise UserError(f"unknown core {core!r}: choose one of {', '.join(CORES)}")
    return CORES[core]


@functools.cache
def _has_library(compiler: str, name: str, flags: tuple[str, ...]) -> bool:
    """Whether ``compiler`` finds the library file ``name`` for the multilib of ``flags``."""
    proc = subprocess.run(
        [compiler, *flags, f"-print-file-name={name}"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and os.path.isabs(proc.stdout.strip())


def toolchain_missing(cxx: bool = False, count: bool = False) -> str | None:
    """Why chip builds and runs cannot happen here (a missing program and its Debian package).

    ``cxx`` also asks for the C++ compiler and library, ``count`` for the host C compiler that
    builds the instruction-count plugin. None when everything is there.
    """
    tools = list(_TOOLS)
    if cxx:
        tools.append(("arm-none-eabi-g++", "gcc-arm-none-eabi"))
    if count:
        tools.append(("gcc", "gcc"))
    for program, package in tools:
        if shutil.which(program) is None:
            return f"{program} is not installed (Debian package {package})"
    flags = CORES["m4"].flags
    if not _has_library("arm-none-eabi-gcc", "librdimon_nano.a", flags):
        return "newlib for arm-none-eabi is not installed (Debian package libnewlib-arm-none-eabi)"
    if cxx and not _has_library("arm-none-eabi-g++", "libstdc++_nano.a", flags):
        return (
            "the C++ library for arm-none-eabi is not installed "
            "(Debian package libstdc++-arm-none-eabi-newlib)"
        )
    return None


def _require_toolchain(cxx: bool = False, count: bool = False) -> None:
    reason = toolchain_missing(cxx=cxx, count=count)
    if reason is not None:
        raise UserError(f"cannot build or run firmware: {reason}")


# ---- build ------------------------------------------------------------------------------------


def _is_cxx(path: Path) -> bool:
    return path.suffix in CXX_SUFFIXES


def _diagnostics(text: str, kind: str) -> list[str]:
    """The lines of compiler output that carry a ``kind`` ("warning" or "error")."""
    return [line.strip() for line in text.splitlines() if f"{kind}:" in line]


def _build_error(text: str, core: Core, what: str) -> UserError:
    """One line for a failed compile or link: a full memory region first, then the first error."""
    board = core.board
    if "rz: no room in RAM" in text and "overflowed by" not in text:
        return UserError(
            f"the model does not fit {board}'s {core.ram_bytes // MiB} MB of RAM: no room is left "
            "for the harness's heap and a stack"
        )
    full = re.search(r"region `(\w+)' overflowed by (\d+) bytes", text)
    if full:
        region, over = full.group(1), full.group(2)
        by = f" ({int(over):,} bytes over)"
        if region == "FLASH":
            return UserError(
                f"the model does not fit {board}'s {core.flash_bytes // MiB} MB of flash{by}"
            )
        if region == "RAM":
            return UserError(
                f"the model does not fit {board}'s {core.ram_bytes // MiB} MB of RAM{by}"
            )
        if region == "IORAM":
            return UserError(
                f"the test I/O buffers do not fit {board}'s {core.io_bytes // MiB} MB of I/O "
                f"memory{by}: build for fewer steps (max_steps_total)"
            )
    undefined = re.search(r"undefined reference to `([^']+)'", text)
    if undefined:
        return UserError(f"{what} failed: undefined reference to {undefined.group(1)}")
    errors = _diagnostics(text, "error")
    line = errors[0] if errors else (text.strip().splitlines() or ["no message"])[-1]
    return UserError(f"{what} failed: {line}")


def _compile(compiler: str, source: Path, obj: Path, args: Sequence[str], core: Core) -> list[str]:
    """Compiles one source; returns its warnings."""
    proc = subprocess.run(
        [compiler, *args, "-c", str(source), "-o", str(obj)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise _build_error(proc.stderr, core, f"compiling {source.name} for {core.name}")
    return _diagnostics(proc.stderr, "warning")


def build(
    sources: Sequence[Path | str],
    out_dir: Path | str,
    core: str,
    *,
    in_floats: int,
    out_floats: int,
    max_steps_total: int,
    max_rows: int = 1024,
    include_dirs: Sequence[Path | str] = (),
    defines: Mapping[str, object] | None = None,
    libraries: Sequence[Path | str] = (),
    opt: str = "-Os",
    cxx: bool | None = None,
    extra_flags: Sequence[str] = (),
    heap_bytes: int | None = None,
    harness: bool = True,
) -> Build:
    """Compiles the adapter ``sources`` with the scaffold into ``out_dir/firmware.elf``.

    ``in_floats``/``out_floats``/``max_steps_total``/``max_rows`` become the harness's
    ``RZ_IN_FLOATS``/``RZ_OUT_FLOATS``/``RZ_MAX_STEPS_TOTAL``/``RZ_MAX_ROWS`` (the I/O buffers
    hold that many steps and rows); ``defines`` are more ``-D`` (a value of None: ``-DNAME``).
    ``.cc``/``.cpp`` sources go through arm-none-eabi-g++ (and then so does the link; ``cxx=True``
    forces it, for a C++ library), ``libraries`` (archives) are linked after the objects.
    ``extra_flags`` come last on every compile (the library's flags, ``-Werror``).
    ``heap_bytes`` sets newlib's heap below the stack (64 KiB by default). ``harness=False``
    leaves the harness out: the sources bring their own ``main`` (run it with
    :func:`run_program`). Warnings are returned,
    errors raised as one UserError line.
    """
    info = core_info(core)
    sources = [Path(s).resolve() for s in sources]
    use_cxx = bool(cxx) or any(_is_cxx(s) for s in sources)
    _require_toolchain(cxx=use_cxx)
    for source in sources:
        if not source.is_file():
            raise UserError(f"no source file {source}")
    out_dir = Path(out_dir).resolve()
    obj_dir = out_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)

    all_defines: dict[str, object] = {
        "RZ_IN_FLOATS": int(in_floats),
        "RZ_OUT_FLOATS": int(out_floats),
        "RZ_MAX_STEPS_TOTAL": int(max_steps_total),
        "RZ_MAX_ROWS": int(max_rows),
    }
    all_defines.update(defines or {})
    common = [
        *info.flags,
        opt,
        *COMMON_FLAGS,
        f"-I{FIRMWARE_DIR}",
        *(f"-I{Path(d).resolve()}" for d in include_dirs),
        *(f"-D{k}" if v is None else f"-D{k}={v}" for k, v in all_defines.items()),
    ]
    jobs = []
    scaffold = SCAFFOLD_SOURCES if harness else SCAFFOLD_SOURCES[:1]
    for i, source in enumerate([*(FIRMWARE_DIR / s for s in scaffold), *sources]):
        is_cxx = _is_cxx(source)
        compiler = "arm-none-eabi-g++" if is_cxx else "arm-none-eabi-gcc"
        language = CXX_FLAGS if is_cxx else C_FLAGS
        obj = obj_dir / f"{i:02d}-{source.stem}.o"
        jobs.append((compiler, source, obj, [*language, *common, *extra_flags]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        warnings = [w for ws in pool.map(lambda job: _compile(*job, info), jobs) for w in ws]
    elf = out_dir / "firmware.elf"
    map_file = out_dir / "firmware.map"
    warnings += _link(
        [job[2] for job in jobs],
        [Path(x).resolve() for x in libraries],
        elf,
        map_file,
        info,
        use_cxx,
        heap_bytes,
    )
    return Build(elf=elf, core=core, warnings=warnings, map_file=map_file)


def _link(
    objects: Sequence[Path],
    libraries: Sequence[Path],
    elf: Path,
    map_file: Path,
    core: Core,
    cxx: bool,
    heap_bytes: int | None,
) -> list[str]:
    """Links the firmware; returns the linker's warnings."""
    defsyms = list(core.defsyms)
    if heap_bytes is not None:
        defsyms.append(("__rz_heap_size", int(heap_bytes)))
    cmd = [
        "arm-none-eabi-g++" if cxx else "arm-none-eabi-gcc",
        *core.flags,
        *LINK_FLAGS,
        f"-L{FIRMWARE_DIR}",
        f"-T{core.linker_script}",
        *(f"-Wl,--defsym={name}={value:#x}" for name, value in defsyms),
        f"-Wl,-Map={map_file}",
        *(str(o) for o in objects),
        *(str(lib) for lib in libraries),
        "-lm",
        "-o",
        str(elf),
    ]
    elf.unlink(missing_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise _build_error(proc.stderr, core, f"linking the firmware for {core.name}")
    return _diagnostics(proc.stderr, "warning")


# ---- sizes ------------------------------------------------------------------------------------

_SECTION = re.compile(
    r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)\s"
)


def _sections(elf: Path) -> list[tuple[str, str, int, str]]:
    """(name, type, size, flags) of every section of ``elf`` (readelf -S)."""
    proc = subprocess.run(
        ["arm-none-eabi-readelf", "-S", "-W", str(elf)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise UserError(f"cannot read {elf}: {proc.stderr.strip() or 'not an ELF file'}")
    rows = []
    for line in proc.stdout.splitlines():
        m = _SECTION.match(line)
        if m:
            name, kind, _addr, size, flags = m.groups()
            rows.append((name, kind, int(size, 16), flags))
    return rows


def sizes(elf: Path | str) -> dict[str, int]:
    """Bytes of the firmware: ``text`` (code and constants), ``data``, ``bss``, ``rz_io``.

    ``flash`` = text + data (what the board stores); ``ram`` = data + bss, without the test I/O
    buffers (``.rz_io``, in PSRAM), the heap and the stack (measured by :func:`run`). Both count
    the harness and newlib too: subtract :func:`scaffold_sizes` for the model's share.
    """
    out = {"text": 0, "data": 0, "bss": 0, "rz_io": 0}
    for name, kind, size, flags in _sections(Path(elf)):
        if "A" not in flags:
            continue
        if name == ".rz_io":
            out["rz_io"] += size
        elif kind == "NOBITS":
            out["bss"] += size
        elif "W" in flags:
            out["data"] += size
        else:
            out["text"] += size
    out["flash"] = out["text"] + out["data"]
    out["ram"] = out["data"] + out["bss"]
    return out


_NULL_ADAPTER = """\
/* An adapter that does nothing: the scaffold's own size. */
#include "rz_model.h"
int rz_init(void) { return 0; }
void rz_reset(void) {}
int rz_step(const float *in, float *out) { out[0] = in[0]; return 0; }
unsigned rz_arena_used(void) { return 0u; }
"""


def scaffold_sizes(core: str, build_dir: Path | str) -> dict[str, int]:
    """:func:`sizes` of the harness with a do-nothing adapter (built under ``build_dir``)."""
    folder = Path(build_dir) / f"scaffold-{core}"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "null_adapter.c"
    source.write_text(_NULL_ADAPTER)
    built = build([source], folder, core, in_floats=1, out_floats=1, max_steps_total=1, max_rows=1)
    return sizes(built.elf)


# ---- run --------------------------------------------------------------------------------------


def _input_bytes(rows: Sequence[np.ndarray], in_floats: int, out_floats: int) -> bytes:
    """in.bin: the header, then per row its step count and its float32 inputs."""
    parts = [struct.pack("<3I", len(rows), in_floats, out_floats)]
    for i, row in enumerate(rows):
        row = np.asarray(row, dtype="<f4")
        if row.ndim != 2 or row.shape[1] != in_floats:
            raise UserError(
                f"test row {i} has shape {tuple(row.shape)}, the chip wants (steps, {in_floats})"
            )
        parts.append(struct.pack("<I", row.shape[0]))
        parts.append(np.ascontiguousarray(row).tobytes())
    return b"".join(parts)


def _symbol(elf: Path, name: str) -> int:
    """The address of symbol ``name`` in ``elf`` (Thumb bit cleared)."""
    proc = subprocess.run(
        ["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=False
    )
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    raise UserError(f"{elf.name} has no symbol {name}: was it built by rnnzoo.targets.chip?")


_plugins: dict[Path, Path] = {}


def plugin(cache_dir: Path | str) -> Path:
    """The instruction-count plugin, compiled once into ``cache_dir`` (keyed by its source)."""
    source = FIRMWARE_DIR / "insn_count.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    path = Path(cache_dir).resolve() / f"insn_count-{digest}.so"
    if path in _plugins or path.is_file():
        _plugins[path] = path
        return path
    if shutil.which("gcc") is None:
        raise UserError("counting instructions needs a host C compiler (Debian package gcc)")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    proc = subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(partial), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise UserError(f"compiling the instruction-count plugin failed: {proc.stderr.strip()}")
    os.replace(partial, path)
    _plugins[path] = path
    return path


def _where(elf: Path, address: int) -> str:
    """``function (file:line)`` at ``address`` of ``elf``, or the address alone."""
    proc = subprocess.run(
        ["arm-none-eabi-addr2line", "-f", "-C", "-s", "-e", str(elf), f"{address:#x}"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.split()
    if proc.returncode != 0 or not lines or lines[0] == "??":
        return f"{address:#010x}"
    place = f" ({lines[1]})" if len(lines) > 1 and not lines[1].startswith("??") else ""
    return f"{lines[0]}{place}"


_STACK_FLAGS = {"STKOF", "MSTKERR", "STKERR"}


def _stack_overflowed(elf: Path, names: list[str], fields: dict[str, str]) -> int | None:
    """The stack's size when the fault is an overflow (a limit, a guard or stacking error)."""
    bottom, top = _symbol(elf, "__rz_stack_bottom"), _symbol(elf, "__rz_stack_top")
    guard = _symbol(elf, "__rz_stack_guard")
    address = int(fields["address"], 16) if "address" in fields else None
    in_guard = address is not None and guard <= address < bottom
    if _STACK_FLAGS & set(names) or "sp" in fields or in_guard:
        return top - bottom
    return None


def _fault_message(line: str, elf: Path, board: str) -> str:
    """'rz-fault: UsageFault INVSTATE pc=0x0 lr=0x6bf' as a sentence naming the code."""
    words = line.split()[1:]
    fields = dict(w.split("=", 1) for w in words if "=" in w)
    names = [w for w in words if "=" not in w]
    fault = names[0] if names else "fault"
    detail = f" ({', '.join(names[1:])})" if len(names) > 1 else ""
    stack = _stack_overflowed(elf, names, fields)
    if stack is not None:
        return (
            f"the stack overflowed on {board}: the firmware needs more than its {stack:,} bytes "
            f"of stack ({fault}{detail})"
        )
    text = f"the firmware faulted on {board}: {fault}{detail}"
    if "pc" in fields:
        pc = int(fields["pc"], 16)
        text += f" at pc {pc:#010x} in {_where(elf, pc)}" if pc else " at pc 0 (a NULL call)"
    if "lr" in fields:
        lr = int(fields["lr"], 16)
        if lr & 1 and lr < 0xF0000000:
            text += f", called from {_where(elf, (lr & ~1) - 2)}"
    if "address" in fields:
        text += f", accessing {fields['address']}"
    return text


def _failure(proc: subprocess.CompletedProcess[str], elf: Path, board: str) -> UserError:
    """One line for a run that ended with a nonzero status."""
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    for line in lines:
        if line.startswith("rz-fault:"):
            return UserError(_fault_message(line, elf, board))
    for line in lines:
        if line.startswith("rz-error:"):
            return UserError(f"the firmware failed on {board}: {line[len('rz-error:') :].strip()}")
    for line in lines:
        if "Lockup" in line:  # a fault while handling a fault: QEMU aborts
            return UserError(
                f"the firmware locked up on {board} (a fault inside the fault handler; "
                "the stack may have overflowed)"
            )
    noise = ("has no peer",)
    lines = [ln for ln in lines if not any(n in ln for n in noise)]
    last = lines[-1] if lines else "no message"
    return UserError(f"QEMU stopped with status {proc.returncode} on {board}: {last}")


def _read_output(
    path: Path, rows: Sequence[np.ndarray], out_floats: int, board: str
) -> tuple[list[np.ndarray], int, int]:
    """Outputs per row, stack bytes and arena bytes from out.bin."""
    if not path.is_file():
        raise UserError(f"the firmware wrote no out.bin on {board}")
    data = path.read_bytes()
    steps = [int(np.asarray(r).shape[0]) for r in rows]
    expected = 4 * (sum(steps) * out_floats + 3)
    if len(data) != expected:
        raise UserError(f"out.bin from {board} has {len(data)} bytes, {expected} were expected")
    stack, arena, magic = struct.unpack("<3I", data[-12:])
    if magic != MAGIC:
        raise UserError(f"out.bin from {board} ends with {magic:#010x}, not the harness's magic")
    flat = np.frombuffer(data[:-12], dtype="<f4").astype(np.float32)
    outputs, at = [], 0
    for n in steps:
        outputs.append(flat[at : at + n * out_floats].reshape(n, out_floats))
        at += n * out_floats
    return outputs, stack, arena


def _counts(log: Path) -> tuple[int | None, int | None]:
    """(insns, window) from the plugin's lines in QEMU's log."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    total = re.search(r"^insns: (\d+)$", text, re.M)
    window = re.search(r"^window: (\d+)$", text, re.M)
    return (int(total.group(1)) if total else None, int(window.group(1)) if window else None)


def qemu_command(
    elf: Path, core: str, plugin_args: str | None = None, log: Path | None = None
) -> list[str]:
    """The qemu-system-arm command line that runs ``elf`` on ``core``'s board."""
    cmd = [
        QEMU,
        "-M",
        core_info(core).board,
        "-nodefaults",
        "-display",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
        str(elf),
    ]
    if plugin_args is not None and log is not None:
        cmd += ["-plugin", plugin_args, "-d", "plugin", "-D", str(log)]
    return cmd


def run(
    elf: Path | str,
    core: str,
    rows: Sequence[np.ndarray],
    in_floats: int,
    out_floats: int,
    timeout: float = 60,
    count: bool = False,
    plugin_dir: Path | str | None = None,
) -> Result:
    """Streams ``rows`` (each (steps, in_floats)) through the firmware on ``core``'s board.

    Every row starts from ``rz_reset``. ``count`` counts instructions with the plugin (compiled
    into ``plugin_dir``, by default the ELF's folder). A fault, a failure the harness reports, a
    run longer than ``timeout`` seconds or a bad out.bin is one UserError line.
    """
    elf = Path(elf).resolve()
    info = core_info(core)
    _require_toolchain(count=count)
    if not elf.is_file():
        raise UserError(f"no firmware {elf}: build it first")
    payload = _input_bytes(rows, in_floats, out_floats)
    plugin_args = None
    if count:
        so = plugin(plugin_dir if plugin_dir is not None else elf.parent)
        begin, end = _symbol(elf, "rz_window_begin"), _symbol(elf, "rz_window_end")
        plugin_args = f"{so},begin={begin:#x},end={end:#x}"
    with tempfile.TemporaryDirectory(prefix="rz-chip-") as tmp:
        folder = Path(tmp)
        (folder / "in.bin").write_bytes(payload)
        log = folder / "plugin.log"
        started = time.perf_counter()
        _qemu(qemu_command(elf, core, plugin_args, log), folder, timeout, elf, info.board)
        seconds = time.perf_counter() - started
        outputs, stack, arena = _read_output(folder / "out.bin", rows, out_floats, info.board)
        total, window = _counts(log) if count else (None, None)
    if count and window is None:
        raise UserError(f"the instruction counter reported nothing on {info.board}")
    return Result(outputs, stack, arena, total, window, seconds)


def run_program(elf: Path | str, core: str, timeout: float = 60) -> str:
    """A firmware built with ``harness=False`` run on ``core``'s board: what it printed. A
    fault, a nonzero exit or a run longer than ``timeout`` seconds is one UserError line."""
    elf = Path(elf).resolve()
    info = core_info(core)
    _require_toolchain()
    with tempfile.TemporaryDirectory(prefix="rz-chip-") as tmp:
        return _qemu(qemu_command(elf, core), Path(tmp), timeout, elf, info.board).stdout


def _qemu(
    command: list[str], folder: Path, timeout: float, elf: Path, board: str
) -> subprocess.CompletedProcess[str]:
    """QEMU run in ``folder``; a hang past ``timeout`` seconds or a failure is one line."""
    try:
        proc = subprocess.run(command, cwd=folder, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise UserError(f"the firmware did not finish within {timeout:g} s on {board}") from None
    if proc.returncode != 0:
        raise _failure(proc, elf, board)
    return proc


def instructions_per_step(
    elf: Path | str,
    core: str,
    rows: Sequence[np.ndarray],
    in_floats: int,
    out_floats: int,
    timeout: float = 60,
    plugin_dir: Path | str | None = None,
) -> float:
    """Instructions the streaming of ``rows`` executed, per step (no setup, no I/O).

    One counted run: the plugin counts from ``rz_window_begin`` to ``rz_window_end``, so the
    figure holds every ``rz_step``, the ``rz_reset`` of each row and the harness's loop (a few
    instructions a step).
    """
    total_steps = sum(int(np.asarray(r).shape[0]) for r in rows)
    if total_steps == 0:
        raise UserError("instructions per step needs at least one step")
    result = run(elf, core, rows, in_floats, out_floats, timeout, count=True, plugin_dir=plugin_dir)
    assert result.stream_instructions is not None
    return result.stream_instructions / total_steps

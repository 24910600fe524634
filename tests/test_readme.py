"""README.md's code blocks run as written (a doc test): every top-level ``bash``, ``python``
and ``console`` block, in order, from the repository root in a shell where ``.venv`` is
activated — as the README tells a reader to run them — and they leave nothing behind that git
does not ignore. A block may be left out only with a reason in an HTML comment on the line
before it (``<!-- not run by tests/test_readme.py: REASON -->``). Behind the ``readme`` marker
(it trains several small models, about two minutes); ``.ci/run`` runs it."""

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the venv the blocks run in: .venv, or (RNNZOO_README_VENV) one with optional extras, where only
# the blocks that need them run — .ci/run's edge and tracking stages
EXTRAS_VENV = os.environ.get("RNNZOO_README_VENV")
VENV = ROOT / (EXTRAS_VENV or ".venv")
SKIP = re.compile(r"<!-- not run by tests/test_readme.py: (.+?) -->")
# a block that needs an optional extra: run where its modules are installed in .venv
NEEDS = re.compile(r"<!-- run by tests/test_readme.py where installed: (.+?) -->")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
SETUP = "bash scripts/setup.sh && "

pytestmark = pytest.mark.readme


def blocks() -> list[tuple[int, str, str, str | None]]:
    """(line, language, code, reason it is not run) of each top-level fenced block."""
    text = (ROOT / "README.md").read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skipped = SKIP.fullmatch(before.strip())
        needs = NEEDS.fullmatch(before.strip())
        reason = skipped and skipped.group(1)
        if needs:
            missing = [m.strip() for m in needs.group(1).split(",") if not installed(m.strip())]
            reason = missing and f"needs {', '.join(missing)}, not installed in {VENV.name}"
        elif EXTRAS_VENV and not reason:
            reason = f"needs no optional extra: run in .venv, not {EXTRAS_VENV}"
        line = text[: match.start()].count("\n") + 1
        found.append((line, match.group(1), match.group(2), reason or None))
    return found


def installed(module: str) -> bool:
    """Whether ``module`` can be imported in the venv the blocks run in."""
    python = VENV / "bin/python"
    check = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return python.is_file() and subprocess.run([str(python), "-c", check]).returncode == 0


def test_every_block_is_run_or_says_why_not():
    for line, language, _, reason in blocks():
        assert language in ("bash", "python", "console") or reason, (
            f"README.md:{line}: a ```{language} block that the doc test cannot run"
        )


def shell(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\nsource {VENV}/bin/activate\n" + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def git_status() -> set[str]:
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return set(result.stdout.splitlines()) if result.returncode == 0 else set()


def test_the_readme_runs_as_written():
    if not (VENV / "bin/activate").is_file():
        pytest.skip(
            f"no {VENV.name} here: the README's blocks run in the venv that scripts/setup.sh "
            "(or .ci/run, for the extras) makes"
        )
    before = git_status()
    ran = 0
    for number, (line, language, code, reason) in enumerate(blocks()):
        if reason:
            if reason.startswith("needs ") and not EXTRAS_VENV:  # an extra: say so
                warnings.warn(f"README.md:{line} not run: {reason}", stacklevel=1)
            continue
        where = f"README.md:{line}"
        if number == 0:  # the two set-up commands: run the main job; CI runs the test command
            main_job = code.split("\n")[1]
            assert main_job.startswith(SETUP), main_job
            result = shell(main_job.removeprefix(SETUP))
            assert result.returncode == 0, f"{where}\n{result.stdout}\n{result.stderr}"
            assert "Test mse" in result.stdout and "lower than" in result.stdout, result.stdout
            assert "the value it expects at the next step" in result.stdout, result.stdout
        elif language == "bash":
            result = shell(code)
            assert result.returncode == 0, f"{where}\n{result.stdout}\n{result.stderr}"
        elif language == "python":
            result = subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, f"{where}\n{result.stdout}\n{result.stderr}"
        else:  # console: "$ command" lines, each followed by exactly what it prints
            for command, expected in re.findall(r"^\$ (.+)\n((?:(?!\$ ).*\n)*)", code, re.M):
                result = shell(command)
                assert (result.stdout + result.stderr).strip() == expected.strip(), where
        ran += 1
    assert ran >= (1 if EXTRAS_VENV else 8)
    new = git_status() - before
    assert not new, f"the README's examples left files git does not ignore: {sorted(new)}"

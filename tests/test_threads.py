"""The CPU threads a run uses: the free cores unless told (``--threads``, ``OMP_NUM_THREADS``),
said in the header. The speed it buys on a busy machine is measured by
``benchmarks/busy_machine.py``, not here."""

import pytest

from rnnzoo.trainer import threads

SMALL = ["--task", "sine", "--cell", "gru", "--hidden", "8", "--epochs", "1"]
SMALL += ["--param", "n_train=64", "--param", "n_test=16", "--overwrite"]


@pytest.mark.parametrize(
    ("cores", "load", "local", "expected"),
    [(2, 0.0, 1, 2), (2, 0.4, 1, 2), (2, 1.2, 1, 1), (2, 4.5, 1, 1), (16, 3.0, 1, 13),
     (16, 0.0, 4, 4), (1, 0.0, 1, 1)],
)  # fmt: skip
def test_auto_takes_the_cores_others_leave_free(monkeypatch, cores, load, local, expected):
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local))
    assert threads.auto_threads() == expected


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [(["--threads", "2"], {}, "(2 threads, --threads)"),
     ([], {"OMP_NUM_THREADS": "1"}, "(1 thread, OMP_NUM_THREADS)"),
     ([], {}, "auto: free cores)")],
)  # fmt: skip
def test_the_header_says_how_many_threads_and_why(tmp_path, cli, monkeypatch, args, env, said):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = cli("train", *SMALL, *args, "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert said in result.stdout.splitlines()[0], result.stdout

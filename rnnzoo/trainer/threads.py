"""How many threads a CPU run's operators use.

PyTorch starts one intra-op thread per core and lets them spin while they wait for each other.
On a machine whose cores are busy with other work the spinning threads are descheduled in the
middle of every operator, and a small recurrent model's thousands of small operators per step
each wait for the slowest: measured for issue 29, the README's main job took 299 s with the
default threads beside two busy processes on 2 cores and 26 s with one thread
(``benchmarks/busy_machine.py`` measures it side by side). So, unless told (``--threads N``, or
``OMP_NUM_THREADS`` set by the user), a run takes the cores this process may use
(``os.sched_getaffinity``) less the load other processes already put on them (the one-minute
load average: this process has not run yet), at least one; under ``torchrun`` the cores are
shared among the processes of one machine.
"""

from __future__ import annotations

import os

import torch

from rnnzoo.errors import UserError


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_threads() -> int:
    """The cores that are free for this process: its share of the cores it may run on (with
    the other processes ``torchrun`` started on this machine), less what other processes keep
    busy (rounded to the nearest core), at least one."""
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    cores = usable_cores() / max(1, local_processes)
    try:
        busy = os.getloadavg()[0] / max(1, local_processes)
    except OSError:
        busy = 0.0
    return max(1, min(int(cores), round(cores - busy)))


def set_threads(requested: int | None) -> tuple[int, str]:
    """Set torch's intra-op threads: ``requested`` (``--threads``), else what
    ``OMP_NUM_THREADS`` says, else ``auto_threads``. Returns the count and why."""
    if requested is not None:
        if requested < 1:
            raise UserError(f"--threads {requested}: give 1 or more (or leave it out: auto)")
        torch.set_num_threads(requested)
        return requested, "--threads"
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads(), "OMP_NUM_THREADS"
    threads = auto_threads()
    torch.set_num_threads(threads)
    return threads, "auto: free cores"

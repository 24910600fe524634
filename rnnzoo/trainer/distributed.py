"""Where training runs: the device, and this process's place under ``torchrun`` (distributed
data parallel; world size 1 when run alone)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from rnnzoo.errors import UserError


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when PyTorch sees a GPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(
            f"--device {name}: PyTorch sees no CUDA GPU here (torch "
            f"{torch.__version__}); use --device cpu or --device auto"
        )
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"--device must be auto, cpu, cuda or cuda:N, not {name!r}")
    return torch.device(name)


@dataclass
class Distributed:
    """This process's place under torchrun (world size 1 when run alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))

    def start(self, device: torch.device) -> torch.device:
        """Join the process group; returns this process's device (its own GPU under CUDA)."""
        if self.world_size == 1:
            return device
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return device

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The module to train: ``model`` itself, or its DDP wrapper under torchrun."""
        if self.world_size == 1:
            return model
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    def stop(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

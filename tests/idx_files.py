"""Small IDX files (the MNIST format) written by tests."""

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, gzipped: bool = True) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    if gzipped:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def write_mnist_like(
    folder: Path, n_train: int = 600, n_test: int = 200, gzipped: bool = True
) -> None:
    """A learnable MNIST-shaped set: the label is the row where a bright bar lies."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        images[np.arange(n), 2 + 2 * labels] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gzipped)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gzipped)

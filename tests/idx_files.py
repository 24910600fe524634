"""Small IDX files (the MNIST format) written by tests: the task's own writers."""

from rnnzoo.tasks.seqmnist import write_bars as write_mnist_like
from rnnzoo.tasks.seqmnist import write_idx

__all__ = ["write_idx", "write_mnist_like"]

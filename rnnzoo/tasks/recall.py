"""Multi-query associative recall, MQAR (Arora et al., "Zoology: Measuring and Improving
Recall in Efficient Language Models", 2023): ``pairs`` key–value pairs, one token per step
(key, value, key, value, ...), then ``queries`` of those keys; at each query step the model
must output the value bound to that key — seq2seq, fixed length.

What it measures: associative memory. A model must store every binding of the sequence in
its state (which key goes with which value, not just which tokens it saw) and look one up
by content, once per query. Attention does it by looking back; a recurrent model must fit
the bindings in a fixed-size state, which is where gated linear RNNs and the delta rule
(DeltaNet) differ from a classic LSTM or GRU. Zoology found such recall gaps to explain
most of the quality gap between efficient models and attention. ``accuracy`` is per query
(chance: 1 / ``n_values``), ``exact_match`` the share of sequences with every query right.

Keys and values are different tokens: keys are drawn without replacement from ``n_keys``
key tokens, values with replacement from ``n_values`` value tokens, and each query is a
different key of the sequence, in random order. (Zoology scatters its queries among the
rest of the sequence; here they follow the pairs, so the answer steps are fixed.) Inputs are
one-hot over the key tokens then the value tokens; targets are the value's index at the
query steps and ``IGNORE`` (-100) elsewhere.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnzoo.tasks.base import Split, require, split_generators
from rnnzoo.tasks.selective_copy import IGNORE, AnswerStepsTask, one_hot


class Recall(AnswerStepsTask):
    # two bindings, one query: still a look-up by key, learnt in a few steps
    smoke_params = {
        "pairs": 2,
        "queries": 1,
        "n_keys": 3,
        "n_values": 3,
        "n_train": 512,
        "n_test": 64,
    }
    defaults = {"hidden": 128, "epochs": 20, "batch_size": 64, "lr": 3e-3}

    def __init__(
        self,
        pairs: int = 8,
        queries: int = 8,
        n_keys: int = 16,
        n_values: int = 16,
        n_train: int = 10000,
        n_test: int = 1000,
        seed: int = 42,
    ):
        super().__init__()
        self.pairs, self.queries, self.n_keys, self.n_values = pairs, queries, n_keys, n_values
        self.n_train, self.n_test, self.seed = n_train, n_test, seed
        require(pairs >= 1, "pairs must be >= 1")
        require(1 <= queries <= pairs, "queries must be between 1 and pairs (each key once)")
        require(n_keys >= pairs, "n_keys must be at least pairs (a sequence's keys differ)")
        require(n_keys <= 10_000, "n_keys must be at most 10000")
        require(2 <= n_values <= 10_000, "n_values must be between 2 and 10000")
        require(min(n_train, n_test) >= 1, "n_train and n_test must be >= 1")
        self.input_size, self.output_size = n_keys + n_values, n_values
        self.labels = [f"v{i}" for i in range(n_values)]
        steps = 2 * pairs + queries
        self.preprocessing = (
            f"one token per step, one-hot over {n_keys} key tokens then {n_values} value "
            f"tokens; {pairs} key-value pairs then {queries} query keys ({steps} steps); "
            f"output step {2 * pairs} + q answers the value of the q-th query"
        )

    def split(self, rng: np.random.Generator, n: int) -> Split:
        keys = rng.random((n, self.n_keys)).argsort(1)[:, : self.pairs]  # distinct per row
        values = rng.integers(0, self.n_values, (n, self.pairs))
        asked = rng.random((n, self.pairs)).argsort(1)[:, : self.queries]  # pair indices
        rows = np.arange(n)[:, None]
        ids = np.empty((n, 2 * self.pairs + self.queries), dtype=np.int64)
        ids[:, 0 : 2 * self.pairs : 2] = keys
        ids[:, 1 : 2 * self.pairs : 2] = self.n_keys + values
        ids[:, 2 * self.pairs :] = keys[rows, asked]
        y = np.full(ids.shape, IGNORE, dtype=np.int64)
        y[:, 2 * self.pairs :] = values[rows, asked]
        return Split(one_hot(ids, self.input_size), torch.from_numpy(y))

    def load(self) -> dict[str, Split]:
        rngs = split_generators(self.seed)
        return {
            "train": self.split(rngs["train"], self.n_train),
            "validation": self.split(rngs["validation"], self.n_test),
            "test": self.split(rngs["test"], self.n_test),
        }

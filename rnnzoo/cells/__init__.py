"""Built-in cells, registered through the same hook as third-party ones.

Registered lazily (by import path) so listing cells does not import torch.
"""

from rnnzoo.hookspecs import hookimpl


@hookimpl
def register_cells(register):
    register(
        "rnnzoo.cells.rnn:RNN",
        name="rnn",
        description="Basic recurrent neuron (Elman), tanh or relu activation.",
    )
    register(
        "rnnzoo.cells.lstm:LSTM",
        name="lstm",
        description="Long short-term memory with forget-gate bias and optional peepholes.",
    )
    register(
        "rnnzoo.cells.gru:GRU", name="gru", description="Gated recurrent unit (Cho et al. 2014)."
    )

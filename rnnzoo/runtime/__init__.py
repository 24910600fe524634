"""Inference with onnxruntime and numpy only — no torch — for small devices.

    from rnnzoo.runtime import Model

    model = Model("sine")                    # a name on the shelf, an export folder, a .onnx file
    list_models("*mnist*")                   # the shelf's names (rnnzoo zoo)
    y = model.predict(x)                     # x: (batch, time, features) or (time, features)
    model.describe(y)                        # class names, or the values
    stream = model.stream()                  # one sample at a time, state kept between calls
    y_t = stream.step(x_t)
    Model("exports/dates").translate(["April 22, 2019"])

Inputs are checked against the model card (rank, dtype, feature size); a bad one — or a card
that breaks its schema — raises ``RuntimeInputError`` with one line saying what was wrong.
Each model family has a runner here (``sequence``, ``decoding``); ``Model`` picks it.
"""

from rnnzoo.errors import RuntimeInputError
from rnnzoo.runtime.decoding import beam_decode, greedy_decode
from rnnzoo.runtime.inputs import load_input, load_texts
from rnnzoo.runtime.model import Model
from rnnzoo.runtime.session import open_session, run, zero_state
from rnnzoo.runtime.zoo import list_models

__all__ = [
    "Model",
    "RuntimeInputError",
    "beam_decode",
    "greedy_decode",
    "load_input",
    "list_models",
    "load_texts",
    "open_session",
    "run",
    "zero_state",
]

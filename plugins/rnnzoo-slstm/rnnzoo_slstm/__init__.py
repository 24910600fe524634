"""rnnzoo plugin: the slstm cell.

Registered lazily, by import path, so `rnnzoo cells` lists it without importing torch; the
class in ``rnnzoo_slstm.cell`` is imported the first time the cell is built or inspected.
"""

import rnnzoo


@rnnzoo.hookimpl
def register_cells(register):
    register(
        "rnnzoo_slstm.cell:SLSTM",
        name="slstm",
        description="sLSTM (xLSTM, Beck et al. 2024): exponential gates, normaliser, stabiliser.",
    )

"""rnnzoo plugin: the mlstm cell.

Registered lazily, by import path, so `rnnzoo cells` lists it without importing torch; the
class in ``rnnzoo_mlstm.cell`` is imported the first time the cell is built or inspected.
"""

import rnnzoo


@rnnzoo.hookimpl
def register_cells(register):
    register(
        "rnnzoo_mlstm.cell:MLSTM",
        name="mlstm",
        description="mLSTM (xLSTM, Beck et al. 2024): a d x d matrix memory per head.",
    )

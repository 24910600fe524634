"""rnnzoo plugin: the minlstm cell.

Registered lazily, by import path, so `rnnzoo cells` lists it without importing torch; the
class in ``rnnzoo_minlstm.cell`` is imported the first time the cell is built or inspected.
"""

import rnnzoo


@rnnzoo.hookimpl
def register_cells(register):
    register(
        "rnnzoo_minlstm.cell:MinLSTM",
        name="minlstm",
        description="minLSTM (Feng et al. 2024): normalised input-only gates, a scan on GPU.",
    )

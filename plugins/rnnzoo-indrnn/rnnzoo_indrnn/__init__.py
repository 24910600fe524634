"""rnnzoo plugin: the indrnn cell.

Registered lazily, by import path, so `rnnzoo cells` lists it without importing torch; the
class in ``rnnzoo_indrnn.cell`` is imported the first time the cell is built or inspected.
"""

import rnnzoo


@rnnzoo.hookimpl
def register_cells(register):
    register(
        "rnnzoo_indrnn.cell:IndRNN",
        name="indrnn",
        description="IndRNN (Li et al. 2018): one recurrent weight per neuron, clipped.",
    )

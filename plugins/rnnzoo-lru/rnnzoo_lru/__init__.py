"""rnnzoo plugin: the lru cell.

Registered lazily, by import path, so `rnnzoo cells` lists it without importing torch; the
class in ``rnnzoo_lru.cell`` is imported the first time the cell is built or inspected.
"""

import rnnzoo


@rnnzoo.hookimpl
def register_cells(register):
    register(
        "rnnzoo_lru.cell:LRU",
        name="lru",
        description="LRU (Orvieto et al. 2023): stable complex diagonal, real 2x2 blocks.",
    )

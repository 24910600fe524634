"""rnnzoo plugin: the mingru cell.

Registered lazily, by import path, so `rnnzoo cells` lists it without importing torch; the
class in ``rnnzoo_mingru.cell`` is imported the first time the cell is built or inspected.
"""

import rnnzoo


@rnnzoo.hookimpl
def register_cells(register):
    register(
        "rnnzoo_mingru.cell:MinGRU",
        name="mingru",
        description="minGRU (Feng et al. 2024): input-only gates, a parallel scan on GPU.",
    )

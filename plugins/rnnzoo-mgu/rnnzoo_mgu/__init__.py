"""rnnzoo plugin: the Minimal Gated Unit (Zhou et al. 2016).

Registered lazily, by import path, so `rnnzoo cells` lists it without importing torch; the class
in ``rnnzoo_mgu.cell`` is imported the first time the cell is built or inspected.
"""

import rnnzoo


@rnnzoo.hookimpl
def register_cells(register):
    register(
        "rnnzoo_mgu.cell:MGU",
        name="mgu",
        description="Minimal Gated Unit (Zhou et al. 2016): a GRU with a single forget gate.",
    )

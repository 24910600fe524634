"""What the project's own test run adds to every test folder (``tests/`` and each plugin's):
the cases that cover every installed cell beyond the core ones are marked ``allcells`` (the
default run leaves them out; ``.ci/run`` runs them with ``-m allcells``)."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A plugin cell's export check (``rnnzoo.testing``: training, export, every runtime)."""
    for item in items:
        if "/plugins/" in str(item.path) and item.nodeid.endswith("-export]"):
            item.add_marker(pytest.mark.allcells)

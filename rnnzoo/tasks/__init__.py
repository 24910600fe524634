"""Built-in tasks, registered through the same hook as third-party ones (lazily, by path)."""

from rnnzoo.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    pass

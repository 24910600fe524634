"""Built-in edge targets, registered through the same hook as a plugin's
(``rnnzoo.hookspecs.register_targets``): one module each, behind ``rnnzoo.targets.base``."""

from rnnzoo.hookspecs import hookimpl


@hookimpl
def register_targets(register):
    from rnnzoo.targets.c import CTarget
    from rnnzoo.targets.executorch import ExecuTorch
    from rnnzoo.targets.litert import LiteRT
    from rnnzoo.targets.micro import Micro
    from rnnzoo.targets.ort import OrtFormat

    for target in (OrtFormat, LiteRT, Micro, ExecuTorch, CTarget):
        register(target)

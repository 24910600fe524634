"""Built-in model families, registered through the same hook as third-party ones.

Registered by import path so listings and the runtime never import torch.
"""

from rnnzoo.hookspecs import hookimpl


@hookimpl
def register_families(register):
    register(
        "rnnzoo.families.sequence:SequenceFamily",
        name="sequence",
        kinds=("seq2seq", "seq2vec"),
        runtime="rnnzoo.runtime.sequence:SequenceRunner",
        description="encoder → recurrent stack → head, per step or once per sequence.",
    )
    register(
        "rnnzoo.families.token_decoder:TokenDecoderFamily",
        name="token_decoder",
        kinds=("encdec", "vec2seq"),
        runtime="rnnzoo.runtime.decoding:TokenDecoderRunner",
        description="an encoding of the source starts a decoder stack that emits tokens.",
    )

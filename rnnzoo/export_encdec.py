"""Encoder–decoder models to ONNX: ``encoder.onnx`` reads the source tokens into the decoder's
first state, ``decoder.step.onnx`` turns (previous token, state) into (next-token scores, state);
the runtime decodes greedily with the two. Verified against PyTorch like every export."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import Tensor, nn

from rnnzoo import onnx_graph
from rnnzoo.export import (
    Check,
    ExportResult,
    _diff,
    _ExportRunner,
    _replace_cell_loops,
    _save,
    _session,
    _to_onnx,
    card_basics,
    check_results,
    write_staged,
)
from rnnzoo.model import EncoderDecoder
from rnnzoo.runtime import greedy_decode


class _Encoder(nn.Module):
    def __init__(self, model: EncoderDecoder):
        super().__init__()
        self.model = model

    def forward(self, source: Tensor, lengths: Tensor):
        return self.model.encode(source, lengths)


class _DecoderStep(nn.Module):
    def __init__(self, model: EncoderDecoder):
        super().__init__()
        self.model = model

    def forward(self, token: Tensor, *state: Tensor):
        logits, state = self.model.decode_step(token, state)
        return (logits, *state)


def state_names(model: EncoderDecoder) -> list[str]:
    return [f"state_{i}" for i in range(len(model.decoder.state_sizes))]


def encoder_graph(model: EncoderDecoder, example: Tensor, opset: int) -> onnx.ModelProto:
    model = copy.deepcopy(model).eval()
    runner = _ExportRunner()
    model.encoder.sequence_runner = runner
    names = state_names(model)
    lengths = torch.full((example.shape[0],), example.shape[1], dtype=torch.long)
    dynamic = {
        "input": {0: "batch", 1: "time"},
        "lengths": {0: "batch"},
        **{n: {1: "batch"} for n in names},
    }
    graph = _to_onnx(
        _Encoder(model), (example, lengths), ["input", "lengths"], names, dynamic, opset
    )
    _replace_cell_loops(graph, runner, opset)
    onnx_graph.make_optional(graph, "input", {"lengths": onnx_graph.full_lengths})
    return graph


def decoder_graph(model: EncoderDecoder, opset: int) -> onnx.ModelProto:
    model = copy.deepcopy(model).eval()
    model.decoder.sequence_runner = _ExportRunner()  # built-in cells as ONNX operators
    names = state_names(model)
    token = torch.full((2,), model.BOS, dtype=torch.long)
    dynamic = {
        "token": {0: "batch"},
        "scores": {0: "batch"},
        **{n: {1: "batch"} for n in names},
        **{n + "_out": {1: "batch"} for n in names},
    }
    return _to_onnx(
        _DecoderStep(model),
        (token, *model.decoder.initial_state(2)),
        ["token", *names],
        ["scores", *[n + "_out" for n in names]],
        dynamic,
        opset,
    )


def verify(
    model: EncoderDecoder, encoder: onnx.ModelProto, decoder: onnx.ModelProto, test: Any, card: dict
) -> list[Check]:
    """Encoder states on padded batches of sizes 1, 3, 17 (and unpadded), one decoder step from
    random states, and whole greedy decodes against PyTorch's tokens."""
    enc, dec = _session(encoder), _session(decoder)
    names = state_names(model)
    checks = []
    model = model.eval()
    with torch.no_grad():
        for batch in (1, 3, 17):
            x, lengths = test.x[:batch], test.lengths[:batch]
            x = x[:, : int(lengths.max())]
            expected = model.encode(x, lengths)
            got = enc.run(names, {"input": x.numpy(), "lengths": lengths.numpy()})
            diff = max(_diff(e.numpy(), g) for e, g in zip(expected, got))
            checks.append(Check("encoder, padded", batch, x.shape[1], diff))
            full = model.encode(x)
            got = enc.run(names, {"input": x.numpy()})
            diff = max(_diff(e.numpy(), g) for e, g in zip(full, got))
            checks.append(Check("encoder, no lengths", batch, x.shape[1], diff))
        generator = torch.Generator().manual_seed(0)
        token = torch.randint(0, model.head.out_features, (5,), generator=generator)
        state = tuple(
            0.5 * torch.randn(s.shape, generator=generator) for s in model.decoder.initial_state(5)
        )
        logits, new = model.decode_step(token, state)
        got = dec.run(
            None, {"token": token.numpy(), **{n: s.numpy() for n, s in zip(names, state)}}
        )
        diff = max(_diff(e.numpy(), g) for e, g in zip((logits, *new), got))
        checks.append(Check("decoder step", 5, 1, diff))
        n = min(64, len(test.x))
        tokens = model(test.x[:n], test.lengths[:n]).argmax(-1).numpy()
        decoded = greedy_decode(enc, dec, test.x[:n].numpy(), test.lengths[:n].numpy(), card)
        mismatches = float((decoded != tokens).any(1).sum())
        checks.append(
            Check("greedy decode: sequences that differ", n, card["target_length"], mismatches)
        )
    return checks


def export_encoder_decoder(
    task, splits, model: EncoderDecoder, config: dict, summary: dict, out: Path, opset: int
) -> ExportResult:
    test = splits["test"]
    example = test.x[:2, : int(test.lengths[:2].max())]
    encoder, decoder = encoder_graph(model, example, opset), decoder_graph(model, opset)
    card = build_card(task, model, config, summary, opset)
    checks = verify(model, encoder, decoder, test, card)
    check_results(checks)
    card["verification"] = [c.__dict__ for c in checks]

    def write(staging: Path) -> None:
        _save(encoder, staging / "encoder.onnx", card)
        _save(decoder, staging / "decoder.step.onnx", card)
        texts = [
            "".join(task.source_vocab[i] for i in row[:length] if i >= 3)
            for row, length in zip(test.x[:3].tolist(), test.lengths[:3].tolist())
        ]
        (staging / "example.json").write_text(json.dumps(texts) + "\n")

    write_staged(out, card, checks, write)
    return ExportResult(out, card, checks)


def build_card(
    task, model: EncoderDecoder, config: dict, summary: dict, opset: int
) -> dict[str, Any]:
    names = state_names(model)
    layers = model.decoder.num_layers
    return {
        **card_basics(task, config, summary, opset),
        "inputs": [
            {
                "name": "input",
                "shape": ["batch", "time"],
                "dtype": "int64",
                "meaning": "source token ids (source_vocab; 0 pads), encoder.onnx",
            },
            {
                "name": "lengths",
                "shape": ["batch"],
                "dtype": "int64",
                "optional": True,
                "meaning": "valid source tokens of each sequence",
            },
            {
                "name": "token",
                "shape": ["batch"],
                "dtype": "int64",
                "meaning": "the previous target token, decoder.step.onnx (first: bos)",
            },
        ],
        "outputs": [
            *[
                {"name": n, "shape": [layers, "batch", size], "meaning": "decoder state"}
                for n, size in zip(names, model.decoder.state_sizes)
            ],
            {
                "name": "scores",
                "shape": ["batch", len(task.target_vocab)],
                "meaning": "next-token scores (logits) over target_vocab",
            },
        ],
        "state_names": names,
        "source_vocab": task.source_vocab,
        "target_vocab": task.target_vocab,
        "bos": model.BOS,
        "eos": 2,
        "target_length": model.target_length,
        "streaming": False,
    }

"""Models that decode tokens (encoder–decoder and vector → sequence) to ONNX: ``encoder.onnx``
reads the source (token ids, or an image) into the decoder's first state, ``decoder.step.onnx``
turns (previous token, state) into (next-token scores, state); the runtime decodes greedily
with the two. Verified against PyTorch like every export."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import Tensor, nn

from rnnzoo import onnx_graph, text
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
from rnnzoo.model import TokenDecoder
from rnnzoo.runtime import greedy_decode


class _Encoder(nn.Module):
    def __init__(self, model: TokenDecoder):
        super().__init__()
        self.model = model

    def forward(self, *source: Tensor):
        return self.model.encode(*source)


class _DecoderStep(nn.Module):
    def __init__(self, model: TokenDecoder):
        super().__init__()
        self.model = model

    def forward(self, token: Tensor, *state: Tensor):
        logits, state = self.model.decode_step(token, state)
        return (logits, *state)


def state_names(model: TokenDecoder) -> list[str]:
    return [f"state_{i}" for i in range(len(model.decoder.state_sizes))]


def encoder_graph(model: TokenDecoder, example: Tensor, opset: int) -> onnx.ModelProto:
    """Token ids and optional lengths (encdec) or one input per example (vec2seq) → states."""
    model = copy.deepcopy(model).eval()
    names = state_names(model)
    states = {n: {1: "batch"} for n in names}
    if model.kind == "vec2seq":
        return _to_onnx(
            _Encoder(model), (example,), ["input"], names, {"input": {0: "batch"}, **states}, opset
        )
    runner = _ExportRunner()
    model.encoder.sequence_runner = runner
    lengths = torch.full((example.shape[0],), example.shape[1], dtype=torch.long)
    dynamic = {"input": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, **states}
    graph = _to_onnx(
        _Encoder(model), (example, lengths), ["input", "lengths"], names, dynamic, opset
    )
    _replace_cell_loops(graph, runner, opset)
    onnx_graph.make_optional(graph, "input", {"lengths": onnx_graph.full_lengths})
    return graph


def decoder_graph(model: TokenDecoder, opset: int) -> onnx.ModelProto:
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


def encoder_feeds(test: Any, n: int) -> dict[str, np.ndarray]:
    """The first ``n`` test examples as ``encoder.onnx``'s inputs."""
    if test.lengths is None:
        return {"input": test.x[:n].numpy()}
    lengths = test.lengths[:n]
    return {"input": test.x[:n, : int(lengths.max())].numpy(), "lengths": lengths.numpy()}


def verify(
    model: TokenDecoder, encoder: onnx.ModelProto, decoder: onnx.ModelProto, test: Any, card: dict
) -> list[Check]:
    """Encoder states for batches of 1, 3 and 17 (padded and unpadded token sequences), one
    decoder step from random states, and whole greedy decodes against PyTorch's tokens."""
    enc, dec = _session(encoder), _session(decoder)
    names = state_names(model)
    checks = []
    model = model.eval()
    with torch.no_grad():
        for batch in (1, 3, 17):
            feeds = encoder_feeds(test, batch)
            x = torch.from_numpy(feeds["input"])
            variants = [("encoder", feeds, None)]
            if "lengths" in feeds:
                lengths = torch.from_numpy(feeds["lengths"])
                variants = [
                    ("encoder, padded", feeds, lengths),
                    ("encoder, no lengths", {"input": feeds["input"]}, None),
                ]
            for what, inputs, lengths in variants:
                expected = model.encode(x, lengths) if lengths is not None else model.encode(x)
                got = enc.run(names, inputs)
                diff = max(_diff(e.numpy(), g) for e, g in zip(expected, got))
                checks.append(Check(what, batch, x.shape[1] if x.ndim == 2 else 1, diff))
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
        lengths = None if test.lengths is None else test.lengths[:n]
        tokens = model(test.x[:n], lengths).argmax(-1).numpy()
        decoded = greedy_decode(enc, dec, encoder_feeds(test, n), card)
        mismatches = float((decoded != tokens).any(1).sum())
        checks.append(
            Check("greedy decode: sequences that differ", n, card["target_length"], mismatches)
        )
    return checks


def export_token_decoder(
    task,
    splits,
    model: TokenDecoder,
    config: dict,
    summary: dict,
    out: Path,
    opset: int,
    quantize: str | None = None,
) -> ExportResult:
    test = splits["test"]
    example = torch.from_numpy(encoder_feeds(test, 2)["input"])
    encoder, decoder = encoder_graph(model, example, opset), decoder_graph(model, opset)
    card = build_card(task, model, config, summary, opset)
    checks = verify(model, encoder, decoder, test, card)
    check_results(checks)
    card["verification"] = [c.__dict__ for c in checks]

    def write(staging: Path) -> None:
        if quantize:
            card["int8"] = quantize_int8(encoder, decoder, staging, task, test, card)
        _save(encoder, staging / "encoder.onnx", card)
        _save(decoder, staging / "decoder.step.onnx", card)
        if model.kind == "vec2seq":
            example = {"input": test.x[:3].tolist()}
        else:
            example = [
                text.detokenize([task.source_vocab[i] for i in row[:length]], task.source_tokens)
                for row, length in zip(test.x[:3].tolist(), test.lengths[:3].tolist())
            ]
        (staging / "example.json").write_text(json.dumps(example) + "\n")

    write_staged(out, card, checks, write)
    return ExportResult(out, card, checks)


def quantize_int8(
    encoder: onnx.ModelProto, decoder: onnx.ModelProto, folder: Path, task, test, card: dict
) -> dict[str, Any]:
    """``encoder.int8.onnx`` and ``decoder.step.int8.onnx`` (weight-only int8, as for every
    export), with the test metrics of greedy decoding in both precisions."""
    graphs = {}
    converted = 0
    for graph, name in ((encoder, "encoder"), (decoder, "decoder.step")):
        quantized = onnx.ModelProto()
        quantized.CopyFrom(graph)
        converted += onnx_graph.quantize_weights(quantized.graph)
        _save(quantized, folder / f"{name}.int8.onnx", card)
        graphs[name] = (graph, quantized)
    n = min(len(test.x), 2000)
    feeds = encoder_feeds(test, n)
    metrics = {}
    for precision, index in (("fp32", 0), ("int8", 1)):
        sessions = [_session(graphs[name][index]) for name in ("encoder", "decoder.step")]
        tokens = greedy_decode(*sessions, feeds, card)
        metrics[precision] = task.score(torch.from_numpy(tokens), test.y[:n])
    sizes = {
        "size_bytes": sum((folder / f"{n}.int8.onnx").stat().st_size for n in graphs),
        "fp32_size_bytes": sum(len(g.SerializeToString()) for g, _ in graphs.values()),
    }
    return {
        "note": f"weight-only int8 (QDQ) for {converted} weight matrices; compute in float32",
        **sizes,
        "test_examples": n,
        "test_metrics": metrics["int8"],
        "fp32_test_metrics": metrics["fp32"],
    }


def build_card(
    task, model: TokenDecoder, config: dict, summary: dict, opset: int
) -> dict[str, Any]:
    names = state_names(model)
    layers = model.decoder.num_layers
    if model.kind == "vec2seq":
        source = [
            {
                "name": "input",
                "shape": ["batch", *task.input_shape],
                "dtype": "float32",
                "meaning": f"encoder.onnx: {task.preprocessing}",
            }
        ]
        tokenization = {}
    else:
        source = [
            {
                "name": "input",
                "shape": ["batch", "time"],
                "dtype": "int64",
                "meaning": "encoder.onnx: source token ids (source_vocab; 0 pads)",
            },
            {
                "name": "lengths",
                "shape": ["batch"],
                "dtype": "int64",
                "optional": True,
                "meaning": "valid source tokens of each sequence",
            },
        ]
        tokenization = {
            "source_vocab": task.source_vocab,
            "source_tokens": task.source_tokens,
            "lowercase": getattr(task, "lowercase", False),
        }
    return {
        **card_basics(task, config, summary, opset),
        "inputs": [
            *source,
            {
                "name": "token",
                "shape": ["batch"],
                "dtype": "int64",
                "meaning": "decoder.step.onnx: the previous target token (first: bos)",
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
        **tokenization,
        "target_vocab": task.target_vocab,
        "target_tokens": task.target_tokens,
        "bos": text.BOS,
        "eos": text.EOS,
        "target_length": model.target_length,
        "streaming": False,
    }

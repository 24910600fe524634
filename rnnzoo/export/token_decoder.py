"""Exporting the token-decoder family: ``encoder.onnx`` reads the source (token ids with
optional lengths, or one input per example) into the decoder's first state;
``decoder.step.onnx`` turns (previous token, state) into (next-token scores, state). The
runtime decodes with the two. Verified against PyTorch like every export, down to whole greedy
decodes token for token."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import Tensor, nn

from rnnzoo import text
from rnnzoo.export import graphs, tracing
from rnnzoo.export.quantization import graph_sizes, quantized_copy
from rnnzoo.export.staging import ExportResult, common_card, save_graph, write_staged
from rnnzoo.export.verification import (
    BATCH_SIZES,
    Check,
    check_results,
    max_diff,
    random_states,
    session,
)
from rnnzoo.runtime.decoding import greedy_decode

FILES = {
    "encoder.onnx": "the source → the decoder's first state",
    "decoder.step.onnx": "previous token and state → next-token scores and state",
    "encoder.int8.onnx": "int8 weights of the encoder (weight-only), compute in float32",
    "decoder.step.int8.onnx": "int8 weights of the decoder step, compute in float32",
    "example.json": "inputs for `rnnzoo predict --input`",
}


class EncoderGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *source: Tensor):
        return self.model.encode(*source)


class DecoderStepGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, token: Tensor, *state: Tensor):
        logits, state = self.model.decode_step(token, state)
        return (logits, *state)


def state_names(model: nn.Module) -> list[str]:
    return [f"state_{i}" for i in range(len(model.decoder.state_sizes))]


def encoder_graph(model: nn.Module, example: Tensor, opset: int) -> onnx.ModelProto:
    """Token ids and optional lengths, or one input per example → the decoder's states."""
    model = copy.deepcopy(model).eval()
    names = state_names(model)
    states = {n: {1: "batch"} for n in names}
    if not model.reads_tokens:
        return tracing.to_onnx(
            EncoderGraph(model),
            (example,),
            ["input"],
            names,
            {"input": {0: "batch"}, **states},
            opset,
        )
    runner = tracing.exporting(model.encoder)
    lengths = torch.full((example.shape[0],), example.shape[1], dtype=torch.long)
    dynamic = {"input": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, **states}
    graph = tracing.to_onnx(
        EncoderGraph(model), (example, lengths), ["input", "lengths"], names, dynamic, opset
    )
    tracing.replace_cell_loops(graph, runner, opset)
    graphs.make_optional(graph, "input", {"lengths": graphs.full_lengths})
    return graph


def decoder_graph(model: nn.Module, opset: int) -> onnx.ModelProto:
    model = copy.deepcopy(model).eval()
    tracing.exporting(model.decoder)  # built-in cells as ONNX operators
    names = state_names(model)
    token = torch.full((2,), model.BOS, dtype=torch.long)
    dynamic = {
        "token": {0: "batch"},
        "scores": {0: "batch"},
        **{n: {1: "batch"} for n in names},
        **{n + "_out": {1: "batch"} for n in names},
    }
    return tracing.to_onnx(
        DecoderStepGraph(model),
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
    model: nn.Module, encoder: onnx.ModelProto, decoder: onnx.ModelProto, test: Any, card: dict
) -> list[Check]:
    """Encoder states for batches of 1, 3 and 17 (padded and unpadded token sequences), one
    decoder step from random states, and whole greedy decodes against PyTorch's tokens."""
    enc, dec = session(encoder), session(decoder)
    names = state_names(model)
    checks = []
    model = model.eval()
    with torch.no_grad():
        for batch in BATCH_SIZES:
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
                diff = max_diff(list(expected), enc.run(names, inputs))
                checks.append(Check(what, batch, x.shape[1] if x.ndim == 2 else 1, diff))
        generator = torch.Generator().manual_seed(0)
        token = torch.randint(0, model.head.out_features, (5,), generator=generator)
        state = random_states(model.decoder, 5, generator)
        logits, new = model.decode_step(token, state)
        got = dec.run(
            None, {"token": token.numpy(), **{n: s.numpy() for n, s in zip(names, state)}}
        )
        checks.append(Check("decoder step", 5, 1, max_diff([logits, *new], got)))
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
    run: Any, out: Path, opset: int, quantize: str | None = None
) -> ExportResult:
    """Export a loaded run of the token-decoder family to ``out``, verified."""
    model, task, test = run.model, run.task, run.splits["test"]
    example = torch.from_numpy(encoder_feeds(test, 2)["input"])
    encoder, decoder = encoder_graph(model, example, opset), decoder_graph(model, opset)
    card = build_card(run, opset)
    checks = verify(model, encoder, decoder, test, card)
    check_results(checks)
    int8 = {"encoder.int8.onnx", "decoder.step.int8.onnx"} if quantize else set()
    card["files"] = {
        name: what for name, what in FILES.items() if ".int8." not in name or name in int8
    }

    def write(staging: Path) -> None:
        if quantize:
            card["int8"] = quantize_int8(encoder, decoder, staging, run, card)
        save_graph(encoder, staging / "encoder.onnx", card)
        save_graph(decoder, staging / "decoder.step.onnx", card)
        if model.reads_tokens:
            example = [
                text.detokenize([task.source_vocab[i] for i in row[:length]], task.source_tokens)
                for row, length in zip(test.x[:3].tolist(), test.lengths[:3].tolist())
            ]
        else:
            example = {"input": test.x[:3].tolist()}
        (staging / "example.json").write_text(json.dumps(example) + "\n")

    write_staged(out, card, checks, write)
    return ExportResult(out, card, checks)


def quantize_int8(
    encoder: onnx.ModelProto, decoder: onnx.ModelProto, folder: Path, run: Any, card: dict
) -> dict[str, Any]:
    """``encoder.int8.onnx`` and ``decoder.step.int8.onnx``, with the test metrics of greedy
    decoding in both precisions."""
    pairs, converted, sizes = {}, 0, {"size_bytes": 0, "fp32_size_bytes": 0}
    for graph, name in ((encoder, "encoder"), (decoder, "decoder.step")):
        quantized, count = quantized_copy(graph)
        converted += count
        for key, value in graph_sizes(graph, quantized).items():
            sizes[key] += value
        save_graph(quantized, folder / f"{name}.int8.onnx", card)
        pairs[name] = (graph, quantized)
    test = run.splits["test"]
    n = min(len(test.x), 2000)
    feeds = encoder_feeds(test, n)
    metrics = {}
    for precision, index in (("fp32", 0), ("int8", 1)):
        sessions = [session(pairs[name][index]) for name in ("encoder", "decoder.step")]
        tokens = greedy_decode(*sessions, feeds, card)
        metrics[precision] = run.task.score(torch.from_numpy(tokens), test.y[:n])
    return {
        "note": f"weight-only int8 (QDQ) for {converted} weight matrices; compute in float32",
        **sizes,
        "test_examples": n,
        "test_metrics": metrics["int8"],
        "fp32_test_metrics": metrics["fp32"],
    }


def build_card(run: Any, opset: int) -> dict[str, Any]:
    task, model = run.task, run.model
    names = state_names(model)
    layers = model.decoder.num_layers
    if model.reads_tokens:
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
            "lowercase": task.lowercase,
        }
    else:
        source = [
            {
                "name": "input",
                "shape": ["batch", *task.input_shape],
                "dtype": "float32",
                "meaning": f"encoder.onnx: {task.preprocessing}",
            }
        ]
        tokenization = {}
    return {
        **common_card(run, opset),
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
        "reads_tokens": model.reads_tokens,
        "state_names": names,
        **tokenization,
        "target_vocab": task.target_vocab,
        "target_tokens": task.target_tokens,
        "bos": text.BOS,
        "eos": text.EOS,
        "target_length": model.target_length,
        "streaming": False,
    }

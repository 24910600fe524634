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
from rnnzoo.export import tracing
from rnnzoo.export.quantization import graph_sizes, quantized_copy
from rnnzoo.export.staging import (
    ExportOptions,
    ExportResult,
    common_card,
    finish_files,
    save_graph,
    write_staged,
)
from rnnzoo.export.verification import (
    BATCH_SIZES,
    Case,
    Check,
    as_numpy,
    check_on_onnxruntime,
    check_results,
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
    """Token ids and their lengths (both required; every cell a masked ``Scan``, so each
    row's final state is its own), or one input per example → the decoder's states."""
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
    tracing.replace_cell_scans(graph, runner, opset)
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


@torch.no_grad()
def cases(model: nn.Module, test: Any) -> list[Case]:
    """Encoder states for batches of 1, 3 and 17 (padded token sequences, or inputs), and one
    decoder step from random states at the same batch sizes."""
    model = model.eval()
    names = state_names(model)
    grid = []
    for batch in BATCH_SIZES:
        feeds = encoder_feeds(test, batch)
        x = torch.from_numpy(feeds["input"])
        lengths = torch.from_numpy(feeds["lengths"]) if "lengths" in feeds else None
        expected = model.encode(x, lengths) if lengths is not None else model.encode(x)
        steps = x.shape[1] if model.reads_tokens else 1
        grid.append(Case("encoder.onnx", "states", batch, steps, feeds, as_numpy(expected)))
    generator = torch.Generator().manual_seed(0)
    for batch in BATCH_SIZES:
        token = torch.randint(0, model.head.out_features, (batch,), generator=generator)
        state = random_states(model.decoder, batch, generator)
        logits, new = model.decode_step(token, state)
        feeds = {"token": token.numpy(), **{n: s.numpy() for n, s in zip(names, state)}}
        expected = as_numpy([logits, *new])
        grid.append(Case("decoder.step.onnx", "one step, states fed", batch, 1, feeds, expected))
    return grid


@torch.no_grad()
def decode_check(
    model: nn.Module, encoder: onnx.ModelProto, decoder: onnx.ModelProto, test: Any, card: dict
) -> Check:
    """Whole greedy decodes with onnxruntime against PyTorch's, token for token."""
    n = min(64, len(test.x))
    lengths = None if test.lengths is None else test.lengths[:n]
    tokens = model.eval()(test.x[:n], lengths).argmax(-1).numpy()
    decoded = greedy_decode(session(encoder), session(decoder), encoder_feeds(test, n), card)
    mismatches = float((decoded != tokens).any(1).sum())
    return Check("greedy decode: sequences that differ", n, card["target_length"], mismatches)


def export_token_decoder(run: Any, out: Path, options: ExportOptions) -> ExportResult:
    """Export a loaded run of the token-decoder family to ``out``, verified against PyTorch on
    onnxruntime (any difference fails the export), then on every other installed runtime
    (recorded in the card)."""
    model, task, test = run.model, run.task, run.splits["test"]
    example = torch.from_numpy(encoder_feeds(test, 2)["input"])
    graphs = {
        "encoder.onnx": encoder_graph(model, example, options.opset),
        "decoder.step.onnx": decoder_graph(model, options.opset),
    }
    card = build_card(run, out, options)
    grid = cases(model, test)
    checks = check_on_onnxruntime(graphs, grid)
    checks.append(decode_check(model, *graphs.values(), test, card))
    check_results(checks)
    answers = {name: name for name in graphs}
    if options.quantize:
        answers.update({n.replace(".onnx", ".int8.onnx"): n for n in graphs})
    card["files"] = {
        name: what for name, what in FILES.items() if name in answers or not name.endswith("onnx")
    }

    def write(staging: Path) -> None:
        if options.quantize:
            card["int8"] = quantize_int8(*graphs.values(), staging, run, card)
        for name, graph in graphs.items():
            save_graph(graph, staging / name, card)
        if model.reads_tokens:
            example = [
                text.detokenize([task.source_vocab[i] for i in row[:length]], task.source_tokens)
                for row, length in zip(test.x[:3].tolist(), test.lengths[:3].tolist())
            ]
        else:
            example = {"input": test.x[:3].tolist()}
        (staging / "example.json").write_text(json.dumps(example) + "\n")
        finish_files(staging, answers, grid, card, options)

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
        onnx.save(quantized, str(folder / f"{name}.int8.onnx"))
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


def build_card(run: Any, out: Path, options: ExportOptions) -> dict[str, Any]:
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
        **common_card(
            run,
            out,
            options,
            ["print(model.translate(example))  # texts in, texts out"]
            if model.reads_tokens
            else [
                'x = np.asarray(example["input"], np.float32)',
                "print(model.caption(x))",
            ],
        ),
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

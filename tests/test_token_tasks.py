"""Tasks whose answers are token sequences: translate (a TSV corpus), caption (vector →
sequence), dates as a plain aligned seq2seq; their readers, training, export and predict."""

import json

import numpy as np
import pytest
import torch

import rnnzoo
from rnnzoo import export as exporter
from rnnzoo import text
from rnnzoo.errors import UserError
from rnnzoo.registry import create_task
from rnnzoo.runtime import Model, beam_decode, greedy_decode, run
from tests.corpus import ATTRIBUTION, pairs, write_corpus
from tests.idx_files import write_idx


def test_tokenize_and_vocabulary():
    assert text.tokenize("Don't go, Tom!", "word") == ["Don't", "go", ",", "Tom", "!"]
    assert text.tokenize("Va-t'en !", "word", lowercase=True) == ["va-t'en", "!"]
    assert text.tokenize("ab c", "char") == ["a", "b", " ", "c"]
    vocab = text.build_vocab([["b", "a", "b"], ["c"]])
    assert vocab == text.SPECIALS + ["b", "a", "c"]
    index = {t: i for i, t in enumerate(vocab)}
    ids = text.to_ids(["a", "zebra", "c"], index)
    assert ids == [5, text.UNK, 6]
    assert text.from_ids([4, 5, text.EOS, 6], vocab, "word") == "b a"
    assert text.detokenize(["Tom", "runs", "."], "word") == "Tom runs."


def test_translate_reads_the_tatoeba_format(tmp_path):
    path = write_corpus(tmp_path / "fra.txt")
    task = create_task("translate", {"data_file": str(path)})
    splits = task.load()
    assert sum(len(s) for s in splits.values()) == len(pairs()) == 100
    assert len(splits["test"]) == len(splits["validation"]) == 10
    train = splits["train"]
    first = [task.source_vocab[i] for i in train.x[0, : train.lengths[0]].tolist()]
    target = task.decode(train.y[0].tolist())
    assert first[0] == "the" and first[-1] == "." and target.startswith("le ")
    assert ATTRIBUTION.split()[0] not in task.target_vocab  # the third column is ignored
    # vocabularies come from the training split only
    train_words = {task.source_vocab[i] for i in train.x.flatten().tolist()}
    assert set(task.source_vocab) - set(text.SPECIALS) == train_words - {"<pad>"}
    assert train.y.shape[1] == task.target_length == 6  # 5 words and the end token
    reverse = create_task("translate", {"data_file": str(path), "reverse": True})
    reverse.load()
    assert "chat" in reverse.source_vocab and "cat" in reverse.target_vocab
    short = create_task("translate", {"data_file": str(path), "max_tokens": 4})
    with pytest.raises(UserError, match="0 pairs of at most 4 tokens"):
        short.load()


REAL_LINES = """Go.\tVa !
Wow!\tÇa alors !
Help!\tÀ l'aide !
Got it!\tJ'ai pigé !
Hug me.\tSerre-moi dans tes bras !
I'm 19.\tJ'ai 19 ans.
I'm OK.\tÇa va.
I saw it.\tJe l’ai vu.
It's 3:30.\tIl est trois heures et demie.
"""  # the first lines of manythings.org's fra.txt (Tatoeba, CC-BY 2.0 FR), older 2-column form


def test_translate_reads_real_fra_txt_lines(tmp_path):
    (tmp_path / "fra.txt").write_text(REAL_LINES, encoding="utf-8")
    task = create_task("translate", {"data_file": str(tmp_path / "fra.txt"), "test_fraction": 0.12})
    splits = task.load()
    assert sum(len(s) for s in splits.values()) == 9
    french = {
        t
        for line in REAL_LINES.splitlines()
        for t in text.tokenize(line.split("\t")[1], "word", True)
    }
    assert set(task.target_vocab[len(text.SPECIALS) :]) <= french and "!" in task.target_vocab
    words = ["serre-moi", "dans", "tes", "bras", "!"]
    assert text.tokenize("Serre-moi dans tes bras !", "word", True) == words
    assert text.tokenize("It's 3:30.", "word") == ["It's", "3", ":", "30", "."]


@pytest.mark.parametrize(
    "content,message",
    [
        (b"Go.\tVa !\nRun!\n", r"fra\.txt, line 2: expected source<TAB>target"),
        (b"Go.\tVa !\n\t\n", None),  # a blank line is skipped
        (b"Go.\tVa !\nHi.\t \n", r"fra\.txt, line 2: empty source or target"),
        (b"Go.\tVa !\nH\xe9.\tSalut.\n", r"fra\.txt, line 2: not UTF-8"),
        (b"\n\n", r"fra\.txt: no sentence pairs"),
    ],
)
def test_translate_reader_errors_name_file_and_line(tmp_path, content, message):
    (tmp_path / "fra.txt").write_bytes(content)
    task = create_task("translate", {"data_file": str(tmp_path / "fra.txt")})
    with pytest.raises(UserError, match=message or "need at least 3"):
        task.load()


@pytest.mark.slow
def test_translate_bad_input_on_the_command_line(tmp_path, cli):
    (tmp_path / "fra.txt").write_text("")
    for params, message in [
        ([], "translate needs --param data_file=PATH"),
        (["--param", f"data_file={tmp_path / 'fra.txt'}"], "fra.txt: no sentence pairs"),
        (["--param", f"data_file={tmp_path / 'nope.tsv'}"], "nope.tsv: no such file"),
    ]:
        result = cli(
            "train", "--task", "translate", "--cell", "gru", *params, "--out", str(tmp_path / "r")
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and message in result.stderr
        assert "Traceback" not in result.stderr


def test_translate_trains_exports_and_translates(tmp_path, cli):
    corpus = write_corpus(tmp_path / "fra.txt")
    summary = rnnzoo.train(
        "translate",
        "gru",
        out=str(tmp_path / "run"),
        task_params={"data_file": str(corpus)},
        hidden=64,
        epochs=40,
        lr=1e-2,
        batch_size=16,
    )
    test, baseline = summary["test"], summary["baseline_test"]
    assert test["token_accuracy"] > baseline["token_accuracy"] + 0.2
    assert test["exact_match"] > baseline["exact_match"]
    out = tmp_path / "export"
    result = exporter.export_run(tmp_path / "run", out, quantize="int8", runtimes=["onnxruntime"])
    assert all(c.ok for c in result.checks)
    card = json.loads((out / "card.json").read_text())
    assert card["source_tokens"] == "word" and card["lowercase"] is True
    assert card["int8"]["size_bytes"] < card["int8"]["fp32_size_bytes"]
    (tmp_path / "in.txt").write_text("The big horse waits.\nThe red zebra runs.\n")
    answers = json.loads(
        cli("predict", str(out), "--input", str(tmp_path / "in.txt"), "--json").stdout
    )["answers"]
    assert len(answers) == 2 and all(isinstance(a, str) and a for a in answers)
    model = Model(out)
    assert model.translate(["The big horse waits."]) == answers[:1]
    assert Model(out, int8=True).translate(["The big horse waits."])[0]
    beam = cli("predict", str(out), "--input", str(tmp_path / "in.txt"), "--beam", "3", "--json")
    assert len(json.loads(beam.stdout)["answers"]) == 2


def sequence_log_prob(model: Model, feeds: dict, tokens: np.ndarray) -> np.ndarray:
    """log P(tokens | source) under the exported decoder, up to and including the end token."""
    names = model.card["state_names"]
    state = run(model.session, feeds, names)
    previous = np.full(len(tokens), text.BOS, np.int64)
    total, done = np.zeros(len(tokens)), np.zeros(len(tokens), bool)
    for t in range(tokens.shape[1]):
        scores, *state = run(model.step_session, {"token": previous, **dict(zip(names, state))})
        logp = scores - scores.max(-1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
        total += np.where(done, 0.0, logp[np.arange(len(tokens)), tokens[:, t]])
        done |= tokens[:, t] == text.EOS
        previous = tokens[:, t]
    return total


def test_beam_search_finds_sequences_at_least_as_likely_as_greedy(tmp_path):
    corpus = write_corpus(tmp_path / "fra.txt")
    rnnzoo.train(
        "translate",
        "lstm",
        out=str(tmp_path / "run"),
        task_params={"data_file": str(corpus)},
        hidden=32,
        epochs=8,
        lr=1e-2,
    )
    exporter.export_run(tmp_path / "run", tmp_path / "export", runtimes=["onnxruntime"])
    model = Model(tmp_path / "export")
    sources = [en for en, _ in pairs()[:40]]
    rows = [text.tokenize(t, "word", True) for t in sources]
    index = {t: i for i, t in enumerate(model.card["source_vocab"])}
    lengths = np.array([len(r) for r in rows], np.int64)
    tokens = np.zeros((len(rows), lengths.max()), np.int64)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = text.to_ids(row, index)
    feeds = {"input": tokens, "lengths": lengths}
    greedy = greedy_decode(model.session, model.step_session, feeds, model.card)
    one, _ = beam_decode(model.session, model.step_session, feeds, model.card, 1)
    ended = np.cumsum(greedy == text.EOS, axis=1) > 0  # what comes after the end is not read
    np.testing.assert_array_equal(one, np.where(ended, text.EOS, greedy))  # greedy, with beam 1
    best, score = beam_decode(model.session, model.step_session, feeds, model.card, 4)
    np.testing.assert_allclose(score, sequence_log_prob(model, feeds, best), atol=1e-4)
    greedy_score = sequence_log_prob(model, feeds, greedy)
    assert (score >= greedy_score - 1e-4).all() and (score > greedy_score + 1e-3).any()
    assert model.translate(sources[:3], beam=4) == [
        text.from_ids(r, model.card["target_vocab"], "word") for r in best[:3].tolist()
    ]


def block(label: int) -> tuple[slice, slice]:
    """Where the bright 7×7 block of a test image of ``label`` lies (a 4×4 grid of cells)."""
    row, col = divmod(label, 4)
    return slice(7 * row, 7 * row + 7), slice(7 * col, 7 * col + 7)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Fashion-MNIST-shaped IDX files whose label shows as a bright block's position."""
    folder = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 1200), ("t10k", 300)):
        labels = rng.integers(0, 10, n)
        pictures = rng.integers(0, 60, (n, 28, 28))
        for picture, label in zip(pictures, labels):
            picture[block(label)] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte", pictures)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


def test_caption_composes_images_and_captions(images):
    from rnnzoo.tasks.caption import NAMES

    task = create_task("caption", {"data_dir": str(images), "items": 3, "n_train": 50})
    splits = task.load()
    train = splits["train"]
    assert train.x.shape == (50, 28, 84) and task.input_shape == (28, 84)
    assert train.x.dtype == torch.float32 and train.x.min() >= 0 and train.x.max() <= 1
    # read each item's label back from its block
    for row in range(5):
        items = [train.x[row, :, 28 * i : 28 * (i + 1)] for i in range(3)]
        labels = [next(k for k in range(10) if item[block(k)].min() == 1) for item in items]
        expected = " left of ".join(NAMES[label] for label in labels)
        assert task.decode(train.y[row].tolist()) == expected
    some = create_task("caption", {"data_dir": str(images), "classes": "bag, sneaker"})
    captions = {some.decode(r) for r in some.load()["test"].y.tolist()}
    assert captions <= {f"{a} left of {b}" for a in ("bag", "sneaker") for b in ("bag", "sneaker")}
    with pytest.raises(UserError, match="unknown: hat"):
        create_task("caption", {"classes": "bag,hat"})


def test_caption_draws_fresh_compositions_each_epoch(images):
    params = {"data_dir": str(images), "n_train": 40}
    task = create_task("caption", params)
    first = task.load()["train"]
    assert task.train_split(0) is None  # epoch 1 trains on load()'s split
    one, two = task.train_split(1), task.train_split(2)
    assert one.x.shape == first.x.shape and not torch.equal(one.x, two.x)
    again = create_task("caption", params)
    again.load()
    assert torch.equal(again.train_split(1).y, one.y)  # from (seed, epoch) alone: resumable
    fixed = create_task("caption", {**params, "fresh": False})
    fixed.load()
    assert fixed.train_split(1) is None


@pytest.mark.slow
def test_caption_without_image_files_exits_2(tmp_path, cli):
    result = cli(
        "train",
        "--task",
        "caption",
        "--cell",
        "gru",
        "--param",
        f"data_dir={tmp_path}",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 2 and "no MNIST/Fashion-MNIST IDX files" in result.stderr
    assert "apt-get install dataset-fashion-mnist" in result.stderr
    assert result.stderr.count("\n") == 1
    result = cli("train", "--task", "caption", "--cell", "gru", "--bidirectional")
    assert result.returncode == 2 and "vec2seq model has none" in result.stderr


@pytest.mark.slow
def test_caption_trains_exports_and_captions(images, tmp_path, cli):
    summary = rnnzoo.train(
        "caption",
        "gru",
        out=str(tmp_path / "run"),
        task_params={"data_dir": str(images), "n_train": 2000, "n_test": 200},
        hidden=32,
        epochs=5,
        lr=5e-3,
    )
    test, baseline = summary["test"], summary["baseline_test"]
    assert test["exact_match"] > baseline["exact_match"] + 0.3
    out = tmp_path / "export"
    result = exporter.export_run(tmp_path / "run", out, quantize="int8", runtimes=["onnxruntime"])
    assert {c.what for c in result.checks} >= {
        "encoder.onnx: states",
        "decoder.step.onnx: one step, states fed",
    }
    assert all(c.ok for c in result.checks)
    card = json.loads((out / "card.json").read_text())
    assert card["kind"] == "vec2seq" and card["inputs"][0]["shape"] == ["batch", 28, 56]
    assert card["int8"]["test_metrics"]["exact_match"] > baseline["exact_match"] + 0.3
    predicted = json.loads(
        cli("predict", str(out), "--input", str(out / "example.json"), "--json").stdout
    )["answers"]
    assert len(predicted) == 3 and all(" left of " in a for a in predicted)
    model = Model(out)
    one = np.asarray(json.loads((out / "example.json").read_text())["input"][0], np.float32)
    assert model.caption(one) == predicted[:1]  # one image, without the batch axis
    np.save(tmp_path / "wrong.npy", np.zeros((28, 28), np.float32))
    bad = cli("predict", str(out), "--input", str(tmp_path / "wrong.npy"))
    assert bad.returncode == 2 and "(28, 56)" in bad.stderr


def test_dates_as_plain_seq2seq_trains_exports_and_reads_out(tmp_path, cli):
    task = create_task("dates-seq2seq", {"n_train": 100, "n_test": 20})
    splits = task.load()
    x, y = splits["train"].x, splits["train"].y
    assert task.kind == "seq2seq" and x.shape[1:] == (32, len(task.source_vocab))
    assert y.shape == (100, 32) and (x.sum(-1) <= 1).all()
    assert all(task.decode(row) for row in y.tolist())
    rnnzoo.train(
        "dates-seq2seq",
        "gru",
        out=str(tmp_path / "run"),
        task_params={"n_train": 200, "n_test": 20},
        hidden=16,
        epochs=1,
    )
    out = tmp_path / "export"
    assert all(
        c.ok for c in exporter.export_run(tmp_path / "run", out, runtimes=["onnxruntime"]).checks
    )
    answers = json.loads(
        cli("predict", str(out), "--input", str(out / "example.json"), "--json").stdout
    )["answers"]
    assert len(answers[0]) == 32 and all(a in task.target_vocab for a in answers[0])


def test_tasks_and_info_show_kinds_and_choices(cli):
    listing = {t["name"]: t["kind"] for t in json.loads(cli("tasks", "--json").stdout)}
    assert listing["translate"] == listing["dates"] == "encdec"
    assert listing["caption"] == "vec2seq" and listing["dates-seq2seq"] == "seq2seq"
    info = json.loads(cli("info", "translate", "--json").stdout)["params"]
    params = {p["name"]: p for p in info}
    assert params["tokens"] == {"name": "tokens", "type": "word | char", "default": "word"}


def test_best_epoch_ties_are_broken_by_the_next_metric():
    from rnnzoo.trainer import selection_key

    dates = create_task("dates", {"n_train": 10, "n_test": 10})
    stuck = selection_key(dates, {"exact_match": 0.0, "token_accuracy": 0.5, "loss": 1.0})
    better = selection_key(dates, {"exact_match": 0.0, "token_accuracy": 0.7, "loss": 2.0})
    best = selection_key(dates, {"exact_match": 0.1, "token_accuracy": 0.2, "loss": 3.0})
    assert stuck < better < best
    reber = create_task("reber", {"n_train": 10, "n_test": 10})
    assert selection_key(reber, {"accuracy": 0.9, "loss": 0.3}) < selection_key(
        reber, {"accuracy": 0.9, "loss": 0.2}
    )


@pytest.mark.slow
def test_a_run_refuses_a_corpus_that_changed_since_training(tmp_path, cli):
    corpus = write_corpus(tmp_path / "fra.txt")
    run = tmp_path / "run"
    params = {"data_file": str(corpus)}
    rnnzoo.train("translate", "gru", out=str(run), task_params=params, hidden=8, epochs=1)
    assert json.loads((run / "data.json").read_text()) == {str(corpus): text_digest(corpus)}
    exporter.export_run(run, tmp_path / "export", runtimes=["onnxruntime"])  # the same file: fine
    with open(corpus, "a") as f:
        f.write("One more.\tUne de plus.\n")
    for result in (
        cli("export", str(run), "--out", str(tmp_path / "export2")),
        cli("evaluate", str(run)),
        cli("train", "--resume", "--out", str(run)),
    ):
        assert result.returncode == 2 and "changed since" in result.stderr, result.stderr
    assert not (tmp_path / "export2").exists()


def text_digest(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("cell", ["lstm", "mgu", "rnn"])
def test_caption_exports_with_every_kind_of_cell(images, tmp_path, cell):
    """Two layers; the built-ins' decoder step is an ONNX LSTM / RNN operator, the MGU
    plugin's is traced from its own step function."""
    rnnzoo.train(
        "caption",
        cell,
        out=str(tmp_path / "run"),
        task_params={"data_dir": str(images), "n_train": 200, "n_test": 40},
        hidden=16,
        layers=2,
        epochs=1,
    )
    result = exporter.export_run(
        tmp_path / "run", tmp_path / "export", quantize="int8", runtimes=["onnxruntime"]
    )
    assert all(c.ok for c in result.checks)
    images_in = np.asarray(json.loads((tmp_path / "export/example.json").read_text())["input"])
    assert len(Model(tmp_path / "export", int8=True).caption(images_in.astype(np.float32))) == 3

"""Built-in tasks, registered through the same hook as third-party ones.

Registered lazily (by import path) so listing tasks does not import torch.
"""

from rnnzoo.hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    register(
        "rnnzoo.tasks.sine:Sine",
        name="sine",
        kind="seq2seq",
        description="Forecast t·sin(t)/3 + 2·sin(5t) one step ahead (the textbook's series).",
    )
    register(
        "rnnzoo.tasks.seqmnist:SeqMNIST",
        name="seqmnist",
        kind="seq2vec",
        description="Classify MNIST / Fashion-MNIST images by rows (28 × 28) or pixels (784 × 1).",
    )
    register(
        "rnnzoo.tasks.mnist1d:MNIST1D",
        name="mnist1d",
        kind="seq2vec",
        description="MNIST-1D: classify 40-step 1-D signals of the ten digits.",
    )
    register(
        "rnnzoo.tasks.reber:Reber",
        name="reber",
        kind="seq2vec",
        description="Embedded Reber grammar: valid strings vs one-symbol near misses.",
    )
    register(
        "rnnzoo.tasks.parity:Parity",
        name="parity",
        kind="seq2vec",
        description="Parity of bit strings: train on up to 40 bits, test on 256 and 1,024.",
    )
    register(
        "rnnzoo.tasks.selective_copy:SelectiveCopy",
        name="selective-copy",
        kind="seq2seq",
        description="Selective copying (Mamba): repeat the data tokens scattered among noise.",
    )
    register(
        "rnnzoo.tasks.recall:Recall",
        name="recall",
        kind="seq2seq",
        description="Multi-query associative recall (Zoology): the value bound to each key.",
    )
    register(
        "rnnzoo.tasks.rain:Rain",
        name="rain",
        kind="seq2vec",
        description="How Much Did It Rain? II: gauge millimetres from radar scans (Kaggle CSV).",
    )
    register(
        "rnnzoo.tasks.video:Video",
        name="video",
        kind="seq2vec",
        description="CNN + RNN video classification: which way a sprite moves across the clip.",
    )
    register(
        "rnnzoo.tasks.dates:Dates",
        name="dates",
        kind="encdec",
        description="Dates written by people → ISO 8601, an encoder–decoder.",
    )
    register(
        "rnnzoo.tasks.dates:DatesSeq2Seq",
        name="dates-seq2seq",
        kind="seq2seq",
        description="The same dates as a plain aligned seq2seq RNN, to compare with `dates`.",
    )
    register(
        "rnnzoo.tasks.translate:Translate",
        name="translate",
        kind="encdec",
        description="Translate sentences of a tab-separated parallel corpus (Tatoeba's fra.txt).",
    )
    register(
        "rnnzoo.tasks.caption:Caption",
        name="caption",
        kind="vec2seq",
        description="Caption Fashion-MNIST items side by side: 'sneaker left of bag'.",
    )
    register(
        "rnnzoo.tasks.classify:Classify",
        name="classify",
        kind="seq2vec",
        description="Label your sequences: UCR/UEA .ts, CSV/Parquet, .npz, class folders (--data).",
    )
    register(
        "rnnzoo.tasks.regress:Regress",
        name="regress",
        kind="seq2vec",
        description="A number from each of your sequences: the same files as classify (--data).",
    )
    register(
        "rnnzoo.tasks.forecast:Forecast",
        name="forecast",
        kind="seq2vec",
        description="Forecast your series: the next values of CSV or Parquet columns (--data).",
    )

"""Users' data files read into checked numpy arrays, without torch (the torch-free runtime
reads them for ``rnnzoo predict``): labelled sequences (:func:`read_sequences`) and series to
forecast (:func:`read_series`). A missing value is NaN, never zero; a problem is a
:class:`~rnnzoo.errors.UserError` of one line naming the file, the row and the column."""

from rnnzoo.data.formats import detect_format, read_sequences, read_series
from rnnzoo.data.sequences import Sequences
from rnnzoo.data.series import Series

__all__ = ["Sequences", "Series", "detect_format", "read_sequences", "read_series"]

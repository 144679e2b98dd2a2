"""Streaming prediction: records in, one prediction table out.

Memory stays flat in the number of records: the input is read in chunks
(default 4,096 records), each chunk is scored (sorted by length inside the
chunk to cut padding, then put back in input order) and written through
:class:`bioseq.io.writers.PredictionWriter` before the next chunk is read. The
writer renames its temporary file onto the destination only when the whole
input was scored, so an interrupted run leaves no partial table, and the
table always has exactly one row per input record (also for a single-record
file), in input order.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from bioseq.errors import BioseqError
from bioseq.io.sources import describe_source, iter_source_columns
from bioseq.io.writers import PredictionBatch, write_prediction_table
from bioseq.models.inference import PIECES_PER_STEP

if TYPE_CHECKING:
    from bioseq.models.classifier import Classifier as Model

CHUNK_SIZE = 4096


@dataclass
class Predictions:
    """Predictions for a set of records, in input order.

    Attributes:
        ids: record ids, ``n``.
        probs: float32 ``(n, C)``; column ``j`` is the probability of ``labels[j]``.
        predicted: predicted label per record (multilabel: comma-separated
            labels at or above their threshold, ``""`` when none).
        labels: class names, ``C``.
    """

    ids: list[str]
    probs: np.ndarray
    predicted: list[str]
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def to_frame(self) -> Any:
        """A pandas ``DataFrame``: columns ``id``, ``predicted``, then ``prob_<label>`` per label (the
        columns of the prediction table). Needs pandas (``pip install 'bioseq[pandas]'``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Predictions.to_frame() needs pandas, an optional dependency: pip install 'bioseq[pandas]'"
            ) from None
        columns: dict[str, Any] = {"id": list(self.ids), "predicted": list(self.predicted)}
        probs = np.asarray(self.probs).reshape(len(self.ids), len(self.labels))
        for j, label in enumerate(self.labels):
            columns[f"prob_{label}"] = probs[:, j]
        return pd.DataFrame(columns)


def iter_chunks(
    model: Model, source: Any, chunk_size: int = CHUNK_SIZE, *, allow_empty: bool = False
) -> Iterator[tuple[list[str], list[str]]]:
    """``(ids, seqs)`` chunks from any input form (:func:`bioseq.io.sources.iter_source`).

    Files are read with the model's alphabet, so a sequence in another alphabet
    is an :class:`~bioseq.errors.AlphabetError` naming the file and record;
    labels in the input are ignored. A file without records is an
    :class:`~bioseq.errors.EmptyInputError` unless ``allow_empty`` (meant for
    a workflow's own shards, which may be empty when an input has fewer records
    than shards); it then yields nothing. An empty iterable of records always
    yields nothing.
    """
    yield from iter_source_columns(source, chunk_size, model.alphabet, allow_empty=allow_empty)


def iter_predictions(
    model: Model,
    source: Any,
    batch_size: int = 256,
    both_strands: bool = False,
    chunk_size: int = CHUNK_SIZE,
    *,
    allow_empty: bool = False,
    bar: ProgressBar | None = None,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """``(ids, probs float32 (n_chunk, C))`` per input chunk, in input order (``allow_empty``: see
    :func:`iter_chunks`; ``bar``: progress shown while the chunk is scored)."""
    where = describe_source(source)
    for ids, seqs in iter_chunks(model, source, chunk_size, allow_empty=allow_empty):
        try:
            probs = model.predict_proba_sequences(
                seqs, batch_size=batch_size, both_strands=both_strands, ids=ids,
                progress=None if bar is None else bar.windows,
            )
        except BioseqError as exc:  # the tokenizer names the record; add the file
            raise (exc.located(where) if where else exc) from None
        if bar is not None:
            bar.records(len(ids))
        yield ids, probs


class ProgressBar:
    """Progress of a prediction on stderr: records written, and the windows of a long record
    (also the bar of ``bioseq scan`` and ``variant-effect``: ``desc``/``unit`` name what is counted).

    A chunk of short records moves the records bar; a chunk whose windows take
    several scoring steps (a chromosome-sized record) also shows a windows bar,
    so a 50 Mb record is never minutes of silence.
    """

    def __init__(self, enabled: bool, desc: str = "predict", unit: str = " seq") -> None:
        self.enabled = enabled
        self._records = tqdm(desc=desc, unit=unit, disable=not enabled, file=sys.stderr, dynamic_ncols=True)
        self._windows: Any = None

    def records(self, n: int, total: int | None = None) -> None:
        """``n`` more records done (``total``: of how many, when the caller knows: an ETA is shown)."""
        if total is not None and self._records.total != total:
            self._records.total = total
        self._records.update(n)

    def windows(self, done: int, total: int) -> None:
        if not self.enabled or total <= PIECES_PER_STEP:
            return
        if self._windows is None or self._windows.total != total or done < self._windows.n:
            self._close_windows()
            self._windows = tqdm(desc="windows", unit=" win", total=total, leave=False, file=sys.stderr,
                                 dynamic_ncols=True)
        self._windows.update(done - self._windows.n)

    def _close_windows(self) -> None:
        if self._windows is not None:
            self._windows.close()
            self._windows = None

    def close(self) -> None:
        self._close_windows()
        self._records.close()


def predict(
    model: Model,
    source: Any,
    batch_size: int = 256,
    both_strands: bool = False,
    *,
    allow_empty: bool = False,
) -> Predictions:
    """Predict every record of any input form of :func:`bioseq.io.sources.iter_source`: a file
    (path, list of paths, ``"-"``), a sequence string, a list of sequence strings (ids ``seq0``,
    ``seq1``...), ``(id, sequence)`` pairs, records with ``.id`` and ``.seq`` (``SeqRecord``), or a
    pandas DataFrame with ``id`` and ``sequence`` columns.

    Input labels are ignored. Holds all results in memory; for large inputs use
    :func:`predict_to_file`, which streams. ``allow_empty``: see :func:`iter_chunks`.
    """
    ids: list[str] = []
    probs: list[np.ndarray] = []
    for chunk_ids, chunk_probs in iter_predictions(model, source, batch_size, both_strands, allow_empty=allow_empty):
        ids.extend(chunk_ids)
        probs.append(chunk_probs)
    p = np.concatenate(probs) if probs else np.zeros((0, model.n_classes), np.float32)
    return Predictions(ids=ids, probs=p, predicted=model.decide(p), labels=list(model.labels))


def predict_to_file(
    model: Model,
    source: Any,
    output: str | os.PathLike[str],
    batch_size: int = 256,
    both_strands: bool = False,
    chunk_size: int = CHUNK_SIZE,
    *,
    allow_empty: bool = False,
    progress: bool = False,
) -> int:
    """Write the prediction table for ``source`` to ``output`` (``"-"``: stdout).

    Columns: ``id``, ``predicted``, ``prob_<label>`` per label (ARCHITECTURE.md).
    With ``"-"`` the table is still built in a temporary file first and copied to
    stdout only when complete, so a failure prints no partial table either.

    An input file without records raises :class:`~bioseq.errors.EmptyInputError`
    (naming the file) unless ``allow_empty``: then the table holds the header
    only, which ``bioseq gather`` concatenates like any other shard's table.
    ``progress``: bars on stderr (:class:`ProgressBar`).

    Returns:
        The number of records written.
    """
    with contextlib.closing(ProgressBar(progress)) as bar:
        return write_prediction_table(
            output,
            model.labels,
            (
                PredictionBatch(ids, model.decide(probs), probs)
                for ids, probs in iter_predictions(
                    model, source, batch_size, both_strands, chunk_size, allow_empty=allow_empty, bar=bar
                )
            ),
            multilabel=model.task == "multilabel",
        )

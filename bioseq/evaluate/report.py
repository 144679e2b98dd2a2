"""``bioseq evaluate``'s inputs: a prediction table joined with labelled truth, as metrics.

The file side of evaluation; the numbers themselves come from
:func:`bioseq.evaluate.metrics.compute_metrics` (arrays in, no files).

* :func:`load_eval_data` joins a prediction table (``bioseq predict``) with the
  truth (:func:`read_truth`) by record id and refuses silently partial
  evaluations: a truth id with no prediction, a prediction with no truth
  (unless ``allow_missing``), or a truth label the model cannot predict is a
  :class:`~bioseq.errors.LabelError` naming the file and the ids.
* :func:`metrics_from_labels` turns label names (one tuple per record) into
  the class indices :func:`~bioseq.evaluate.metrics.compute_metrics` takes,
  naming the record of an unknown label.
* :func:`evaluate_data` = :func:`metrics_from_labels` on joined data plus an
  ``inputs`` section; :func:`evaluate` = load, then evaluate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bioseq.errors import DuplicateIdError, InputFormatError, LabelError
from bioseq.evaluate.metrics import compute_metrics
from bioseq.io.formats import PathLike, strip_compression

TABLE_EXTENSIONS = (".tsv", ".csv", ".txt")


@dataclass(frozen=True)
class EvalData:
    """Predictions and truth joined by record id, in prediction-table order.

    ``probs`` is float64 (n, C) with columns in ``labels`` order; ``y_true`` and
    ``predicted`` hold one tuple of labels per record.
    """

    ids: list[str]
    y_true: list[tuple[str, ...]]
    predicted: list[tuple[str, ...]]
    probs: np.ndarray
    labels: list[str]
    predictions_path: str | None = None
    truth_path: str | None = None
    n_truth_without_prediction: int = 0
    n_predictions_without_truth: int = 0


# --- label names -> class indices ----------------------------------------------


def as_label_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A truth or predicted cell as a tuple of labels (``"a,b"`` -> ``("a", "b")``, ``""`` -> ``()``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


def detect_task(
    y_true: Sequence[tuple[str, ...]],
    n_labels: int,
    predicted: Sequence[tuple[str, ...]] | None = None,
) -> str:
    """Guess the task: multilabel if any truth or prediction holds other than one label.

    A multiclass/binary prediction table always holds exactly one predicted
    label per row; a multilabel one may hold none or several. Otherwise two
    labels mean ``binary`` and more mean ``multiclass``.
    """
    if any(len(t) != 1 for t in y_true):
        return "multilabel"
    if predicted is not None and any(len(p) != 1 for p in predicted):
        return "multilabel"
    return "binary" if n_labels == 2 else "multiclass"


def encode_cells(
    cells: Sequence[tuple[str, ...]], labels: Sequence[str], task: str, what: str, ids: Sequence[str] | None = None
) -> np.ndarray:
    """Label tuples as class indices: int ``(n,)`` (binary, multiclass) or 0/1 ``(n, C)`` (multilabel).

    Raises:
        LabelError: a label not in ``labels``, or a single-label task with a
            record holding zero or several labels (names the record).
    """
    index = {lab: i for i, lab in enumerate(labels)}
    y_bin = np.zeros((len(cells), len(labels)), dtype=np.int64)
    for i, cell in enumerate(cells):
        record = None if ids is None else str(ids[i])
        if task != "multilabel" and len(cell) != 1:
            raise LabelError(f"task {task} needs exactly one {what} label per record, got {list(cell)}", record=record)
        for lab in cell:
            if lab not in index:
                raise LabelError(f"{what} label {lab!r} is not one of the model's labels {list(labels)}", record=record)
            y_bin[i, index[lab]] = 1
    return y_bin if task == "multilabel" else y_bin.argmax(axis=1)


def metrics_from_labels(
    y_true: Sequence[str | Sequence[str]],
    probs: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    task: str = "auto",
    *,
    predicted: Sequence[str | Sequence[str]] | None = None,
    pos_label: str | None = None,
    ids: Sequence[str] | None = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """:func:`~bioseq.evaluate.metrics.compute_metrics` of label names; the same JSON-ready dict.

    Args:
        y_true: n truth cells, each a label, a tuple of labels or ``"a,b"``.
        probs: (n, C) class probabilities, columns in ``labels`` order.
        labels: the C model labels (the ``prob_<label>`` columns).
        task: ``"auto"`` (see :func:`detect_task`) or one of ``binary|multiclass|multilabel``.
        predicted: the n predicted cells the model wrote (they carry its tuned
            thresholds). Default: argmax (single-label) or ``probs >= threshold``.
        pos_label: the positive class of a binary task (default: guessed).
        ids: record ids, used only to name the offending record in errors.
        threshold: multilabel decision threshold when ``predicted`` is None.

    Raises:
        LabelError: a truth or predicted label is not in ``labels``, or a
            single-label task has a cell with zero or several labels.
        InputFormatError: ``probs`` has the wrong shape or non-finite values.
    """
    labels = [str(lab) for lab in labels]
    truth = [as_label_tuple(t) for t in y_true]
    P = np.asarray(probs, dtype=np.float64)
    if P.shape != (len(truth), len(labels)):
        raise InputFormatError(f"probabilities have shape {P.shape}, expected ({len(truth)}, {len(labels)})")
    pred = None if predicted is None else [as_label_tuple(p) for p in predicted]
    if pred is not None and len(pred) != len(truth):
        raise InputFormatError(f"{len(pred)} predicted labels for {len(truth)} truth labels")
    if task == "auto":
        task = detect_task(truth, len(labels), pred)
    y = encode_cells(truth, labels, task, "truth", ids)
    pred_idx = None if pred is None else encode_cells(pred, labels, task, "predicted", ids)
    return compute_metrics(
        task, y, P, labels=labels, predicted=pred_idx, thresholds=threshold, pos_label=pos_label, ids=ids
    )


# --- files -----------------------------------------------------------------------


def is_label_table(path: PathLike | Sequence[PathLike]) -> bool:
    """True when ``path`` names one label table (``.tsv``/``.csv``/``.txt``, optionally compressed)."""
    if not isinstance(path, (str, os.PathLike)) or os.fspath(path) == "-":
        return False
    return strip_compression(os.path.basename(os.fspath(path))).lower().endswith(TABLE_EXTENSIONS)


def read_truth(
    truth_path: PathLike | Sequence[PathLike], labels: Any = None
) -> tuple[dict[str, tuple[str, ...]], str, bool]:
    """Read ``{id: labels}``; return it, the path as shown in errors, and whether it is a table.

    ``truth_path`` is a labelled sequence file (or a list of them) read with
    :func:`bioseq.io.readers.iter_sequences`, with ``labels`` as its label
    source (None: ``label=`` header tokens; a TSV/CSV table; a dict;
    ``"filename"``). It may also be a bare label table (``.tsv``/``.csv``/
    ``.txt``), read with :func:`bioseq.io.labels.read_label_table`; such a table
    may cover several splits, so its ids need not all be predicted.
    """
    if isinstance(truth_path, (str, os.PathLike)):
        shown = os.fspath(truth_path)
    else:
        shown = ",".join(os.fspath(p) for p in truth_path)
    if is_label_table(truth_path):
        if labels is not None:
            raise LabelError("the truth is a label table already; do not pass another label source", path=shown)
        from bioseq.io.labels import read_label_table

        return dict(read_label_table(truth_path)), shown, True

    from bioseq.io.readers import iter_sequences

    truth: dict[str, tuple[str, ...]] = {}
    for item in iter_sequences(truth_path, labels=labels):
        if item.labels is None:
            raise LabelError(
                "record has no truth label: add 'label=VALUE' to its header or pass a label table",
                path=shown,
                record=item.id,
            )
        truth[item.id] = tuple(item.labels)
    return truth, shown, False


def _preview(ids: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:k])
    return shown + (f", ... ({len(ids) - k} more)" if len(ids) > k else "")


def _read_prediction_table(path: str) -> tuple[list[str], list[Any], list[str], np.ndarray]:
    """``(ids, predicted cells, labels, probs (n, C) float64)`` of a prediction table; ids unique."""
    from bioseq.io.writers import read_predictions

    ids, predicted, labels, probs = read_predictions(path)
    ids = [str(i) for i in ids]
    labels = [str(lab) for lab in labels]
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise DuplicateIdError("id occurs twice in the prediction table", path=path, record=i)
        seen.add(i)
    return ids, list(predicted), labels, np.asarray(probs, dtype=np.float64).reshape(len(ids), len(labels))


def _shared_rows(
    p_ids: list[str], truth: dict[str, Any], is_table: bool, pred_path: str, truth_shown: str, allow_missing: bool
) -> tuple[list[int], int, int]:
    """Rows of the prediction table that have a truth; with the counts missing on each side.

    A bare label table may list other splits too: its extra ids are not an error.
    """
    predicted_ids = set(p_ids)
    no_pred = [] if is_table else [i for i in truth if i not in predicted_ids]
    no_truth = [i for i in p_ids if i not in truth]
    if no_pred and not allow_missing:
        raise LabelError(
            f"{len(no_pred)} of {len(truth)} truth ids have no prediction: {_preview(no_pred)} "
            f"(were they filtered before predict? use --allow-missing to evaluate the intersection)",
            path=pred_path,
        )
    if no_truth and not allow_missing:
        raise LabelError(
            f"{len(no_truth)} of {len(p_ids)} predicted ids have no truth label: {_preview(no_truth)} "
            f"(use --allow-missing to evaluate the intersection)",
            path=truth_shown,
        )
    keep = [k for k, i in enumerate(p_ids) if i in truth]
    if not keep:
        raise LabelError(
            f"no id of {pred_path} occurs in the truth (first prediction ids: {_preview(p_ids)})",
            path=truth_shown,
        )
    return keep, len(no_pred), len(no_truth)


def _check_known_labels(
    ids: Sequence[str],
    y_true: Sequence[tuple[str, ...]],
    predicted: Sequence[tuple[str, ...]],
    labels: list[str],
    pred_path: str,
    truth_shown: str,
) -> None:
    """Every truth and predicted label must be a ``prob_`` column; the error names file and record."""
    known = set(labels)
    for rid, truth, pred in zip(ids, y_true, predicted, strict=True):
        for lab in truth:
            if lab not in known:
                raise LabelError(
                    f"truth label {lab!r} is unknown to the model (its labels, the prob_ columns of "
                    f"{pred_path}, are {labels})",
                    path=truth_shown,
                    record=rid,
                )
        for lab in pred:
            if lab not in known:
                raise InputFormatError(
                    f"predicted label {lab!r} is not among the table's prob_ columns {labels}",
                    path=pred_path,
                    record=rid,
                )


def load_eval_data(
    predictions_path: PathLike,
    truth_path: PathLike | Sequence[PathLike],
    labels: Any = None,
    *,
    allow_missing: bool = False,
) -> EvalData:
    """Join a prediction table with truth labels by id (see :func:`read_truth` for the truth).

    Every truth id must have a prediction and every prediction a truth label,
    except that a bare label table given as the truth may list extra ids.

    Raises:
        LabelError: ids on one side only (unless ``allow_missing``; then the
            intersection is evaluated and the counts recorded), no id in
            common, or a truth label that is not among the table's ``prob_``
            columns (names the record and the label).
        DuplicateIdError: an id occurs twice in the prediction table.
    """
    pred_path = os.fspath(predictions_path)
    p_ids, p_pred, p_labels, P = _read_prediction_table(pred_path)
    truth, truth_shown, is_table = read_truth(truth_path, labels)
    keep, n_no_pred, n_no_truth = _shared_rows(p_ids, truth, is_table, pred_path, truth_shown, allow_missing)
    ids = [p_ids[k] for k in keep]
    y_true = [truth[i] for i in ids]
    predicted = [as_label_tuple(p_pred[k]) for k in keep]
    _check_known_labels(ids, y_true, predicted, p_labels, pred_path, truth_shown)
    return EvalData(
        ids=ids,
        y_true=y_true,
        predicted=predicted,
        probs=P[keep],
        labels=p_labels,
        predictions_path=pred_path,
        truth_path=truth_shown,
        n_truth_without_prediction=n_no_pred,
        n_predictions_without_truth=n_no_truth,
    )


def evaluate_data(data: EvalData, task: str = "auto", *, pos_label: str | None = None) -> dict[str, Any]:
    """:func:`metrics_from_labels` on joined data, plus an ``inputs`` section (paths, dropped counts)."""
    try:
        metrics = metrics_from_labels(
            data.y_true,
            data.probs,
            data.labels,
            task,
            predicted=data.predicted,
            pos_label=pos_label,
            ids=data.ids,
        )
    except (LabelError, InputFormatError) as exc:
        if exc.path is not None:
            raise
        # Name the file: truth problems come from the truth, the rest from the table.
        path = data.truth_path if isinstance(exc, LabelError) else data.predictions_path
        raise type(exc)(exc.message, path=path, record=exc.record) from None
    metrics["inputs"] = {
        "predictions": data.predictions_path,
        "truth": data.truth_path,
        "n_truth_without_prediction": data.n_truth_without_prediction,
        "n_predictions_without_truth": data.n_predictions_without_truth,
    }
    if data.n_truth_without_prediction or data.n_predictions_without_truth:
        metrics["notes"].append(
            f"evaluated on the {metrics['n']} shared ids: {data.n_truth_without_prediction} truth ids "
            f"without prediction and {data.n_predictions_without_truth} predictions without truth dropped"
        )
    return metrics


def evaluate(
    predictions_path: PathLike,
    truth_path: PathLike | Sequence[PathLike],
    labels: Any = None,
    task: str = "auto",
    *,
    allow_missing: bool = False,
    pos_label: str | None = None,
) -> dict[str, Any]:
    """Metrics of a prediction table against a labelled sequence file (see :func:`load_eval_data`)."""
    data = load_eval_data(predictions_path, truth_path, labels, allow_missing=allow_missing)
    return evaluate_data(data, task, pos_label=pos_label)

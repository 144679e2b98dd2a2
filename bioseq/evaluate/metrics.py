"""Classification metrics for a prediction table against labelled truth.

Two layers, so the numbers can be reproduced without files:

* :func:`compute_metrics` is pure: truth labels + the probability matrix (+ the
  predicted labels the model wrote) in, a JSON-ready ``dict`` out. All numbers
  come from scikit-learn, so they match what a reader would compute.
* :func:`load_eval_data` joins a prediction table (``bioseq predict``) with a
  labelled sequence file by record id and refuses silently partial evaluations:
  a truth id with no prediction, a prediction with no truth (unless
  ``allow_missing``), or a truth label the model cannot predict is a
  :class:`~bioseq.errors.LabelError` naming the file and the ids.
  :func:`evaluate` does both.

The JSON layout (keys present for every task unless said otherwise)::

    task, n, labels, notes
    accuracy, macro_f1, mcc                      (binary, multiclass)
    subset_accuracy, micro_f1, macro_f1, jaccard, hamming_loss, mcc_macro  (multilabel)
    positive_label, sensitivity, specificity, precision, f1, auroc, auprc  (binary)
    auroc_macro, auprc_macro
    per_class: {label: {precision, recall, f1, support, auroc, auprc[, mcc, tp, fp, fn, tn]}}
    confusion_matrix: {labels, counts}  rows = truth, columns = predicted  (binary, multiclass)

Undefined values (AUROC of a class with no positives, ...) are ``null`` and
explained in ``notes``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bioseq.errors import DuplicateIdError, InputFormatError, LabelError

TASKS = ("binary", "multiclass", "multilabel")

# Names that mark the negative class of a binary problem (compared lower-case).
_NEGATIVE_NAMES = {"0", "false", "no", "neg", "negative", "background", "control", "other", "-"}
_NEGATIVE_PREFIXES = ("non", "not")

PathLike = str | os.PathLike[str]


def _as_label_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
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


def guess_positive_label(labels: Sequence[str]) -> tuple[str, str | None]:
    """Pick the positive class of a binary problem; return ``(label, note or None)``.

    ``nonAMP``/``AMP``, ``non_enhancer``/``enhancer``, ``0``/``1``,
    ``negative``/``positive``: the label that names the absence of the other is
    the negative one. Otherwise fall back to scikit-learn's convention (the
    second label) and say so in a note.
    """
    a, b = labels

    def negative(x: str, other: str) -> bool:
        low = x.lower()
        if low in _NEGATIVE_NAMES:
            return True
        for prefix in _NEGATIVE_PREFIXES:
            if low.startswith(prefix) and low[len(prefix) :].strip("_- ") == other.lower():
                return True
        return False

    neg_a, neg_b = negative(a, b), negative(b, a)
    if neg_a and not neg_b:
        return b, None
    if neg_b and not neg_a:
        return a, None
    return b, (
        f"positive class assumed to be {b!r} (the second label, scikit-learn's convention); "
        "set pos_label / --pos-label to choose"
    )


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _json_clean(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays into Python types and NaN/inf into ``None``."""
    if isinstance(obj, Mapping):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _finite(obj)
    return obj


def _ovr_curves_scores(
    y_bin: np.ndarray, probs: np.ndarray, labels: Sequence[str], notes: list[str]
) -> tuple[list[float | None], list[float | None]]:
    """One-vs-rest AUROC and average precision per class; ``None`` where undefined.

    y_bin: (n, C) 0/1 truth indicator; probs: (n, C) scores.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    aurocs: list[float | None] = []
    auprcs: list[float | None] = []
    n = y_bin.shape[0]
    for c, label in enumerate(labels):
        pos = int(y_bin[:, c].sum())
        if pos == 0:
            notes.append(f"class {label!r} has no positive in the truth: AUROC and AUPRC skipped")
            aurocs.append(None)
            auprcs.append(None)
            continue
        auprcs.append(_finite(average_precision_score(y_bin[:, c], probs[:, c])))
        if pos == n:
            notes.append(f"class {label!r} has no negative in the truth: AUROC skipped")
            aurocs.append(None)
        else:
            aurocs.append(_finite(roc_auc_score(y_bin[:, c], probs[:, c])))
    return aurocs, auprcs


def _mean_defined(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def compute_metrics(
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
    """Compute classification metrics; return a JSON-serialisable dict (see the module doc).

    Args:
        y_true: n truth cells, each a label, a tuple of labels or ``"a,b"``.
        probs: (n, C) class probabilities (softmax rows for binary/multiclass,
            independent sigmoids for multilabel), columns in ``labels`` order.
        labels: the C model labels (the ``prob_<label>`` columns).
        task: ``"auto"`` or one of ``binary|multiclass|multilabel``.
        predicted: the n predicted labels the model wrote (they carry its tuned
            thresholds). Default: argmax of ``probs`` (single-label) or
            ``probs >= threshold`` (multilabel).
        pos_label: the positive class of a binary task (default: guessed, see
            :func:`guess_positive_label`).
        ids: record ids, used only to name the offending record in errors.
        threshold: multilabel decision threshold when ``predicted`` is None.

    Raises:
        LabelError: a truth or predicted label is not in ``labels``, or a
            single-label task has a truth with zero or several labels.
        InputFormatError: ``probs`` has the wrong shape or non-finite values.
    """
    from sklearn import metrics as skm

    labels = [str(lab) for lab in labels]
    n_labels = len(labels)
    truth = [_as_label_tuple(t) for t in y_true]
    n = len(truth)
    P = np.asarray(probs, dtype=np.float64)
    if P.ndim != 2 or P.shape != (n, n_labels):
        raise InputFormatError(f"probabilities have shape {P.shape}, expected ({n}, {n_labels})")
    if n == 0:
        raise LabelError("nothing to evaluate: no record has both a prediction and a truth label")
    bad = ~np.isfinite(P).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputFormatError("probability is NaN or infinite", record=None if ids is None else str(ids[i]))
    pred = None if predicted is None else [_as_label_tuple(p) for p in predicted]
    if pred is not None and len(pred) != n:
        raise InputFormatError(f"{len(pred)} predicted labels for {n} truth labels")

    if task == "auto":
        task = detect_task(truth, n_labels, pred)
    if task not in TASKS:
        raise LabelError(f"unknown task {task!r}; expected auto or one of {', '.join(TASKS)}")
    if task == "binary" and n_labels != 2:
        raise LabelError(f"task binary needs exactly 2 labels, the model has {n_labels}: {labels}")
    if task != "multilabel" and n_labels < 2:
        raise LabelError(f"task {task} needs at least 2 labels, the model has {labels}")

    index = {lab: i for i, lab in enumerate(labels)}

    def rec(i: int) -> str | None:
        return None if ids is None else str(ids[i])

    def check_known(cells: list[tuple[str, ...]], what: str) -> None:
        for i, cell in enumerate(cells):
            for lab in cell:
                if lab not in index:
                    raise LabelError(f"{what} label {lab!r} is not one of the model's labels {labels}", record=rec(i))

    check_known(truth, "truth")
    if pred is not None:
        check_known(pred, "predicted")

    # (n, C) 0/1 truth indicator: the one-vs-rest view every task shares.
    y_bin = np.zeros((n, n_labels), dtype=np.int64)
    for i, cell in enumerate(truth):
        for lab in cell:
            y_bin[i, index[lab]] = 1

    notes: list[str] = []
    aurocs, auprcs = _ovr_curves_scores(y_bin, P, labels, notes)
    out: dict[str, Any] = {"task": task, "n": n, "labels": labels}

    if task == "multilabel":
        if pred is None:
            p_bin = (P >= threshold).astype(np.int64)
        else:
            p_bin = np.zeros_like(y_bin)
            for i, cell in enumerate(pred):
                for lab in cell:
                    p_bin[i, index[lab]] = 1
        prec, rec_, f1, support = skm.precision_recall_fscore_support(y_bin, p_bin, average=None, zero_division=0)
        mcm = skm.multilabel_confusion_matrix(y_bin, p_bin)  # (C, 2, 2): [[tn, fp], [fn, tp]]
        mccs = [_finite(skm.matthews_corrcoef(y_bin[:, c], p_bin[:, c])) for c in range(n_labels)]
        out.update(
            subset_accuracy=skm.accuracy_score(y_bin, p_bin),
            micro_f1=skm.f1_score(y_bin, p_bin, average="micro", zero_division=0),
            macro_f1=skm.f1_score(y_bin, p_bin, average="macro", zero_division=0),
            # Two empty label sets agree perfectly: zero_division=1.
            jaccard=skm.jaccard_score(y_bin, p_bin, average="samples", zero_division=1),
            hamming_loss=skm.hamming_loss(y_bin, p_bin),
            mcc_macro=_mean_defined(mccs),
        )
        per_class = {
            lab: {
                "precision": prec[c],
                "recall": rec_[c],
                "f1": f1[c],
                "support": support[c],
                "auroc": aurocs[c],
                "auprc": auprcs[c],
                "mcc": mccs[c],
                "tp": mcm[c, 1, 1],
                "fp": mcm[c, 0, 1],
                "fn": mcm[c, 1, 0],
                "tn": mcm[c, 0, 0],
            }
            for c, lab in enumerate(labels)
        }
    else:
        for i, cell in enumerate(truth):
            if len(cell) != 1:
                raise LabelError(
                    f"task {task} needs exactly one truth label per record, got {list(cell)}",
                    record=rec(i),
                )
        t_idx = np.array([index[cell[0]] for cell in truth], dtype=np.int64)
        if pred is None:
            p_idx = P.argmax(axis=1)
        else:
            for i, cell in enumerate(pred):
                if len(cell) != 1:
                    raise LabelError(
                        f"task {task} needs exactly one predicted label per record, got {list(cell)}",
                        record=rec(i),
                    )
            p_idx = np.array([index[cell[0]] for cell in pred], dtype=np.int64)
        all_idx = list(range(n_labels))
        prec, rec_, f1, support = skm.precision_recall_fscore_support(
            t_idx, p_idx, labels=all_idx, average=None, zero_division=0
        )
        # Macro-F1 over the classes that occur in truth or predictions
        # (scikit-learn's default), so a class absent from this test set and
        # never predicted does not count as a zero.
        seen = sorted(set(t_idx.tolist()) | set(p_idx.tolist()))
        if len(seen) < n_labels:
            absent = [labels[c] for c in all_idx if c not in seen]
            notes.append(f"classes never in truth nor predicted, left out of macro-F1: {absent}")
        cm = skm.confusion_matrix(t_idx, p_idx, labels=all_idx)
        out.update(
            accuracy=skm.accuracy_score(t_idx, p_idx),
            macro_f1=skm.f1_score(t_idx, p_idx, labels=seen, average="macro", zero_division=0),
            mcc=skm.matthews_corrcoef(t_idx, p_idx),
        )
        per_class = {
            lab: {
                "precision": prec[c],
                "recall": rec_[c],
                "f1": f1[c],
                "support": support[c],
                "auroc": aurocs[c],
                "auprc": auprcs[c],
            }
            for c, lab in enumerate(labels)
        }
        if task == "binary":
            if pos_label is None:
                pos_label, note = guess_positive_label(labels)
                if note:
                    notes.append(note)
            elif pos_label not in index:
                raise LabelError(f"pos_label {pos_label!r} is not one of the model's labels {labels}")
            pos = index[pos_label]
            neg = 1 - pos
            tp, fn, fp, tn = cm[pos, pos], cm[pos, neg], cm[neg, pos], cm[neg, neg]
            out.update(
                positive_label=pos_label,
                sensitivity=tp / (tp + fn) if tp + fn else float("nan"),
                specificity=tn / (tn + fp) if tn + fp else float("nan"),
                precision=tp / (tp + fp) if tp + fp else float("nan"),
                f1=f1[pos],
                auroc=aurocs[pos],
                auprc=auprcs[pos],
            )
        out["confusion_matrix"] = {"labels": labels, "counts": cm}

    out["auroc_macro"] = _mean_defined(aurocs)
    out["auprc_macro"] = _mean_defined(auprcs)
    out["per_class"] = per_class
    out["notes"] = notes
    return _json_clean(out)


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


def _preview(ids: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:k])
    return shown + (f", ... ({len(ids) - k} more)" if len(ids) > k else "")


TABLE_EXTENSIONS = (".tsv", ".csv", ".txt")


def is_label_table(path: PathLike | Sequence[PathLike]) -> bool:
    """True when ``path`` names one label table (``.tsv``/``.csv``/``.txt``, optionally compressed)."""
    from bioseq.io.formats import strip_compression

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
    from bioseq.io.writers import read_predictions

    pred_path = os.fspath(predictions_path)
    p_ids, p_pred, p_labels, p_probs = read_predictions(predictions_path)
    p_ids = [str(i) for i in p_ids]
    p_labels = [str(lab) for lab in p_labels]
    P = np.asarray(p_probs, dtype=np.float64).reshape(len(p_ids), len(p_labels))
    seen: set[str] = set()
    for i in p_ids:
        if i in seen:
            raise DuplicateIdError("id occurs twice in the prediction table", path=pred_path, record=i)
        seen.add(i)

    truth, truth_shown, is_table = read_truth(truth_path, labels)

    # A bare label table may list other splits too: its extra ids are not an error.
    no_pred = [] if is_table else [i for i in truth if i not in seen]
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

    known = set(p_labels)
    for k in keep:
        for lab in truth[p_ids[k]]:
            if lab not in known:
                raise LabelError(
                    f"truth label {lab!r} is unknown to the model (its labels, the prob_ columns of "
                    f"{pred_path}, are {p_labels})",
                    path=truth_shown,
                    record=p_ids[k],
                )

        cell = _as_label_tuple(p_pred[k])
        for lab in cell:
            if lab not in known:
                raise InputFormatError(
                    f"predicted label {lab!r} is not among the table's prob_ columns {p_labels}",
                    path=pred_path,
                    record=p_ids[k],
                )

    ids = [p_ids[k] for k in keep]
    return EvalData(
        ids=ids,
        y_true=[truth[i] for i in ids],
        predicted=[_as_label_tuple(p_pred[k]) for k in keep],
        probs=P[keep],
        labels=p_labels,
        predictions_path=pred_path,
        truth_path=truth_shown,
        n_truth_without_prediction=len(no_pred),
        n_predictions_without_truth=len(no_truth),
    )


def evaluate_data(data: EvalData, task: str = "auto", *, pos_label: str | None = None) -> dict[str, Any]:
    """:func:`compute_metrics` on joined data, plus an ``inputs`` section (paths, dropped counts)."""
    try:
        metrics = compute_metrics(
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


# --- tables for reports -------------------------------------------------------

HEADLINE = {
    "binary": [
        "accuracy",
        "macro_f1",
        "mcc",
        "sensitivity",
        "specificity",
        "precision",
        "f1",
        "auroc",
        "auprc",
    ],
    "multiclass": ["accuracy", "macro_f1", "mcc", "auroc_macro", "auprc_macro"],
    "multilabel": [
        "subset_accuracy",
        "micro_f1",
        "macro_f1",
        "jaccard",
        "hamming_loss",
        "mcc_macro",
        "auroc_macro",
        "auprc_macro",
    ],
}
PER_CLASS_COLUMNS = ["precision", "recall", "f1", "support", "auroc", "auprc"]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def metrics_table_markdown(metrics: Mapping[str, Any], digits: int = 4) -> str:
    """Markdown tables of one metrics dict: headline metrics, per-class metrics, then notes.

    For a report (Snakemake ``report()``, a README, a pull request comment).
    """
    task = metrics["task"]
    lines = [_md_row(["metric", "value"]), _md_row(["---", "---:"])]
    lines.append(_md_row(["task", task]))
    if task == "binary":
        lines.append(_md_row(["positive label", metrics["positive_label"]]))
    lines.append(_md_row(["n", metrics["n"]]))
    lines += [_md_row([k, _fmt(metrics.get(k), digits)]) for k in HEADLINE[task]]
    lines += [
        "",
        _md_row(["class", *PER_CLASS_COLUMNS]),
        _md_row(["---", *["---:"] * len(PER_CLASS_COLUMNS)]),
    ]
    for label, pc in metrics["per_class"].items():
        lines.append(_md_row([label, *(_fmt(pc.get(k), digits) for k in PER_CLASS_COLUMNS)]))
    notes = metrics.get("notes") or []
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def compare_table_markdown(runs: Mapping[str, Mapping[str, Any]], digits: int = 4) -> str:
    """One Markdown row per run (``{name: metrics}``), headline metrics as columns.

    Columns are the union of the runs' headline metrics, in first-seen order;
    a metric a run's task lacks shows ``n/a``.
    """
    columns: list[str] = []
    for m in runs.values():
        columns += [k for k in HEADLINE[m["task"]] if k not in columns]
    lines = [
        _md_row(["run", "task", "n", *columns]),
        _md_row(["---", "---", "---:", *["---:"] * len(columns)]),
    ]
    for name, m in runs.items():
        lines.append(_md_row([name, m["task"], m["n"], *(_fmt(m.get(k), digits) for k in columns)]))
    return "\n".join(lines) + "\n"


def metrics_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """Tidy ``(metric, label, value)`` rows: overall metrics with label ``""``, then per class."""
    rows: list[tuple[str, str, Any]] = [("n", "", metrics["n"])]
    rows += [(k, "", metrics.get(k)) for k in HEADLINE[metrics["task"]]]
    for label, pc in metrics["per_class"].items():
        rows += [(k, label, v) for k, v in pc.items()]
    return rows


def write_metrics_tsv(metrics: Mapping[str, Any], path: PathLike) -> None:
    """Write :func:`metrics_rows` as a TSV ``metric<TAB>label<TAB>value`` (atomically).

    Tidy (long) so that tables of several models/datasets concatenate and
    pivot in pandas; undefined values are written as ``NA``.
    """
    from bioseq.io.atomic import atomic_open

    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("metric\tlabel\tvalue\n")
        for metric, label, value in metrics_rows(metrics):
            fh.write(f"{metric}\t{label}\t{'NA' if value is None else value}\n")


def summary_line(metrics: Mapping[str, Any]) -> str:
    """A one-line human summary (accuracy, macro-F1, MCC; subset accuracy and F1s for multilabel)."""
    task = metrics["task"]
    if task == "multilabel":
        keys = [("subset accuracy", "subset_accuracy"), ("micro-F1", "micro_f1"), ("macro-F1", "macro_f1")]
    else:
        keys = [("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("MCC", "mcc")]
        if task == "binary":
            keys += [("AUROC", "auroc")]
    parts = [f"{name} {_fmt(metrics.get(key), 4)}" for name, key in keys]
    return f"{task}, n={metrics['n']}: " + ", ".join(parts)

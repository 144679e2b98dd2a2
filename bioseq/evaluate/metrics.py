"""Classification metrics from arrays: the one place that computes them (pure; no files).

Both the trainer (validation metrics stored in the log and the bundle, and the
metric early stopping maximises) and ``bioseq evaluate`` call
:func:`compute_metrics`, so the same predictions give the same numbers in a
bundle and in a report. Everything comes from scikit-learn.

* :func:`compute_metrics` -- the full report (JSON-ready ``dict``) of class
  indices against a probability matrix.
* :func:`validation_metrics` -- the trainer's flat view of that report.
* :func:`selection_metric` -- the metric early stopping maximises.

The report layout (keys present for every task unless said otherwise)::

    task, n, labels, notes
    accuracy, macro_f1, mcc                      (binary, multiclass)
    subset_accuracy, micro_f1, macro_f1, jaccard, hamming_loss, mcc_macro  (multilabel)
    positive_label, sensitivity, specificity, precision, f1, auroc, auprc  (binary)
    auroc_macro, auprc_macro
    per_class: {label: {precision, recall, f1, support, auroc, auprc[, mcc, tp, fp, fn, tn]}}
    confusion_matrix: {labels, counts}  rows = truth, columns = predicted  (binary, multiclass)

Classes absent from the truth (the rule for every task): AUROC and AUPRC are
computed one-vs-rest per class, as scikit-learn's ``roc_auc_score`` /
``average_precision_score`` on that class's column. A class's AUROC is defined
only when the truth holds both positives and negatives of it, its AUPRC only
when the truth holds at least one positive (scikit-learn raises or warns
otherwise). Undefined per-class values are ``null`` and named in ``notes``;
``auroc_macro`` / ``auprc_macro`` are the unweighted means over the classes
where the value is defined -- what ``roc_auc_score(y[:, present],
p[:, present], average="macro")`` gives -- and ``null`` when none is.
Macro-F1 of a single-label task averages over the classes that occur in the
truth or the predictions (scikit-learn's default ``labels``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bioseq.errors import ConfigError, InputFormatError, LabelError
from bioseq.tasks import TASKS

# The trainer's validation metrics: report key -> key stored in logs and bundles.
SINGLE_LABEL_METRICS = ("mcc", "accuracy", "macro_f1", "auroc")
MULTILABEL_METRICS = ("macro_auprc", "macro_f1", "micro_f1", "macro_auroc")
_VALIDATION_KEYS = {
    "binary": {"mcc": "mcc", "accuracy": "accuracy", "macro_f1": "macro_f1", "auroc": "auroc"},
    "multiclass": {"mcc": "mcc", "accuracy": "accuracy", "macro_f1": "macro_f1", "auroc": "auroc_macro"},
    "multilabel": {
        "macro_auprc": "auprc_macro",
        "macro_auroc": "auroc_macro",
        "macro_f1": "macro_f1",
        "micro_f1": "micro_f1",
    },
}

# Names that mark the negative class of a binary problem (compared lower-case).
_NEGATIVE_NAMES = {"0", "false", "no", "neg", "negative", "background", "control", "other", "-"}
_NEGATIVE_PREFIXES = ("non", "not")


def selection_metric(task: str, metric: str = "auto") -> str:
    """Name of the validation metric early stopping maximises.

    ``"auto"``: Matthews correlation coefficient (MCC) for single-label tasks
    (informative under class imbalance; what the iEnhancer/promoter/AMP
    benchmarks report); macro AUPRC for multilabel (threshold-free, so
    selection does not depend on the 0.5 cut-off).

    Raises:
        ConfigError: ``metric`` is not one of the task's validation metrics.
    """
    if metric == "auto":
        return "macro_auprc" if task == "multilabel" else "mcc"
    allowed = MULTILABEL_METRICS if task == "multilabel" else SINGLE_LABEL_METRICS
    if metric not in allowed:
        raise ConfigError(f"metric {metric!r} is not available for a {task} task; choose one of {', '.join(allowed)}")
    return metric


def guess_positive_label(labels: Sequence[str]) -> tuple[str, str | None]:
    """Pick the positive class of a binary problem; return ``(label, note or None)``.

    ``nonAMP``/``AMP``, ``non_enhancer``/``enhancer``, ``0``/``1``,
    ``negative``/``positive``: the label that names the absence of the other is
    the negative one. Otherwise fall back to scikit-learn's convention (the
    second label) and say so in a note.
    """
    a, b = labels
    neg_a, neg_b = _names_negative(a, b), _names_negative(b, a)
    if neg_a and not neg_b:
        return b, None
    if neg_b and not neg_a:
        return a, None
    return b, (
        f"positive class assumed to be {b!r} (the second label, scikit-learn's convention); "
        "set pos_label / --pos-label to choose"
    )


def _names_negative(label: str, other: str) -> bool:
    low = label.lower()
    if low in _NEGATIVE_NAMES:
        return True
    return any(
        low.startswith(prefix) and low[len(prefix) :].strip("_- ") == other.lower() for prefix in _NEGATIVE_PREFIXES
    )


def compute_metrics(
    task: str,
    y: np.ndarray | Sequence[Any],
    probs: np.ndarray | Sequence[Sequence[float]],
    *,
    labels: Sequence[str] | None = None,
    predicted: np.ndarray | Sequence[Any] | None = None,
    thresholds: float | Sequence[float] | np.ndarray | None = None,
    pos_label: str | None = None,
    ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The full metrics report of one prediction set (layout and absent-class rule: module docstring).

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        y: truth: int ``(n,)`` class indices (binary, multiclass) or 0/1
            ``(n, C)`` indicator (multilabel).
        probs: float ``(n, C)`` probabilities (softmax rows, or independent
            sigmoids for multilabel); column ``j`` is class ``labels[j]``.
        labels: the C class names (default ``"0"`` ... ``"C-1"``).
        predicted: the decisions the model wrote, same shape as ``y`` (they
            carry its tuned thresholds). Default: argmax of ``probs``
            (single-label) or ``probs >= thresholds`` (multilabel).
        thresholds: multilabel decision threshold, a scalar or ``(C,)``
            (default 0.5); used only when ``predicted`` is None.
        pos_label: the positive class of a binary task (default: guessed,
            see :func:`guess_positive_label`).
        ids: n record ids, used only to name the offending record in errors.

    Returns:
        A JSON-ready dict (Python numbers; undefined values are ``None``).

    Raises:
        InputFormatError: ``probs`` has the wrong shape or non-finite values.
        LabelError: unknown task, too few labels, an index out of range, a
            shape that does not fit the task, or an unknown ``pos_label``.
    """
    P = np.asarray(probs, dtype=np.float64)
    n = P.shape[0] if P.ndim else 0
    if labels is None:
        names = [str(c) for c in range(P.shape[1] if P.ndim == 2 else 0)]
    else:
        names = [str(lab) for lab in labels]
    _check_probs(P, n, names, ids)
    _check_task(task, names)
    if task == "multilabel":
        y_bin = _indicator(y, n, len(names), "truth")
        p_bin = _multilabel_decisions(P, predicted, thresholds, n)
        t_idx = p_idx = None
    else:
        t_idx = _class_indices(y, n, len(names), "truth")
        p_idx = P.argmax(axis=1) if predicted is None else _class_indices(predicted, n, len(names), "predicted")
        y_bin = np.eye(len(names), dtype=np.int64)[t_idx]
    notes: list[str] = []
    scores = _ovr_scores(y_bin, P, names, notes)
    out: dict[str, Any] = {"task": task, "n": n, "labels": names}
    if task == "multilabel":
        per_class = _multilabel_metrics(y_bin, p_bin, names, scores, out)
    else:
        per_class, cm = _single_label_metrics(t_idx, p_idx, names, scores, out, notes)
        if task == "binary":
            _binary_metrics(cm, per_class, names, pos_label, out, notes)
        out["confusion_matrix"] = {"labels": names, "counts": cm}
    out["auroc_macro"] = _mean_defined(scores[0])
    out["auprc_macro"] = _mean_defined(scores[1])
    out["per_class"] = per_class
    out["notes"] = notes
    return _json_clean(out)


def validation_metrics(
    task: str, y: np.ndarray, probs: np.ndarray, thresholds: Sequence[float] | np.ndarray | None = None
) -> dict[str, float]:
    """The trainer's validation metrics: a flat view of :func:`compute_metrics`, undefined as NaN.

    Keys: ``mcc, accuracy, macro_f1, auroc`` (binary, multiclass; ``auroc`` is
    the positive class's for binary -- class index 1 -- and ``auroc_macro``
    for multiclass) or ``macro_auprc, macro_auroc, macro_f1, micro_f1``
    (multilabel). A net that diverged (NaN or infinite probabilities) has
    every metric NaN, so early stopping never keeps it, rather than a crash.

    Args:
        y: int ``(n,)`` class indices, or ``(n, C)`` multi-hot for multilabel.
        probs: float ``(n, C)`` probabilities.
        thresholds: ``(C,)`` multilabel decision thresholds (default 0.5).
    """
    keys = _VALIDATION_KEYS[task]
    P = np.asarray(probs, dtype=np.float64)
    if P.ndim == 2 and not np.isfinite(P).all():
        return dict.fromkeys(keys, float("nan"))
    pos_label = "1" if task == "binary" else None
    with warnings.catch_warnings():
        # Degenerate epochs (one class predicted, ...) would warn every epoch; NaN says it already.
        warnings.simplefilter("ignore")
        report = compute_metrics(task, y, P, thresholds=thresholds, pos_label=pos_label)
    return {key: float("nan") if report[src] is None else float(report[src]) for key, src in keys.items()}


# --- checks and encodings ----------------------------------------------------


def _check_probs(P: np.ndarray, n: int, labels: Sequence[str], ids: Sequence[str] | None) -> None:
    if P.ndim != 2 or P.shape[1] != len(labels):
        raise InputFormatError(f"probabilities have shape {P.shape}, expected ({n}, {len(labels)})")
    if n == 0:
        raise LabelError("nothing to evaluate: no record has both a prediction and a truth label")
    bad = ~np.isfinite(P).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputFormatError("probability is NaN or infinite", record=None if ids is None else str(ids[i]))


def _check_task(task: str, labels: Sequence[str]) -> None:
    if task not in TASKS:
        raise LabelError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if task == "binary" and len(labels) != 2:
        raise LabelError(f"task binary needs exactly 2 labels, the model has {len(labels)}: {list(labels)}")
    if task != "multilabel" and len(labels) < 2:
        raise LabelError(f"task {task} needs at least 2 labels, the model has {list(labels)}")


def _class_indices(y: Any, n: int, n_labels: int, what: str) -> np.ndarray:
    """int ``(n,)`` class indices, checked against the shape and the label count."""
    idx = np.asarray(y)
    if idx.shape != (n,) or (n and not np.issubdtype(idx.dtype, np.integer)):
        raise LabelError(f"{what} must be {n} integer class indices, got shape {idx.shape} of {idx.dtype}")
    if n and (idx.min() < 0 or idx.max() >= n_labels):
        raise LabelError(f"{what} class index out of range 0..{n_labels - 1}")
    return idx.astype(np.int64)


def _indicator(y: Any, n: int, n_labels: int, what: str) -> np.ndarray:
    """0/1 ``(n, C)`` indicator, checked against the shape."""
    arr = np.asarray(y)
    if arr.shape != (n, n_labels):
        raise LabelError(f"{what} of a multilabel task must be a ({n}, {n_labels}) 0/1 matrix, got {arr.shape}")
    return (arr != 0).astype(np.int64)


def _multilabel_decisions(P: np.ndarray, predicted: Any, thresholds: Any, n: int) -> np.ndarray:
    if predicted is not None:
        return _indicator(predicted, n, P.shape[1], "predicted")
    thr = 0.5 if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    return (P >= thr).astype(np.int64)


# --- metric families -----------------------------------------------------------


def _ovr_scores(
    y_bin: np.ndarray, probs: np.ndarray, labels: Sequence[str], notes: list[str]
) -> tuple[list[float | None], list[float | None]]:
    """One-vs-rest AUROC and average precision per class; ``None`` where undefined (module rule).

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


Scores = tuple[list[float | None], list[float | None]]  # per-class (AUROC, AUPRC), from _ovr_scores


def _multilabel_metrics(
    y_bin: np.ndarray, p_bin: np.ndarray, labels: Sequence[str], scores: Scores, out: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Set-level metrics into ``out``; return the per-class ones. y_bin, p_bin: (n, C) 0/1."""
    from sklearn import metrics as skm

    prf = skm.precision_recall_fscore_support(y_bin, p_bin, average=None, zero_division=0)
    mcm = skm.multilabel_confusion_matrix(y_bin, p_bin)  # (C, 2, 2): [[tn, fp], [fn, tp]]
    mccs = [_finite(skm.matthews_corrcoef(y_bin[:, c], p_bin[:, c])) for c in range(len(labels))]
    out.update(
        subset_accuracy=skm.accuracy_score(y_bin, p_bin),
        micro_f1=skm.f1_score(y_bin, p_bin, average="micro", zero_division=0),
        macro_f1=skm.f1_score(y_bin, p_bin, average="macro", zero_division=0),
        # Two empty label sets agree perfectly: zero_division=1.
        jaccard=skm.jaccard_score(y_bin, p_bin, average="samples", zero_division=1),
        hamming_loss=skm.hamming_loss(y_bin, p_bin),
        mcc_macro=_mean_defined(mccs),
    )
    threshold_counts = [
        {"mcc": mccs[c], "tp": mcm[c, 1, 1], "fp": mcm[c, 0, 1], "fn": mcm[c, 1, 0], "tn": mcm[c, 0, 0]}
        for c in range(len(labels))
    ]
    return _per_class(labels, prf, scores, threshold_counts)


def _single_label_metrics(
    t_idx: np.ndarray,
    p_idx: np.ndarray,
    labels: Sequence[str],
    scores: Scores,
    out: dict[str, Any],
    notes: list[str],
) -> tuple[dict[str, dict[str, Any]], np.ndarray]:
    """Accuracy, macro-F1 and MCC into ``out``; return the per-class metrics and the confusion matrix.

    t_idx, p_idx: int (n,) truth and predicted class indices. The matrix is
    (C, C) counts, rows = truth, columns = predicted.
    """
    from sklearn import metrics as skm

    all_idx = list(range(len(labels)))
    prf = skm.precision_recall_fscore_support(t_idx, p_idx, labels=all_idx, average=None, zero_division=0)
    # Macro-F1 over the classes that occur in truth or predictions (scikit-learn's
    # default), so a class absent from this test set and never predicted is not a zero.
    seen = sorted(set(t_idx.tolist()) | set(p_idx.tolist()))
    if len(seen) < len(labels):
        absent = [labels[c] for c in all_idx if c not in seen]
        notes.append(f"classes never in truth nor predicted, left out of macro-F1: {absent}")
    out.update(
        accuracy=skm.accuracy_score(t_idx, p_idx),
        macro_f1=skm.f1_score(t_idx, p_idx, labels=seen, average="macro", zero_division=0),
        mcc=skm.matthews_corrcoef(t_idx, p_idx),
    )
    return _per_class(labels, prf, scores), skm.confusion_matrix(t_idx, p_idx, labels=all_idx)


def _per_class(
    labels: Sequence[str], prf: Sequence[np.ndarray], scores: Scores, extra: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """``{label: {precision, recall, f1, support, auroc, auprc, **extra[c]}}``; prf: four (C,) arrays."""
    prec, rec, f1, support = prf
    aurocs, auprcs = scores
    return {
        lab: {
            "precision": prec[c],
            "recall": rec[c],
            "f1": f1[c],
            "support": support[c],
            "auroc": aurocs[c],
            "auprc": auprcs[c],
            **(extra[c] if extra is not None else {}),
        }
        for c, lab in enumerate(labels)
    }


def _binary_metrics(
    cm: np.ndarray,
    per_class: Mapping[str, Mapping[str, Any]],
    labels: Sequence[str],
    pos_label: str | None,
    out: dict[str, Any],
    notes: list[str],
) -> None:
    """Positive-class metrics into ``out`` from the (2, 2) confusion matrix (rows truth, columns predicted)."""
    if pos_label is None:
        pos_label, note = guess_positive_label(labels)
        if note:
            notes.append(note)
    elif pos_label not in labels:
        raise LabelError(f"pos_label {pos_label!r} is not one of the model's labels {list(labels)}")
    pos = list(labels).index(pos_label)
    neg = 1 - pos
    tp, fn, fp, tn = cm[pos, pos], cm[pos, neg], cm[neg, pos], cm[neg, neg]
    out.update(
        positive_label=pos_label,
        sensitivity=tp / (tp + fn) if tp + fn else float("nan"),
        specificity=tn / (tn + fp) if tn + fp else float("nan"),
        precision=tp / (tp + fp) if tp + fp else float("nan"),
        f1=per_class[pos_label]["f1"],
        auroc=per_class[pos_label]["auroc"],
        auprc=per_class[pos_label]["auprc"],
    )


# --- small helpers -------------------------------------------------------------


def _mean_defined(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


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

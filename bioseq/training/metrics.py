"""Validation metrics used for model selection during training.

The selection metric (``metric="auto"``):

* single-label (binary, multiclass): Matthews correlation coefficient (MCC),
  which stays informative under class imbalance and is what the benchmark
  papers report for iEnhancer/promoter/AMP data;
* multilabel: macro-averaged area under the precision-recall curve
  (AUPRC), threshold-free, so selection does not depend on the 0.5 cut-off.

The full report (for the log and the bundle) adds accuracy, macro-F1 and
AUROC. ``bioseq evaluate`` is the place for test-set reports; this module
only serves training.
"""

from __future__ import annotations

import warnings

import numpy as np

from bioseq.errors import ConfigError

SINGLE_LABEL_METRICS = ("mcc", "accuracy", "macro_f1", "auroc")
MULTILABEL_METRICS = ("macro_auprc", "macro_f1", "micro_f1", "macro_auroc")


def selection_metric(task: str, metric: str = "auto") -> str:
    """Name of the metric early stopping maximises (see the module docstring)."""
    if metric == "auto":
        return "macro_auprc" if task == "multilabel" else "mcc"
    allowed = MULTILABEL_METRICS if task == "multilabel" else SINGLE_LABEL_METRICS
    if metric not in allowed:
        raise ConfigError(f"metric {metric!r} is not available for a {task} task; choose one of {', '.join(allowed)}")
    return metric


def compute_metrics(
    task: str, y: np.ndarray, probs: np.ndarray, thresholds: np.ndarray | None = None
) -> dict[str, float]:
    """Validation metrics.

    Args:
        y: int ``(n,)`` class indices, or ``(n, C)`` multi-hot for multilabel.
        probs: float ``(n, C)`` probabilities.
        thresholds: ``(C,)`` multilabel decision thresholds (default 0.5).

    Returns:
        ``{name: value}``; a metric undefined on this data (e.g. AUROC with one
        class present) is NaN.
    """
    from sklearn import metrics as skm

    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "multilabel":
            thr = 0.5 if thresholds is None else np.asarray(thresholds)[None, :]
            pred = (probs >= thr).astype(int)
            y = y.astype(int)
            present = (y.sum(0) > 0) & (y.sum(0) < len(y))
            out["macro_auprc"] = (
                _safe(lambda: skm.average_precision_score(y[:, present], probs[:, present], average="macro"))
                if present.any()
                else float("nan")
            )
            out["macro_auroc"] = (
                _safe(lambda: skm.roc_auc_score(y[:, present], probs[:, present], average="macro"))
                if present.any()
                else float("nan")
            )
            out["macro_f1"] = float(skm.f1_score(y, pred, average="macro", zero_division=0))
            out["micro_f1"] = float(skm.f1_score(y, pred, average="micro", zero_division=0))
            return out
        pred = probs.argmax(axis=1)
        out["mcc"] = float(skm.matthews_corrcoef(y, pred))
        out["accuracy"] = float(skm.accuracy_score(y, pred))
        out["macro_f1"] = float(skm.f1_score(y, pred, average="macro", zero_division=0))
        if task == "binary":
            out["auroc"] = _safe(lambda: skm.roc_auc_score(y, probs[:, 1]))
        else:
            out["auroc"] = _safe(
                lambda: skm.roc_auc_score(
                    y, probs, multi_class="ovr", average="macro", labels=np.arange(probs.shape[1])
                )
            )
    return out


def _safe(fn) -> float:
    try:
        return float(fn())
    except ValueError:
        return float("nan")

"""Evaluation: metrics (scikit-learn) and plots (matplotlib) for prediction tables.

* :mod:`~bioseq.evaluate.metrics` (arrays, no files; the trainer uses it too):
  :func:`compute_metrics` (the full report from class indices and
  probabilities), :func:`validation_metrics` (the trainer's flat view),
  :func:`selection_metric`.
* :mod:`~bioseq.evaluate.report` (files and label names): :func:`evaluate` --
  metrics of a ``bioseq predict`` table against labelled truth; its two halves
  :func:`load_eval_data` / :func:`evaluate_data`; :func:`metrics_from_labels`
  (the report from label names).
* :mod:`~bioseq.evaluate.tables`: :func:`metrics_table_markdown`,
  :func:`compare_table_markdown`, :func:`write_metrics_tsv`, :func:`write_comparison` -- tables for
  reports.
* :mod:`~bioseq.evaluate.plots`: :func:`plot_all` -- confusion matrix, ROC, PR
  and learning-curve figures.

Names are imported lazily: scikit-learn and matplotlib load only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "compute_metrics": "bioseq.evaluate.metrics",
    "validation_metrics": "bioseq.evaluate.metrics",
    "selection_metric": "bioseq.evaluate.metrics",
    "evaluate": "bioseq.evaluate.report",
    "evaluate_data": "bioseq.evaluate.report",
    "load_eval_data": "bioseq.evaluate.report",
    "metrics_from_labels": "bioseq.evaluate.report",
    "EvalData": "bioseq.evaluate.report",
    "metrics_table_markdown": "bioseq.evaluate.tables",
    "compare_table_markdown": "bioseq.evaluate.tables",
    "write_metrics_tsv": "bioseq.evaluate.tables",
    "write_comparison": "bioseq.evaluate.tables",
    "plot_all": "bioseq.evaluate.plots",
    "plot_confusion_matrix": "bioseq.evaluate.plots",
    "plot_roc": "bioseq.evaluate.plots",
    "plot_pr": "bioseq.evaluate.plots",
    "plot_learning_curves": "bioseq.evaluate.plots",
    "read_history": "bioseq.evaluate.plots",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bioseq.evaluate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""Evaluation: metrics (scikit-learn) and plots (matplotlib) for prediction tables.

* :func:`evaluate` -- metrics of a ``bioseq predict`` table against labelled truth.
* :func:`compute_metrics` -- the same from arrays (pure; no files).
* :func:`load_eval_data` / :func:`evaluate_data` -- the two halves of :func:`evaluate`.
* :func:`plot_all` -- confusion matrix, ROC, PR and learning-curve figures.
* :func:`metrics_table_markdown`, :func:`compare_table_markdown`,
  :func:`write_metrics_tsv` -- tables for reports.

Names are imported lazily: scikit-learn and matplotlib load only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "evaluate": "bioseq.evaluate.metrics",
    "evaluate_data": "bioseq.evaluate.metrics",
    "compute_metrics": "bioseq.evaluate.metrics",
    "load_eval_data": "bioseq.evaluate.metrics",
    "EvalData": "bioseq.evaluate.metrics",
    "metrics_table_markdown": "bioseq.evaluate.metrics",
    "compare_table_markdown": "bioseq.evaluate.metrics",
    "write_metrics_tsv": "bioseq.evaluate.metrics",
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

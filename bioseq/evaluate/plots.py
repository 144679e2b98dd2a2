"""Evaluation plots for reports: confusion matrix, ROC, precision-recall, learning curves.

Figures are built with matplotlib's object API on the Agg canvas (no
``pyplot``), so plotting never touches global backend state and works on a
headless node or inside a notebook alike. Each figure is written atomically
(temporary file, then rename) under a fixed name, so a Snakemake rule can
declare its outputs: ``confusion_matrix.png``, ``roc.png``, ``pr.png``,
``learning_curves.png`` (plus ``.svg`` twins when asked for).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from bioseq.errors import EmptyInputError, InputFormatError
from bioseq.evaluate.report import encode_cells, evaluate_data
from bioseq.io.atomic import atomic_path
from bioseq.io.formats import PathLike, decoding_errors_named

FORMATS = ("png", "svg")
FILE_NAMES = {
    "confusion": "confusion_matrix",
    "roc": "roc",
    "pr": "pr",
    "learning_curves": "learning_curves",
}


def _save(fig: Figure, base: Path, formats: Sequence[str]) -> list[Path]:
    """Write ``fig`` as ``base.<fmt>`` for each format, atomically; return the paths."""
    written = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unsupported plot format {fmt!r}; choose from {FORMATS}")
        dest = base.with_name(f"{base.name}.{fmt}")
        with atomic_path(dest, fsync=False) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150)
        written.append(dest)
    return written


def _empty_message(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _heatmap(ax: Any, values: np.ndarray, labels: Sequence[str], fmt: str, title: str) -> None:
    """Draw a (C, C) matrix with truth on rows and predictions on columns."""
    c = len(labels)
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=max(float(np.nanmax(values)), 1e-12) if c else 1)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(c), labels=labels, rotation=45 if c > 3 else 0, ha="right" if c > 3 else "center")
    ax.set_yticks(range(c), labels=labels)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title)
    if c <= 20:
        top = np.nanmax(values) if values.size else 0
        for i in range(c):
            for j in range(c):
                v = values[i, j]
                text = "" if np.isnan(v) else format(v, fmt)
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if top and v > top / 2 else "black",
                )


def plot_confusion_matrix(metrics: Mapping[str, Any], out: PathLike, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write :func:`confusion_matrix_figure` as ``out.<fmt>``; return the paths.

    Args:
        out: destination without extension, e.g. ``plots/confusion_matrix``.
    """
    return _save(confusion_matrix_figure(metrics), Path(out), formats)


def confusion_matrix_figure(metrics: Mapping[str, Any]) -> Figure:
    """Confusion matrix from a :func:`~bioseq.evaluate.metrics.compute_metrics` dict.

    Binary/multiclass: two panels, counts and row-normalised (each row sums to
    1: per-class recall on the diagonal). Multilabel: one 2x2 matrix of counts
    per label (``tp/fp/fn/tn`` in ``per_class``).
    """
    task = metrics.get("task")
    if task == "multilabel":
        labels = list(metrics["per_class"])
        ncols = min(4, max(1, len(labels)))
        nrows = max(1, math.ceil(len(labels) / ncols))
        fig = Figure(figsize=(3.2 * ncols, 3.0 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= len(labels):
                ax.set_axis_off()
                continue
            pc = metrics["per_class"][labels[k]]
            m = np.array([[pc["tn"], pc["fp"]], [pc["fn"], pc["tp"]]], dtype=float)
            _heatmap(ax, m, ["absent", "present"], ".0f", labels[k])
        fig.suptitle(f"Per-label confusion matrices (n={metrics.get('n')})")
    else:
        cm = metrics["confusion_matrix"]
        labels = list(cm["labels"])
        counts = np.asarray(cm["counts"], dtype=float).reshape(len(labels), len(labels))
        rows = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = np.where(rows > 0, counts / rows, np.nan)
        side = max(4.0, 0.55 * len(labels) + 2.5)
        fig = Figure(figsize=(2 * side + 1, side), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        _heatmap(ax1, counts, labels, ".0f", "Counts")
        _heatmap(ax2, norm, labels, ".2f", "Row-normalised (recall)")
        fig.suptitle(f"Confusion matrix (n={metrics.get('n')}, accuracy={metrics.get('accuracy', 0):.3f})")
    return fig


def _curve_classes(y_bin: np.ndarray, labels: Sequence[str], classes: Iterable[str] | None) -> list[int]:
    wanted = list(labels) if classes is None else list(classes)
    return [labels.index(c) for c in wanted]


def _curve_title(kind: str, classes: Iterable[str] | None, n: int) -> str:
    shown = None if classes is None else list(classes)
    if shown is not None and len(shown) == 1:
        return f"{kind} curve, positive class {shown[0]!r} (n={n})"
    return f"{kind} curves, one-vs-rest (n={n})"


def plot_roc(
    y_bin: np.ndarray,
    probs: np.ndarray,
    labels: Sequence[str],
    out: PathLike,
    *,
    classes: Iterable[str] | None = None,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write :func:`roc_figure` as ``out.<fmt>``; return the paths."""
    return _save(roc_figure(y_bin, probs, labels, classes=classes), Path(out), formats)


def roc_figure(
    y_bin: np.ndarray, probs: np.ndarray, labels: Sequence[str], *, classes: Iterable[str] | None = None
) -> Figure:
    """One-vs-rest ROC curves with the AUROC in the legend, and the chance diagonal.

    Args:
        y_bin: (n, C) 0/1 truth indicator; probs: (n, C) scores; labels: C names.
        classes: the classes to draw (default all; a binary task draws only
            its positive class). A class without both positives and negatives
            is listed in the title as skipped.
    """
    from sklearn.metrics import auc, roc_curve

    labels = list(labels)
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    skipped = []
    for c in _curve_classes(y_bin, labels, classes):
        pos = int(y_bin[:, c].sum())
        if pos == 0 or pos == len(y_bin):
            skipped.append(labels[c])
            continue
        fpr, tpr, _ = roc_curve(y_bin[:, c], probs[:, c])
        ax.plot(fpr, tpr, lw=1.5, label=f"{labels[c]} (AUC = {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="grey", label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("False positive rate (1 - specificity)")
    ax.set_ylabel("True positive rate (sensitivity)")
    title = _curve_title("ROC", classes, len(y_bin))
    if skipped:
        title += f"\nskipped (no positives or negatives): {', '.join(skipped)}"
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_pr(
    y_bin: np.ndarray,
    probs: np.ndarray,
    labels: Sequence[str],
    out: PathLike,
    *,
    classes: Iterable[str] | None = None,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write :func:`pr_figure` as ``out.<fmt>``; return the paths."""
    return _save(pr_figure(y_bin, probs, labels, classes=classes), Path(out), formats)


def pr_figure(
    y_bin: np.ndarray, probs: np.ndarray, labels: Sequence[str], *, classes: Iterable[str] | None = None
) -> Figure:
    """One-vs-rest precision-recall curves with the average precision (AP) in the legend.

    Same arguments as :func:`roc_figure`. The dotted line of a class's colour is
    its prevalence (the AP of a random classifier), listed as "chance".
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    labels = list(labels)
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    skipped = []
    drawn_for = [c for c in _curve_classes(y_bin, labels, classes) if int(y_bin[:, c].sum()) > 0]
    for c in _curve_classes(y_bin, labels, classes):
        if int(y_bin[:, c].sum()) == 0:
            skipped.append(labels[c])
            continue
        precision, recall, _ = precision_recall_curve(y_bin[:, c], probs[:, c])
        ap = average_precision_score(y_bin[:, c], probs[:, c])
        (line,) = ax.step(recall, precision, where="post", lw=1.5, label=f"{labels[c]} (AP = {ap:.3f})")
        prevalence = float(y_bin[:, c].mean())
        # One legend entry for the baseline of a single curve; more would crowd the legend.
        chance = f"chance ({prevalence:.2f})" if len(drawn_for) == 1 else "_nolegend_"
        ax.axhline(prevalence, ls=":", lw=1, color=line.get_color(), label=chance)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("Recall (sensitivity)")
    ax.set_ylabel("Precision (positive predictive value)")
    title = _curve_title("Precision-recall", classes, len(y_bin))
    if skipped:
        title += f"\nskipped (no positives): {', '.join(skipped)}"
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=8)
    return fig


def read_history(path: PathLike) -> list[dict[str, Any]]:
    """Read a training log (JSON lines, one object per epoch), sorted by epoch.

    A resumed run appends to its log, so an epoch may occur twice: the last
    entry wins. Lines without ``epoch`` are numbered by position (from 1).

    Raises:
        InputFormatError: unreadable file, or a line is not a JSON object (names the line).
        EmptyInputError: the log holds no epoch.
    """
    by_epoch: dict[float, dict[str, Any]] = {}
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputFormatError(f"cannot read training log: {exc.strerror}", path=path) from None
    with fh, decoding_errors_named(path, "a training log (JSON lines)"):
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFormatError(f"not valid JSON ({exc.msg})", path=path, line=lineno) from None
            if not isinstance(row, dict):
                raise InputFormatError("expected one JSON object per line", path=path, line=lineno)
            epoch = row.get("epoch", len(by_epoch) + 1)
            if not isinstance(epoch, (int, float)):
                raise InputFormatError(f"'epoch' is not a number: {epoch!r}", path=path, line=lineno)
            by_epoch[float(epoch)] = {**row, "epoch": epoch}
    if not by_epoch:
        raise EmptyInputError("training log holds no epoch", path=path)
    return [by_epoch[e] for e in sorted(by_epoch)]


def _series(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    out = []
    for row in history:
        v = row.get(key)
        out.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan)
    return np.asarray(out, dtype=float)


def plot_learning_curves(
    history: Sequence[Mapping[str, Any]] | PathLike,
    out: PathLike,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write :func:`learning_curves_figure` as ``out.<fmt>``; return the paths.

    Args:
        history: the rows of a training log, or its path (see :func:`read_history`;
            a log without epochs is drawn as an empty figure that says so).
    """
    if isinstance(history, (str, os.PathLike)):
        try:
            history = read_history(history)
        except EmptyInputError:
            history = []
    return _save(learning_curves_figure(history), Path(out), formats)


def learning_curves_figure(history: Sequence[Mapping[str, Any]]) -> Figure:
    """Loss panel (train and valid loss per epoch) and metric panel (every ``valid_<metric>``).

    The dashed vertical line marks the epoch whose weights were kept: the last
    one the trainer flagged ``best`` -- the best validation selection metric
    (MCC by default), not necessarily the lowest validation loss; older logs
    without flags: the lowest validation loss. The legend says which.

    No rows, or a single one (a model fitted once in closed form, such as
    kmer-linear, or one epoch), give a one-panel figure that says why there is
    no curve, with that one row's validation numbers: one point is no curve.
    """
    if len(history) <= 1:
        # The report still expects the file, so say so in the figure instead of failing.
        fig = Figure(figsize=(6, 3), layout="constrained")
        _empty_message(fig.subplots(), _no_curve_message(history))
        fig.suptitle("Learning curves: none (one fit)" if history else "Learning curves")
        return fig
    epochs = _series(history, "epoch")
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_loss, ax_metric = fig.subplots(1, 2)
    losses = {name: _series(history, key) for key, name in (("train_loss", "train"), ("valid_loss", "validation"))}
    metrics = {key.removeprefix("valid_"): _series(history, key) for key in _metric_keys(history)}
    drawn = [
        _draw_series(ax_loss, epochs, losses, "Loss", "no loss logged"),
        _draw_series(ax_metric, epochs, metrics, "Validation metric", "no validation metric logged"),
    ]
    best = _kept_epoch(history)
    flagged = any(rec.get("best") for rec in history)
    why = "flagged best by the trainer" if flagged else "lowest validation loss"
    for ax, has_lines in zip((ax_loss, ax_metric), drawn, strict=True):
        if best is not None:
            ax.axvline(epochs[best], ls="--", lw=1, color="grey", label=f"kept: epoch {epochs[best]:g} ({why})")
        if has_lines:
            ax.legend(fontsize=8)
    ax_loss.set_title("Loss")
    ax_metric.set_title("Validation metrics")
    fig.suptitle(f"Learning curves ({len(history)} epochs)")
    return fig


def _no_curve_message(history: Sequence[Mapping[str, Any]]) -> str:
    """Why a history gives no learning curve, and its one row's validation numbers."""
    if not history:
        return "no training epoch logged\n(e.g. a model fitted in closed form)"
    row = history[0]
    numbers = [
        f"{key.removeprefix('valid_')} {row[key]:.4g}"
        for key in ("valid_loss", *_metric_keys(history))
        if isinstance(row.get(key), (int, float)) and not isinstance(row.get(key), bool)
    ][:4]
    text = "fitted once (a closed-form model such as kmer-linear, or one epoch):\none point is no learning curve"
    return text + ("\n\nvalidation: " + ", ".join(numbers) if numbers else "")


def _kept_epoch(history: Sequence[Mapping[str, Any]]) -> int | None:
    """Row index of the kept weights: the last row flagged ``best``, else the lowest ``valid_loss``."""
    flagged = [i for i, rec in enumerate(history) if rec.get("best")]
    if flagged:
        return flagged[-1]
    valid_loss = _series(history, "valid_loss")
    return int(np.nanargmin(valid_loss)) if np.isfinite(valid_loss).any() else None


def _metric_keys(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """``valid_<metric>`` keys (not the loss) with at least one finite value, in first-seen order."""
    keys: list[str] = []
    for row in history:
        keys.extend(k for k in row if k not in keys)
    keys = [k for k in keys if k.startswith("valid_") and k != "valid_loss"]
    return [k for k in keys if np.isfinite(_series(history, k)).any()]


def _draw_series(ax: Any, epochs: np.ndarray, series: Mapping[str, np.ndarray], ylabel: str, empty: str) -> bool:
    """One line per series with a finite value, against ``epochs``; a message (and False) when none has."""
    drawn = {name: ys for name, ys in series.items() if np.isfinite(ys).any()}
    if not drawn:
        _empty_message(ax, empty)
        return False
    for name, ys in drawn.items():
        ax.plot(epochs, ys, marker="o", ms=3, label=name)
    ax.set_xlabel("Epoch")
    ax.set_ylabel(ylabel)
    return True


def plot_all(
    data: Any | None,
    outdir: PathLike,
    *,
    metrics: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] | PathLike | None = None,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write every plot the inputs allow into ``outdir``; return the written paths.

    Args:
        data: a :class:`~bioseq.evaluate.report.EvalData` (truth + probabilities),
            needed for ROC and PR curves; None to skip them.
        metrics: the metrics dict; computed from ``data`` when None. Needed
            for the confusion matrix. A binary task draws ROC/PR for its
            ``positive_label`` only.
        history: a training log (rows or path) for ``learning_curves``.
        formats: ``("png",)``, ``("png", "svg")``, ...
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if metrics is None and data is not None:
        metrics = evaluate_data(data)
    written: list[Path] = []
    if metrics is not None:
        written += plot_confusion_matrix(metrics, outdir / FILE_NAMES["confusion"], formats)
    if data is not None:
        y_bin = encode_cells(data.y_true, data.labels, "multilabel", "truth")
        probs = np.asarray(data.probs, dtype=float)
        classes = None
        if metrics is not None and metrics.get("task") == "binary":
            classes = [metrics["positive_label"]]
        written += plot_roc(y_bin, probs, data.labels, outdir / FILE_NAMES["roc"], classes=classes, formats=formats)
        written += plot_pr(y_bin, probs, data.labels, outdir / FILE_NAMES["pr"], classes=classes, formats=formats)
    if history is not None:
        written += plot_learning_curves(history, outdir / FILE_NAMES["learning_curves"], formats)
    return written

"""Tables of a metrics report (:func:`bioseq.evaluate.metrics.compute_metrics`'s dict): Markdown, TSV, one line.

For reports: Snakemake ``report()``, a README, a pull request comment, the
``bioseq evaluate`` log line. Undefined values (``None``) show as ``n/a`` in
Markdown and ``NA`` in TSV.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bioseq.io.formats import PathLike

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


def _compare_columns(runs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The union of the runs' headline metrics, in first-seen order."""
    columns: list[str] = []
    for m in runs:
        columns += [k for k in HEADLINE[m["task"]] if k not in columns]
    return columns


def compare_table_markdown(runs: Mapping[str, Mapping[str, Any]], digits: int = 4) -> str:
    """One Markdown row per run (``{name: metrics}``), headline metrics as columns.

    Columns are the union of the runs' headline metrics, in first-seen order;
    a metric a run's task lacks shows ``n/a``.
    """
    columns = _compare_columns(runs.values())
    lines = [
        _md_row(["run", "task", "n", *columns]),
        _md_row(["---", "---", "---:", *["---:"] * len(columns)]),
    ]
    for name, m in runs.items():
        lines.append(_md_row([name, m["task"], m["n"], *(_fmt(m.get(k), digits) for k in columns)]))
    return "\n".join(lines) + "\n"


def compare_rows(
    runs: Sequence[tuple[Sequence[str], Mapping[str, Any]]], digits: int = 4
) -> tuple[list[str], list[list[str]]]:
    """``(metric columns, rows)`` of a comparison: per run (``(name parts, metrics)``) its name parts,
    task, n and headline metrics (``NA`` where its task lacks one or it is undefined)."""
    columns = _compare_columns(m for _, m in runs)
    rows = [
        [*names, m["task"], str(m["n"]), *("NA" if m.get(k) is None else _fmt(m.get(k), digits) for k in columns)]
        for names, m in runs
    ]
    return columns, rows


def write_comparison(
    runs: Sequence[tuple[str, PathLike]], path: PathLike, name_columns: Sequence[str] = ("run",), digits: int = 4
) -> int:
    """Compare metrics files (``bioseq evaluate -o``) in one TSV table, one row per run; return the rows.

    Each run is ``(name, metrics.json)``; the name is split on ``/`` into ``name_columns``
    (e.g. ``splice/cnn/test`` into dataset, model, input). Written atomically.

    Raises:
        InputFormatError: a metrics file is unreadable or not a metrics JSON.
        ConfigError: a name has another number of parts than ``name_columns``.
    """
    import json

    from bioseq.errors import ConfigError, InputFormatError
    from bioseq.io.atomic import atomic_open

    loaded = []
    for name, file in runs:
        parts = name.split("/")
        if len(parts) != len(name_columns):
            raise ConfigError(f"run name {name!r}: expected {len(name_columns)} '/'-separated parts "
                              f"({', '.join(name_columns)})")
        try:
            with open(file, encoding="utf-8") as fh:
                metrics = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise InputFormatError(f"cannot read metrics: {exc}", path=file) from None
        if not isinstance(metrics, dict) or metrics.get("task") not in HEADLINE or "n" not in metrics:
            raise InputFormatError("not a metrics file of 'bioseq evaluate' (no task/n)", path=file)
        loaded.append((parts, metrics))
    columns, rows = compare_rows(loaded, digits)
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join([*name_columns, "task", "n", *columns]) + "\n")
        fh.writelines("\t".join(row) + "\n" for row in rows)
    return len(rows)


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

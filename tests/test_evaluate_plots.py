"""Plots: the figures show what they claim (labels, curves, cell values) and are written under fixed names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import imread

import bioseq.evaluate.plots as plots
from bioseq.errors import EmptyInputError, InputFormatError
from bioseq.evaluate.plots import (
    confusion_matrix_figure,
    learning_curves_figure,
    plot_all,
    plot_learning_curves,
    pr_figure,
    read_history,
    roc_figure,
)
from bioseq.evaluate.report import EvalData, metrics_from_labels

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DPI = 150  # plots._save


def png_size(path):
    """(width, height) in pixels of a PNG, read back with matplotlib."""
    assert path.read_bytes().startswith(PNG_MAGIC), path
    height, width = imread(path).shape[:2]
    return width, height


def texts(ax):
    return [t.get_text() for t in ax.texts]


def legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def curves(ax):
    """Lines with a legend entry that are not reference lines (chance, kept epoch)."""
    return [ln for ln in ax.lines if not ln.get_label().startswith(("_", "chance", "kept"))]


def make_data(labels, truth, probs) -> EvalData:
    probs = np.asarray(probs, dtype=float)
    predicted = [(labels[int(i)],) for i in probs.argmax(axis=1)]
    return EvalData(
        ids=[f"r{i}" for i in range(len(truth))],
        y_true=[(t,) if isinstance(t, str) else tuple(t) for t in truth],
        predicted=predicted,
        probs=probs,
        labels=list(labels),
    )


def write_log(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


LOG = [
    {
        "epoch": 1,
        "train_loss": 1.0,
        "valid_loss": 0.9,
        "valid_accuracy": 0.5,
        "valid_mcc": 0.1,
        "lr": 1e-3,
        "elapsed_s": 1.0,
    },
    {
        "epoch": 2,
        "train_loss": 0.7,
        "valid_loss": 0.6,
        "valid_accuracy": 0.7,
        "valid_mcc": 0.4,
        "lr": 1e-3,
        "elapsed_s": 2.0,
    },
    {
        "epoch": 3,
        "train_loss": 0.5,
        "valid_loss": 0.65,
        "valid_accuracy": 0.72,
        "valid_mcc": 0.45,
        "lr": 5e-4,
        "elapsed_s": 3.0,
    },
]


# truth a b c a b c; predicted (argmax) a b c b b a
LABELS3 = ["a", "b", "c"]
TRUTH3 = ["a", "b", "c", "a", "b", "c"]
PROBS3 = [[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.4, 0.1, 0.5], [0.3, 0.5, 0.2], [0.1, 0.8, 0.1], [0.6, 0.1, 0.3]]
Y3 = np.eye(3, dtype=int)[[0, 1, 2, 0, 1, 2]]


def test_plot_all_writes_only_the_declared_png_and_svg_files_at_150_dpi(tmp_path):
    rng = np.random.default_rng(0)
    labels = ["EI", "IE", "N"]
    truth = [labels[i % 3] for i in range(30)]
    data = make_data(labels, truth, rng.dirichlet(np.ones(3), size=30))
    log = write_log(tmp_path / "train.jsonl", LOG)
    out = tmp_path / "plots"
    written = plot_all(data, out, history=log, formats=("png", "svg"))
    expected = ["confusion_matrix", "learning_curves", "pr", "roc"]
    names = sorted([f"{n}.png" for n in expected] + [f"{n}.svg" for n in expected])
    assert sorted(p.name for p in written) == names
    # nothing but the declared outputs (no temporary files left behind)
    assert sorted(p.name for p in out.iterdir()) == names
    for name in expected:
        assert (out / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    assert png_size(out / "roc.png") == (5.5 * DPI, 5 * DPI)
    assert png_size(out / "pr.png") == (5.5 * DPI, 5 * DPI)
    assert png_size(out / "learning_curves.png") == (11 * DPI, 4.2 * DPI)


def test_confusion_matrix_figure_shows_counts_and_row_normalised_cells_truth_by_prediction():
    fig = confusion_matrix_figure(metrics_from_labels(TRUTH3, PROBS3, LABELS3))
    counts, norm = fig.axes[:2]  # then the two colour bars
    assert len(fig.axes) == 4
    assert (counts.get_title(), norm.get_title()) == ("Counts", "Row-normalised (recall)")
    for ax in (counts, norm):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted label", "True label")
        assert [t.get_text() for t in ax.get_xticklabels()] == LABELS3
        assert [t.get_text() for t in ax.get_yticklabels()] == LABELS3
    # row-major cells: rows = truth, columns = predicted
    assert texts(counts) == ["1", "1", "0", "0", "2", "0", "1", "0", "1"]
    assert texts(norm) == ["0.50", "0.50", "0.00", "0.00", "1.00", "0.00", "0.50", "0.00", "0.50"]
    assert fig.get_suptitle() == "Confusion matrix (n=6, accuracy=0.667)"


def test_multilabel_confusion_figure_has_one_tn_fp_fn_tp_panel_per_label():
    truth = [("a", "b"), ("a",), (), ("b", "c"), ("c",)]
    probs = [[0.9, 0.8, 0.1], [0.6, 0.1, 0.2], [0.2, 0.3, 0.6], [0.1, 0.9, 0.7], [0.3, 0.2, 0.8]]
    fig = confusion_matrix_figure(metrics_from_labels(truth, probs, LABELS3))
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == LABELS3
    # per label [[tn, fp], [fn, tp]] at threshold 0.5; c: row 3 is a false positive
    assert texts(panels[0]) == ["3", "0", "0", "2"]
    assert texts(panels[1]) == ["3", "0", "0", "2"]
    assert texts(panels[2]) == ["2", "1", "0", "2"]
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["absent", "present"]
    assert fig.get_suptitle() == "Per-label confusion matrices (n=5)"


def test_roc_figure_draws_one_curve_per_class_with_its_auc_and_the_chance_diagonal():
    ax = roc_figure(Y3, np.array(PROBS3), LABELS3).axes[0]
    # a: positives .7 .3 against negatives .2 .4 .1 .6 win 6 of 8 pairs; b and c are separated
    assert legend(ax) == ["a (AUC = 0.750)", "b (AUC = 1.000)", "c (AUC = 1.000)", "chance"]
    assert len(curves(ax)) == 3
    for line in curves(ax):  # every ROC curve runs from (0, 0) to (1, 1)
        x, y = line.get_data()
        assert (x[0], y[0], x[-1], y[-1]) == (0, 0, 1, 1)
    assert ax.get_xlabel() == "False positive rate (1 - specificity)"
    assert ax.get_ylabel() == "True positive rate (sensitivity)"
    assert ax.get_title() == "ROC curves, one-vs-rest (n=6)"


def test_roc_figure_skips_a_class_without_positives_and_names_it_in_the_title():
    y = np.eye(3, dtype=int)[[0, 1, 0, 1]]
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]])
    ax = roc_figure(y, probs, LABELS3).axes[0]
    assert [ln.get_label().split(" ")[0] for ln in curves(ax)] == ["a", "b"]
    assert ax.get_title().endswith("skipped (no positives or negatives): c")


def test_pr_figure_draws_one_step_curve_and_one_prevalence_line_per_class():
    ax = pr_figure(Y3, np.array(PROBS3), LABELS3).axes[0]
    m = metrics_from_labels(TRUTH3, PROBS3, LABELS3)
    assert legend(ax) == [f"{lab} (AP = {m['per_class'][lab]['auprc']:.3f})" for lab in LABELS3]
    assert len(curves(ax)) == 3
    prevalences = [ln.get_ydata()[0] for ln in ax.lines if ln.get_label() == "_nolegend_"]
    assert prevalences == pytest.approx([1 / 3] * 3)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Recall (sensitivity)", "Precision (positive predictive value)")


def test_plot_all_binary_draws_roc_and_pr_of_the_positive_class_only(tmp_path, monkeypatch):
    drawn = {}
    for name in ("roc_figure", "pr_figure"):
        original = getattr(plots, name)

        def spy(*args, _original=original, _name=name, **kw):
            drawn[_name] = _original(*args, **kw)
            return drawn[_name]

        monkeypatch.setattr(plots, name, spy)
    data = make_data(
        ["AMP", "nonAMP"], ["AMP", "nonAMP", "AMP", "nonAMP"], [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]]
    )
    written = plot_all(data, tmp_path)
    assert sorted(p.name for p in written) == ["confusion_matrix.png", "pr.png", "roc.png"]
    roc_ax, pr_ax = drawn["roc_figure"].axes[0], drawn["pr_figure"].axes[0]
    assert legend(roc_ax) == ["AMP (AUC = 0.750)", "chance"]
    assert roc_ax.get_title() == "ROC curve, positive class 'AMP' (n=4)"
    assert legend(pr_ax) == ["AMP (AP = 0.833)", "chance (0.50)"]


def test_plot_all_with_only_negatives_in_the_truth_writes_curve_figures_that_say_what_was_skipped(
    tmp_path, monkeypatch
):
    drawn = {}
    monkeypatch.setattr(plots, "roc_figure", lambda *a, **kw: drawn.setdefault("roc", roc_figure(*a, **kw)))
    data = make_data(["AMP", "nonAMP"], ["nonAMP"] * 4, [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7]])
    metrics = metrics_from_labels(data.y_true, data.probs, data.labels)
    written = plot_all(data, tmp_path, metrics=metrics)
    assert sorted(p.name for p in written) == ["confusion_matrix.png", "pr.png", "roc.png"]
    assert png_size(tmp_path / "roc.png") == (5.5 * DPI, 5 * DPI)
    ax = drawn["roc"].axes[0]
    assert curves(ax) == []
    assert ax.get_title().endswith("skipped (no positives or negatives): AMP")


def test_learning_curves_figure_draws_losses_and_each_valid_metric_and_marks_the_lowest_valid_loss_epoch():
    loss_ax, metric_ax = learning_curves_figure(LOG).axes
    assert legend(loss_ax) == ["train", "validation", "kept: epoch 2 (lowest validation loss)"]
    assert legend(metric_ax) == ["accuracy", "mcc", "kept: epoch 2 (lowest validation loss)"]
    train = next(ln for ln in loss_ax.lines if ln.get_label() == "train")
    assert list(train.get_xdata()) == [1, 2, 3] and list(train.get_ydata()) == [1.0, 0.7, 0.5]
    mcc = next(ln for ln in metric_ax.lines if ln.get_label() == "mcc")
    assert list(mcc.get_ydata()) == [0.1, 0.4, 0.45]
    assert (loss_ax.get_ylabel(), metric_ax.get_ylabel()) == ("Loss", "Validation metric")
    assert (loss_ax.get_title(), metric_ax.get_title()) == ("Loss", "Validation metrics")


def test_learning_curves_figure_marks_the_last_epoch_the_trainer_flagged_best():
    rows = [{**LOG[0], "best": True}, {**LOG[1], "best": False}, {**LOG[2], "best": True}]
    loss_ax, _ = learning_curves_figure(rows).axes
    assert legend(loss_ax)[-1] == "kept: epoch 3 (flagged best by the trainer)"  # not epoch 2, the lowest valid loss


def test_read_history_last_entry_per_epoch_wins(tmp_path):
    # a resumed run appends epoch 3 again
    rows = [*LOG, {**LOG[2], "valid_loss": 0.5}]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    hist = read_history(log)
    assert [r["epoch"] for r in hist] == [1, 2, 3]
    assert hist[-1]["valid_loss"] == 0.5


def test_read_history_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(LOG[0]) + "\n{not json\n")
    with pytest.raises(InputFormatError) as exc:
        read_history(bad)
    assert exc.value.line == 2 and "bad.jsonl:2" in str(exc.value)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(EmptyInputError):
        read_history(empty)
    with pytest.raises(InputFormatError, match="missing.jsonl"):
        read_history(tmp_path / "missing.jsonl")


def test_learning_curves_of_an_empty_log_still_writes_a_figure_that_says_so(tmp_path):
    # kmer-linear is fitted in closed form: its log may hold no epoch, but the
    # workflow declares learning_curves.png for every model.
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    (path,) = plot_learning_curves(empty, tmp_path / "learning_curves")
    assert path.name == "learning_curves.png"
    assert png_size(path) == (6 * DPI, 3 * DPI)
    (ax,) = learning_curves_figure([]).axes
    assert texts(ax) == ["no training epoch logged\n(e.g. a model fitted in closed form)"]


def test_learning_curves_without_validation_metrics_say_so_in_the_metric_panel():
    rows = [{"epoch": e, "train_loss": 1 / e} for e in (1, 2)]
    loss_ax, metric_ax = learning_curves_figure(rows).axes
    assert legend(loss_ax) == ["train"]
    assert len(metric_ax.lines) == 0 and texts(metric_ax) == ["no validation metric logged"]


def test_a_one_row_history_is_no_curve_and_the_figure_says_why():
    # kmer-linear logs one record (fitted once, in closed form): a one-point "curve" is noise,
    # so the figure says why there is none and shows the validation numbers instead.
    row = {"epoch": 1, "train_loss": 0.3, "valid_loss": 0.41, "valid_mcc": 0.62, "lr": None, "best": True}
    (ax,) = learning_curves_figure([row]).axes
    assert not ax.lines
    (text,) = texts(ax)
    assert "no learning curve" in text and "closed-form" in text
    assert "loss 0.41" in text and "mcc 0.62" in text


def test_learning_curves_caption_names_the_criterion_the_plot_marks():
    # The trainer keeps (and flags `best`) the epoch of the best validation selection metric (MCC by
    # default), and the plot marks that epoch: the caption must not say "lowest validation loss".
    from pathlib import Path

    import bioseq.workflow

    caption = (bioseq.workflow.workflow_dir() / "report" / "learning_curves.rst").read_text()
    assert "lowest validation loss)" not in caption
    assert "selection metric" in caption and "MCC" in caption
    rows = [{**LOG[0], "best": True}, {**LOG[1], "best": False}, {**LOG[2], "best": True}]
    loss_ax, _ = learning_curves_figure(rows).axes
    assert "flagged best" in legend(loss_ax)[-1]
    assert Path(bioseq.workflow.__file__).parent == bioseq.workflow.workflow_dir()

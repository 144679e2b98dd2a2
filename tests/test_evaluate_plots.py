"""Plots are written under fixed names, are valid images, and survive edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bioseq.errors import EmptyInputError, InputFormatError
from bioseq.evaluate.plots import plot_all, plot_confusion_matrix, plot_learning_curves, read_history
from bioseq.evaluate.report import EvalData, metrics_from_labels

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000, path
    assert data.startswith(PNG_MAGIC), path


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


def test_plot_all_multiclass_with_history(tmp_path):
    rng = np.random.default_rng(0)
    labels = ["EI", "IE", "N"]
    truth = [labels[i % 3] for i in range(30)]
    probs = rng.dirichlet(np.ones(3), size=30)
    data = make_data(labels, truth, probs)
    log = write_log(tmp_path / "train.jsonl", LOG)
    out = tmp_path / "plots"
    written = plot_all(data, out, history=log, formats=("png", "svg"))
    names = sorted(p.name for p in written)
    expected = ["confusion_matrix", "learning_curves", "pr", "roc"]
    assert names == sorted([f"{n}.png" for n in expected] + [f"{n}.svg" for n in expected])
    for name in expected:
        assert_png(out / f"{name}.png")
        assert (out / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    # nothing but the declared outputs (no temporary files left behind)
    assert sorted(p.name for p in out.iterdir()) == names


def test_plot_all_binary_and_class_without_positives(tmp_path):
    # Only negatives in the truth: curves cannot be drawn, files must still appear.
    data = make_data(["AMP", "nonAMP"], ["nonAMP"] * 4, [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7]])
    metrics = metrics_from_labels(data.y_true, data.probs, data.labels)
    written = plot_all(data, tmp_path, metrics=metrics)
    assert sorted(p.name for p in written) == ["confusion_matrix.png", "pr.png", "roc.png"]
    for p in written:
        assert_png(p)


def test_multilabel_confusion_grid(tmp_path):
    truth = [("a", "b"), ("a",), (), ("b", "c"), ("c",)]
    probs = [[0.9, 0.8, 0.1], [0.6, 0.1, 0.2], [0.2, 0.3, 0.1], [0.1, 0.9, 0.7], [0.3, 0.2, 0.8]]
    metrics = metrics_from_labels(truth, probs, ["a", "b", "c"])
    (path,) = plot_confusion_matrix(metrics, tmp_path / "confusion_matrix")
    assert path.name == "confusion_matrix.png"
    assert_png(path)


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


def test_learning_curves_of_an_empty_log_still_writes_the_file(tmp_path):
    # kmer-linear is fitted in closed form: its log may hold no epoch, but the
    # workflow declares learning_curves.png for every model.
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    (path,) = plot_learning_curves(empty, tmp_path / "learning_curves")
    assert_png(path)


def test_learning_curves_without_validation_metrics(tmp_path):
    rows = [{"epoch": e, "train_loss": 1 / e} for e in (1, 2)]
    (path,) = plot_learning_curves(rows, tmp_path / "learning_curves")
    assert_png(path)

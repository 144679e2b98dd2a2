"""Metrics against hand-computed cases, id matching, and report tables."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from bioseq.errors import DuplicateIdError, InputFormatError, LabelError
from bioseq.evaluate.metrics import compute_metrics, guess_positive_label, validation_metrics
from bioseq.evaluate.report import detect_task, evaluate, load_eval_data, metrics_from_labels
from bioseq.evaluate.tables import (
    compare_table_markdown,
    metrics_rows,
    metrics_table_markdown,
    summary_line,
    write_metrics_tsv,
)

# 3-class case, verifiable by hand.
# truth:     a  a  b  c  c  b
# predicted: a  b  b  a  c  b      (argmax of the rows below)
LABELS3 = ["a", "b", "c"]
TRUTH3 = ["a", "a", "b", "c", "c", "b"]
PROBS3 = [
    [0.8, 0.1, 0.1],
    [0.3, 0.6, 0.1],
    [0.2, 0.7, 0.1],
    [0.5, 0.2, 0.3],
    [0.1, 0.1, 0.8],
    [0.1, 0.8, 0.1],
]


def test_multiclass_hand_computed():
    m = metrics_from_labels(TRUTH3, PROBS3, LABELS3)
    assert m["task"] == "multiclass"
    assert m["n"] == 6
    # rows = truth, columns = predicted
    assert m["confusion_matrix"] == {"labels": LABELS3, "counts": [[1, 1, 0], [0, 2, 0], [1, 0, 1]]}
    assert m["accuracy"] == pytest.approx(4 / 6)
    pc = m["per_class"]
    assert (pc["a"]["precision"], pc["a"]["recall"], pc["a"]["f1"]) == pytest.approx((1 / 2, 1 / 2, 1 / 2))
    assert (pc["b"]["precision"], pc["b"]["recall"], pc["b"]["f1"]) == pytest.approx((2 / 3, 1.0, 0.8))
    assert (pc["c"]["precision"], pc["c"]["recall"], pc["c"]["f1"]) == pytest.approx((1.0, 1 / 2, 2 / 3))
    assert [pc[k]["support"] for k in LABELS3] == [2, 2, 2]
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # Gorodkin's multiclass MCC: (c*s - sum p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))
    # c=4 correct, s=6, predicted counts p=(2,3,1), true counts t=(2,2,2).
    assert m["mcc"] == pytest.approx((4 * 6 - (4 + 6 + 2)) / math.sqrt((36 - 14) * (36 - 12)))
    # class a one-vs-rest: positives score .8, .3; negatives .2, .5, .1, .1.
    # pairs won: .8 beats all 4, .3 beats 3 of 4 (.2, .1, .1) -> 7/8.
    assert pc["a"]["auroc"] == pytest.approx(7 / 8)
    # ranking for a: .8(P) .5(N) .3(P) ... -> AP = 0.5*1 + 0.5*(2/3)
    assert pc["a"]["auprc"] == pytest.approx(0.5 + 1 / 3)
    assert pc["b"]["auroc"] == pytest.approx(1.0) and pc["c"]["auroc"] == pytest.approx(1.0)
    assert m["auroc_macro"] == pytest.approx((7 / 8 + 1 + 1) / 3)
    assert m["notes"] == []
    # JSON-serialisable without numpy types or NaN
    json.dumps(m, allow_nan=False)


def test_predicted_column_wins_over_argmax():
    # The model's own predicted labels carry its thresholds: use them, not argmax.
    predicted = ["a", "a", "b", "c", "c", "b"]  # all correct
    m = metrics_from_labels(TRUTH3, PROBS3, LABELS3, predicted=predicted)
    assert m["accuracy"] == 1.0
    assert m["mcc"] == pytest.approx(1.0)
    # ranking metrics still come from the probabilities
    assert m["per_class"]["a"]["auroc"] == pytest.approx(7 / 8)


def test_binary_hand_computed_and_positive_class():
    # truth AMP nonAMP AMP nonAMP; predicted (argmax) AMP nonAMP nonAMP nonAMP
    m = metrics_from_labels(
        ["AMP", "nonAMP", "AMP", "nonAMP"],
        [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]],
        ["AMP", "nonAMP"],
    )
    assert m["task"] == "binary"
    assert m["positive_label"] == "AMP"  # "nonAMP" names the absence of "AMP"
    assert m["sensitivity"] == pytest.approx(0.5)  # tp=1 fn=1
    assert m["specificity"] == pytest.approx(1.0)  # tn=2 fp=0
    assert m["precision"] == pytest.approx(1.0)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["auroc"] == pytest.approx(3 / 4)
    assert m["auprc"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert m["confusion_matrix"]["counts"] == [[1, 1], [0, 2]]
    flipped = metrics_from_labels(
        ["AMP", "nonAMP", "AMP", "nonAMP"],
        [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]],
        ["AMP", "nonAMP"],
        pos_label="nonAMP",
    )
    assert flipped["sensitivity"] == pytest.approx(1.0)
    assert flipped["specificity"] == pytest.approx(0.5)
    with pytest.raises(LabelError, match="pos_label"):
        metrics_from_labels(["x", "y"], [[0.6, 0.4], [0.2, 0.8]], ["x", "y"], pos_label="z")


@pytest.mark.parametrize(
    ("labels", "positive", "noted"),
    [
        (["AMP", "nonAMP"], "AMP", False),
        (["enhancer", "non_enhancer"], "enhancer", False),
        (["non_promoter", "promoter"], "promoter", False),
        (["1", "0"], "1", False),
        (["negative", "positive"], "positive", False),
        (["cat", "dog"], "dog", True),
    ],
)
def test_guess_positive_label(labels, positive, noted):
    label, note = guess_positive_label(labels)
    assert label == positive
    assert (note is not None) == noted


def test_multilabel_hand_computed():
    truth = [("a", "b"), ("a",), (), ("b",)]
    probs = [[0.9, 0.8], [0.6, 0.1], [0.2, 0.3], [0.7, 0.9]]
    m = metrics_from_labels(truth, probs, ["a", "b"])  # threshold 0.5: row 4 predicts a wrongly
    assert m["task"] == "multilabel"
    assert m["subset_accuracy"] == pytest.approx(3 / 4)
    assert m["hamming_loss"] == pytest.approx(1 / 8)
    assert m["jaccard"] == pytest.approx((1 + 1 + 1 + 0.5) / 4)  # empty vs empty counts as 1
    # a: tp=2 fp=1 fn=0 tn=1 -> F1 0.8; b: perfect -> F1 1
    a = m["per_class"]["a"]
    assert (a["tp"], a["fp"], a["fn"], a["tn"]) == (2, 1, 0, 1)
    assert m["macro_f1"] == pytest.approx((0.8 + 1.0) / 2)
    assert m["micro_f1"] == pytest.approx(2 * 4 / (2 * 4 + 1))  # tp=4 fp=1 fn=0
    assert a["auroc"] == pytest.approx(0.75)
    assert "confusion_matrix" not in m
    json.dumps(m, allow_nan=False)


def test_multilabel_predicted_cells_strings():
    truth = [("a", "b"), ("a",), (), ("b",)]
    probs = [[0.9, 0.8], [0.6, 0.1], [0.2, 0.3], [0.7, 0.9]]
    m = metrics_from_labels(truth, probs, ["a", "b"], predicted=["a,b", "a", "", "b"])
    assert m["subset_accuracy"] == 1.0


def test_detect_task():
    assert detect_task([("a",), ("b",)], 2) == "binary"
    assert detect_task([("a",), ("b",)], 3) == "multiclass"
    assert detect_task([("a", "b"), ("b",)], 3) == "multilabel"
    assert detect_task([("a",), ("b",)], 3, predicted=[("a", "c"), ("b",)]) == "multilabel"
    assert detect_task([("a",), ("b",)], 3, predicted=[(), ("b",)]) == "multilabel"


def test_class_without_positives_is_skipped_with_a_note():
    truth = ["a", "b", "a", "b"]
    probs = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]]
    m = metrics_from_labels(truth, probs, LABELS3)
    assert m["per_class"]["c"]["auroc"] is None
    assert m["per_class"]["c"]["auprc"] is None
    assert any("'c'" in note and "no positive" in note for note in m["notes"])
    assert m["auroc_macro"] == pytest.approx(np.mean([m["per_class"][k]["auroc"] for k in "ab"]))
    json.dumps(m, allow_nan=False)


def test_unknown_or_inconsistent_labels():
    with pytest.raises(LabelError, match="'d'") as exc:
        metrics_from_labels(["a", "d"], [[0.5, 0.3, 0.2]] * 2, LABELS3, ids=["r1", "r2"])
    assert exc.value.record == "r2"
    with pytest.raises(LabelError, match="exactly one truth label") as exc:
        metrics_from_labels([("a", "b"), ("a",)], [[0.5, 0.3, 0.2]] * 2, LABELS3, "multiclass", ids=["r1", "r2"])
    assert exc.value.record == "r1"
    with pytest.raises(InputFormatError, match="shape"):
        metrics_from_labels(["a"], [[0.5, 0.5]], LABELS3)
    with pytest.raises(InputFormatError, match="NaN") as exc:
        metrics_from_labels(["a", "b"], [[0.5, 0.3, 0.2], [np.nan, 0.5, 0.5]], LABELS3, ids=["r1", "r2"])
    assert exc.value.record == "r2"
    with pytest.raises(LabelError, match="binary needs exactly 2"):
        metrics_from_labels(["a"], [[0.5, 0.3, 0.2]], LABELS3, "binary")


# --- joining files -------------------------------------------------------------


def write_predictions(path, ids, predicted, labels, probs):
    with open(path, "w") as fh:
        fh.write("\t".join(["id", "predicted", *(f"prob_{lab}" for lab in labels)]) + "\n")
        for i, p, row in zip(ids, predicted, probs, strict=True):
            fh.write("\t".join([i, p, *(f"{x:.6f}" for x in row)]) + "\n")
    return path


def write_fasta(path, records):
    with open(path, "w") as fh:
        for rid, label in records:
            fh.write(f">{rid} label={label}\nACGTACGTAC\n")
    return path


@pytest.fixture
def files3(tmp_path):
    ids = [f"s{i}" for i in range(6)]
    predicted = [LABELS3[int(np.argmax(r))] for r in PROBS3]
    pred = write_predictions(tmp_path / "pred.tsv", ids, predicted, LABELS3, PROBS3)
    truth = write_fasta(tmp_path / "truth.fa", list(zip(ids, TRUTH3, strict=True)))
    return pred, truth, ids


def test_evaluate_files_matches_pure_function(files3):
    pred, truth, _ = files3
    m = evaluate(pred, truth)
    pure = metrics_from_labels(TRUTH3, PROBS3, LABELS3)
    for key in ("accuracy", "macro_f1", "mcc", "auroc_macro", "confusion_matrix", "per_class"):
        assert m[key] == pytest.approx(pure[key]) if isinstance(pure[key], float) else m[key] == pure[key]
    assert m["inputs"]["predictions"] == str(pred)
    assert m["inputs"]["n_truth_without_prediction"] == 0


def test_truth_order_does_not_matter(tmp_path, files3):
    pred, _, ids = files3
    truth = write_fasta(tmp_path / "shuffled.fa", list(zip(ids, TRUTH3, strict=True))[::-1])
    assert evaluate(pred, truth)["accuracy"] == pytest.approx(4 / 6)


def test_missing_predictions_name_file_and_ids(tmp_path, files3):
    pred, _, ids = files3
    truth = write_fasta(tmp_path / "more.fa", [*zip(ids, TRUTH3, strict=True), ("extra1", "a"), ("extra2", "b")])
    with pytest.raises(LabelError) as exc:
        evaluate(pred, truth)
    msg = str(exc.value)
    assert "pred.tsv" in msg and "'extra1'" in msg and "'extra2'" in msg and "2 of 8" in msg
    m = evaluate(pred, truth, allow_missing=True)
    assert m["n"] == 6
    assert m["inputs"]["n_truth_without_prediction"] == 2
    assert any("dropped" in note for note in m["notes"])


def test_predictions_without_truth_name_file_and_ids(tmp_path, files3):
    pred, _, ids = files3
    truth = write_fasta(tmp_path / "fewer.fa", list(zip(ids, TRUTH3, strict=True))[:4])
    with pytest.raises(LabelError) as exc:
        evaluate(pred, truth)
    msg = str(exc.value)
    assert "fewer.fa" in msg and "'s4'" in msg and "'s5'" in msg
    m = evaluate(pred, truth, allow_missing=True)
    assert m["n"] == 4
    assert m["inputs"]["n_predictions_without_truth"] == 2


def test_no_shared_id_is_an_error_even_with_allow_missing(tmp_path, files3):
    pred, _, _ = files3
    truth = write_fasta(tmp_path / "other.fa", [("x1", "a"), ("x2", "b")])
    with pytest.raises(LabelError, match="no id"):
        evaluate(pred, truth, allow_missing=True)


def test_unknown_truth_label_names_record_and_label(tmp_path, files3):
    pred, _, ids = files3
    labels = list(TRUTH3)
    labels[3] = "Z"
    truth = write_fasta(tmp_path / "unknown.fa", list(zip(ids, labels, strict=True)))
    with pytest.raises(LabelError) as exc:
        evaluate(pred, truth)
    assert exc.value.record == "s3"
    assert "'Z'" in str(exc.value) and "unknown.fa" in str(exc.value)


def test_duplicate_prediction_id(tmp_path):
    pred = write_predictions(tmp_path / "dup.tsv", ["s0", "s0"], ["a", "a"], LABELS3, PROBS3[:2])
    truth = write_fasta(tmp_path / "t.fa", [("s0", "a")])
    with pytest.raises((DuplicateIdError, InputFormatError), match="s0"):
        load_eval_data(pred, truth)


def test_label_table_as_truth_source_and_as_truth(tmp_path, files3):
    pred, _, ids = files3
    unlabelled = tmp_path / "plain.fa"
    unlabelled.write_text("".join(f">{i}\nACGTACGT\n" for i in ids))
    table = tmp_path / "labels.tsv"
    # the table may cover other splits as well
    table.write_text(
        "id\tlabel\n" + "".join(f"{i}\t{lab}\n" for i, lab in zip(ids, TRUTH3, strict=True)) + "other\ta\n"
    )
    assert evaluate(pred, unlabelled, labels=table)["accuracy"] == pytest.approx(4 / 6)
    m = evaluate(pred, table)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["n"] == 6


# --- tables ------------------------------------------------------------------


def test_tables(tmp_path):
    m = metrics_from_labels(TRUTH3, PROBS3, LABELS3)
    md = metrics_table_markdown(m)
    assert "| accuracy | 0.6667 |" in md
    assert "| b | 0.6667 | 1.0000 | 0.8000 | 2 |" in md
    out = tmp_path / "m.tsv"
    write_metrics_tsv(m, out)
    rows = list(csv.reader(out.open(), delimiter="\t"))
    assert rows[0] == ["metric", "label", "value"]
    assert ["accuracy", "", str(m["accuracy"])] in rows
    assert ["f1", "b", "0.8"] in rows
    assert len(rows) - 1 == len(metrics_rows(m))
    binary = metrics_from_labels(["x", "y"], [[0.7, 0.3], [0.2, 0.8]], ["x", "y"], pos_label="y")
    comp = compare_table_markdown({"cnn": m, "lin": binary})
    assert comp.splitlines()[0].startswith("| run | task | n | accuracy |")
    assert "| lin | binary | 2 | 1.0000 |" in comp
    assert "n/a" in comp  # multiclass run has no sensitivity
    assert summary_line(m).startswith("multiclass, n=6: accuracy 0.6667, macro-F1 0.6556, MCC 0.5222")


# --- one computation: array level, label level, trainer, bioseq evaluate ------------

# 3 classes, class "c" (index 2) absent from the truth; probabilities exact at 6 decimals.
TRUTH_AB = ["a", "b", "a", "b", "a", "b"]
PROBS_AB = [
    [0.6, 0.3, 0.1],
    [0.2, 0.5, 0.3],
    [0.3, 0.4, 0.3],
    [0.5, 0.2, 0.3],
    [0.7, 0.1, 0.2],
    [0.1, 0.1, 0.8],
]


def test_compute_metrics_of_class_indices_equals_metrics_from_labels():
    y = np.array([LABELS3.index(t) for t in TRUTH3])
    assert compute_metrics("multiclass", y, np.array(PROBS3), labels=LABELS3) == metrics_from_labels(
        TRUTH3, PROBS3, LABELS3
    )


def test_absent_class_gets_null_auroc_and_macro_auroc_averages_the_classes_present():
    from sklearn.metrics import average_precision_score, roc_auc_score

    m = metrics_from_labels(TRUTH_AB, PROBS_AB, LABELS3)
    y_bin = np.array([[t == lab for lab in LABELS3] for t in TRUTH_AB], dtype=int)
    P = np.array(PROBS_AB)
    assert m["per_class"]["c"]["auroc"] is None and m["per_class"]["c"]["auprc"] is None
    assert any("'c' has no positive" in note for note in m["notes"])
    # scikit-learn's macro average over the columns where the score is defined
    assert m["auroc_macro"] == pytest.approx(roc_auc_score(y_bin[:, :2], P[:, :2], average="macro"))
    assert m["auprc_macro"] == pytest.approx(average_precision_score(y_bin[:, :2], P[:, :2], average="macro"))
    # class a: positives .6 .3 .7 vs negatives .2 .5 .1 -> 8 of 9 pairs won
    assert m["per_class"]["a"]["auroc"] == pytest.approx(8 / 9)


def test_validation_metrics_are_the_report_values_under_the_trainer_keys():
    y = np.array([LABELS3.index(t) for t in TRUTH_AB])
    v = validation_metrics("multiclass", y, np.array(PROBS_AB))
    m = metrics_from_labels(TRUTH_AB, PROBS_AB, LABELS3)
    assert list(v) == ["mcc", "accuracy", "macro_f1", "auroc"]
    assert v == pytest.approx(
        {"mcc": m["mcc"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "auroc": m["auroc_macro"]}
    )
    assert math.isfinite(v["auroc"])  # the absent class no longer makes the whole AUROC NaN


def test_validation_metrics_multilabel_use_the_per_label_thresholds():
    truth = [("a", "b"), ("a",), (), ("b",)]
    probs = np.array([[0.9, 0.8], [0.6, 0.1], [0.2, 0.3], [0.7, 0.9]])
    y = np.array([[1, 1], [1, 0], [0, 0], [0, 1]])
    v = validation_metrics("multilabel", y, probs, [0.8, 0.5])  # 0.8 for a: row 4 no longer predicts a
    m = metrics_from_labels(truth, probs, ["a", "b"], predicted=["a,b", "", "", "b"])
    assert list(v) == ["macro_auprc", "macro_auroc", "macro_f1", "micro_f1"]
    assert v == pytest.approx(
        {
            "macro_auprc": m["auprc_macro"],
            "macro_auroc": m["auroc_macro"],
            "macro_f1": m["macro_f1"],
            "micro_f1": m["micro_f1"],
        }
    )
    assert v["macro_f1"] == pytest.approx((2 / 3 + 1.0) / 2)  # a: tp=1 fn=1 -> F1 2/3; b perfect


def test_validation_metrics_of_non_finite_probabilities_are_all_nan():
    v = validation_metrics("binary", np.array([0, 1]), np.array([[np.nan, np.nan], [0.5, 0.5]]))
    assert list(v) == ["mcc", "accuracy", "macro_f1", "auroc"]
    assert all(math.isnan(x) for x in v.values())


def test_trainer_metrics_equal_bioseq_evaluate_on_the_same_predictions_with_an_absent_class(tmp_path):
    ids = [f"v{i}" for i in range(len(TRUTH_AB))]
    predicted = [LABELS3[int(np.argmax(r))] for r in PROBS_AB]
    pred = write_predictions(tmp_path / "pred.tsv", ids, predicted, LABELS3, PROBS_AB)
    truth = write_fasta(tmp_path / "valid.fa", list(zip(ids, TRUTH_AB, strict=True)))
    report = evaluate(pred, truth)
    trainer = validation_metrics("multiclass", np.array([LABELS3.index(t) for t in TRUTH_AB]), np.array(PROBS_AB))
    assert trainer["auroc"] == pytest.approx(report["auroc_macro"])
    for key in ("mcc", "accuracy", "macro_f1"):
        assert trainer[key] == pytest.approx(report[key]), key


def test_bundle_validation_metrics_equal_bioseq_evaluate_of_its_predictions(tmp_path):
    """End to end: kmer-linear bundle -> bioseq predict on its validation set -> bioseq evaluate."""
    import random

    import bioseq
    from bioseq.cli import main
    from bioseq.io.readers import SequenceItem

    rng = random.Random(0)
    motifs = {"a": "GATTACA", "b": "CCGGTTA", "c": "TTTAAAC"}

    def records(n, classes, prefix):
        out = []
        for i in range(n):
            lab = classes[i % len(classes)]
            seq = "".join(rng.choice("ACGT") for _ in range(40))
            p = rng.randrange(0, 33)
            out.append(SequenceItem(f"{prefix}{i}", seq[:p] + motifs[lab] + seq[p + 7 :], (lab,)))
        return out

    valid = records(30, "ab", "v")  # class c is absent from the validation set
    valid_fa = tmp_path / "valid.fa"
    valid_fa.write_text("".join(f">{r.id} label={r.labels[0]}\n{r.seq}\n" for r in valid))
    model_path = tmp_path / "m.safetensors"
    model = bioseq.train(records(90, "abc", "t"), valid=valid_fa, arch="kmer-linear", output=model_path, progress=False)
    assert model.task == "multiclass"
    assert main(["predict", str(model_path), str(valid_fa), "-o", str(tmp_path / "pred.tsv")]) == 0
    assert main(["evaluate", str(tmp_path / "pred.tsv"), "--truth", str(valid_fa), "-o", str(tmp_path / "m.json")]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    stored = model.metadata["metrics"]
    assert stored["auroc"] is not None
    assert stored["auroc"] == pytest.approx(report["auroc_macro"], abs=1e-5)  # table probabilities have 6 digits
    for key in ("mcc", "accuracy", "macro_f1"):
        assert stored[key] == pytest.approx(report[key], abs=1e-5), key

"""``bioseq evaluate`` round trip: prediction TSV + labelled FASTA -> metrics JSON, tables, plots."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from bioseq.cli import main

LABELS = ["EI", "IE", "N"]
# truth EI EI IE N N IE; predicted EI IE IE EI N IE -> 4/6 correct
ROWS = [
    ("s1", "EI", "EI", (0.8, 0.1, 0.1)),
    ("s2", "EI", "IE", (0.3, 0.6, 0.1)),
    ("s3", "IE", "IE", (0.2, 0.7, 0.1)),
    ("s4", "N", "EI", (0.5, 0.2, 0.3)),
    ("s5", "N", "N", (0.1, 0.1, 0.8)),
    ("s6", "IE", "IE", (0.1, 0.8, 0.1)),
]


@pytest.fixture
def inputs(tmp_path):
    pred = tmp_path / "predictions.tsv"
    with pred.open("w") as fh:
        fh.write("id\tpredicted\t" + "\t".join(f"prob_{lab}" for lab in LABELS) + "\n")
        for rid, _, predicted, probs in ROWS:
            fh.write(f"{rid}\t{predicted}\t" + "\t".join(f"{p:.4f}" for p in probs) + "\n")
    truth = tmp_path / "test.fa"
    truth.write_text("".join(f">{rid} label={lab}\nACGTNACGTT\n" for rid, lab, _, _ in ROWS))
    return pred, truth


def test_round_trip(tmp_path, inputs, capsys):
    pred, truth = inputs
    out = tmp_path / "out" / "metrics.json"
    log = tmp_path / "train.jsonl"
    log.write_text(
        "".join(
            json.dumps({"epoch": e, "train_loss": 1 / e, "valid_loss": 1.2 / e, "valid_accuracy": 0.3 * e}) + "\n"
            for e in (1, 2, 3)
        )
    )
    plots = tmp_path / "plots"
    rc = main(
        [
            "evaluate", str(pred), "--truth", str(truth), "-o", str(out),
            "--plots", str(plots), "--history", str(log),
            "--tsv", str(tmp_path / "metrics.tsv"), "--markdown", str(tmp_path / "metrics.md"),
        ]
    )  # fmt: skip
    assert rc == 0
    metrics = json.loads(out.read_text())
    assert metrics["task"] == "multiclass"
    assert metrics["n"] == 6
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["confusion_matrix"]["counts"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics["inputs"]["truth"] == str(truth)
    err = capsys.readouterr().err
    assert "accuracy 0.6667" in err and "macro-F1" in err and "MCC" in err
    for name in ("confusion_matrix", "roc", "pr", "learning_curves"):
        assert (plots / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    rows = list(csv.reader((tmp_path / "metrics.tsv").open(), delimiter="\t"))
    assert ["support", "N", "2"] in rows
    assert "| accuracy | 0.6667 |" in (tmp_path / "metrics.md").read_text()
    # no temporary files left beside the outputs
    assert [p.name for p in out.parent.iterdir()] == ["metrics.json"]


def test_missing_ids_exit_1_and_name_them(tmp_path, inputs, capsys):
    pred, truth = inputs
    more = tmp_path / "more.fa"
    more.write_text(truth.read_text() + ">lost_1 label=N\nACGT\n")
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(pred), "--truth", str(more), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "predictions.tsv" in err and "'lost_1'" in err and "--allow-missing" in err
    assert not out.exists()
    assert main(["evaluate", str(pred), "--truth", str(more), "-o", str(out), "--allow-missing"]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["n"] == 6 and metrics["inputs"]["n_truth_without_prediction"] == 1


def test_unknown_label_exit_1(tmp_path, inputs, capsys):
    pred, truth = inputs
    bad = tmp_path / "bad.fa"
    bad.write_text(truth.read_text().replace(">s5 label=N", ">s5 label=XX"))
    assert main(["evaluate", str(pred), "--truth", str(bad), "-o", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err
    assert "'s5'" in err and "'XX'" in err


def test_binary_pos_label_and_history_needs_plots(tmp_path, capsys):
    pred = tmp_path / "p.tsv"
    pred.write_text(
        "id\tpredicted\tprob_enhancer\tprob_non_enhancer\n"
        "a\tenhancer\t0.9\t0.1\nb\tnon_enhancer\t0.2\t0.8\nc\tnon_enhancer\t0.4\t0.6\n"
    )
    truth = tmp_path / "t.fa"
    truth.write_text(">a label=enhancer\nACGT\n>b label=non_enhancer\nACGT\n>c label=enhancer\nACGT\n")
    out = tmp_path / "m.json"
    assert main(["evaluate", str(pred), "--truth", str(truth), "-o", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["task"] == "binary" and m["positive_label"] == "enhancer"
    assert m["sensitivity"] == pytest.approx(0.5) and m["specificity"] == pytest.approx(1.0)
    assert main(["evaluate", str(pred), "--truth", str(truth), "-o", str(out), "--pos-label", "non_enhancer"]) == 0
    assert json.loads(out.read_text())["sensitivity"] == pytest.approx(1.0)
    capsys.readouterr()
    assert main(["evaluate", str(pred), "--truth", str(truth), "-o", str(out), "--history", "x.jsonl"]) == 1
    assert "--plots" in capsys.readouterr().err


def test_entry_point_help():
    # the installed console script knows the sub-command
    res = subprocess.run(
        [sys.executable, "-m", "bioseq", "evaluate", "--help"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert "--truth" in res.stdout and "--allow-missing" in res.stdout


def test_compare_tables_several_evaluations(tmp_path, inputs, capsys):
    pred, truth = inputs
    m1, m2 = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["evaluate", str(pred), "--truth", str(truth), "-o", str(m1)]) == 0
    binary = {"task": "binary", "n": 4, "accuracy": 0.75, "mcc": None, "auroc": 0.5}
    m2.write_text(json.dumps(binary))
    out = tmp_path / "cmp.tsv"
    argv = ["compare", f"splice/cnn/test={m1}", f"amp/lin/test={m2}", "--name-columns", "dataset,model,input"]
    assert main([*argv, "-o", str(out)]) == 0
    rows = list(csv.reader(out.open(), delimiter="\t"))
    assert rows[0][:7] == ["dataset", "model", "input", "task", "n", "accuracy", "macro_f1"]
    assert rows[1][:6] == ["splice", "cnn", "test", "multiclass", "6", "0.6667"]
    assert rows[2][:6] == ["amp", "lin", "test", "binary", "4", "0.7500"]
    assert rows[2][rows[0].index("mcc")] == "NA" and rows[1][rows[0].index("sensitivity")] == "NA"
    # a name with the wrong number of parts, a file that is no metrics file: errors naming them
    assert main(["compare", f"splice/cnn={m1}", "--name-columns", "dataset,model,input", "-o", str(out)]) == 1
    assert "splice/cnn" in capsys.readouterr().err
    (tmp_path / "x.json").write_text("[]")
    assert main(["compare", f"x={tmp_path / 'x.json'}", "-o", str(out)]) == 1
    assert "x.json" in capsys.readouterr().err

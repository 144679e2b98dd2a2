"""The train / predict / info sub-commands, run in-process through bioseq.cli.main."""

from __future__ import annotations

import json
import random

import pytest
import torch

import bioseq
from bioseq.cli import main

torch.set_num_threads(1)

HP = {"conv_filters": [8], "conv_kernels": [5], "pool_sizes": [2], "rnn_hidden": 8, "head_hidden": 0}


def write_fasta(path, n=48, seed=0, labelled=True):
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            lab = "ab"[i % 2]
            seq = "".join(rng.choice("ACGT") for _ in range(30))
            fh.write(f">r{i}{' label=' + lab if labelled else ''}\n{'GGGG' + seq[4:] if lab == 'b' else seq}\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    train, valid = write_fasta(d / "train.fa"), write_fasta(d / "valid.fa", 16, seed=1)
    hp = d / "hp.yaml"
    hp.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in HP.items()))
    model = d / "model.safetensors"
    rc = main(
        [
            "train",
            str(train),
            "--valid",
            str(valid),
            "--arch",
            "cnn-lstm",
            "--hparams",
            str(hp),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--seed",
            "1",
            "--threads",
            "1",
            "--log",
            str(d / "log.jsonl"),
            "-q",
            "-o",
            str(model),
        ]
    )
    assert rc == 0
    return d, model


def test_train_writes_bundle_log_and_checkpoint(trained):
    d, model = trained
    bundle = bioseq.load(model)
    assert (bundle.arch, bundle.labels) == ("cnn-lstm", ["a", "b"])
    assert (d / "model.ckpt").stat().st_size > 0
    lines = [json.loads(x) for x in (d / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert [r["valid_loss"] for r in lines] == [r["valid_loss"] for r in bundle.metadata["history"]]


def test_predict_to_file_and_stdout(trained, capsys):
    d, model = trained
    inp = write_fasta(d / "query.fa", 7, seed=3, labelled=False)
    out = d / "pred.tsv"
    assert main(["predict", str(model), str(inp), "-o", str(out), "--batch-size", "3", "--both-strands"]) == 0
    rows = out.read_text().splitlines()
    assert rows[0].split("\t") == ["id", "predicted", "prob_a", "prob_b"]
    assert [r.split("\t")[0] for r in rows[1:]] == [f"r{i}" for i in range(7)]
    capsys.readouterr()
    assert main(["predict", str(model), str(inp), "-o", "-"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 8 and printed[0].startswith("id\tpredicted")


def test_info_text_and_json(trained, capsys):
    _, model = trained
    assert main(["info", str(model)]) == 0
    text = capsys.readouterr().out
    assert "cnn-lstm" in text and "labels:       a, b" in text and "fingerprint:" in text
    assert main(["info", str(model), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["arch"] == "cnn-lstm" and meta["training"]["seed"] == 1 and len(meta["history"]) == 2


def test_kmer_linear_cli(tmp_path, capsys):
    train = write_fasta(tmp_path / "t.fa", 60)
    out = tmp_path / "lin.safetensors"
    assert main(["train", str(train), "--arch", "kmer-linear", "--kmer", "3", "-q", "-o", str(out)]) == 0
    assert main(["info", str(out), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["tokenizer"]["k"] == 3 and meta["kind"] == "sklearn"


def test_errors_exit_1_with_message(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04not a bundle at all")
    inp = write_fasta(tmp_path / "q.fa", 3)
    assert main(["predict", str(bad), str(inp), "-o", str(tmp_path / "p.tsv")]) == 1
    err = capsys.readouterr().err
    assert "bioseq predict: error:" in err and "bad.safetensors" in err
    assert not (tmp_path / "p.tsv").exists()
    assert main(["info", str(bad)]) == 1
    assert main(["train", str(inp), "--arch", "cnn-lstm", "--hparams", "{bad json", "-o", str(bad)]) == 1
    assert "--hparams" in capsys.readouterr().err
    rc = main(["train", str(inp), "--arch", "cnn-lstm", "--hparams", '{"no_such_knob": 1}', "-o", str(bad)])
    assert rc == 1 and "no_such_knob" in capsys.readouterr().err


def test_arch_auto_end_to_end(tmp_path, capsys):
    """train --arch auto -> one bundle; predict, embed and info work on it; its log names the members."""
    train, valid = write_fasta(tmp_path / "train.fa"), write_fasta(tmp_path / "valid.fa", 16, seed=1)
    hp = {"cnn-lstm": HP, "transformer": {"d_model": 16, "n_layers": 1, "n_heads": 2, "max_tokens": 32}}
    model, log = tmp_path / "auto.safetensors", tmp_path / "auto.jsonl"
    args = ["train", str(train), "--valid", str(valid), "--arch", "auto", "--max-time", "0.3", "--epochs", "2",
            "--batch-size", "8", "--threads", "1", "--hparams", json.dumps(hp), "--log", str(log), "-q",
            "-o", str(model)]
    assert main(args) == 0
    assert not list(tmp_path.glob("*.ckpt"))  # auto keeps no checkpoint
    rows = [json.loads(x) for x in log.read_text().splitlines()]
    assert {r["member"] for r in rows} == {"kmer-linear", "cnn-lstm", "transformer"}
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    inp = write_fasta(tmp_path / "query.fa", 7, seed=3, labelled=False)
    out = tmp_path / "pred.tsv"
    assert main(["predict", str(model), str(inp), "-o", str(out)]) == 0
    table = out.read_text().splitlines()
    assert table[0] == "id\tpredicted\tprob_a\tprob_b" and len(table) == 8
    assert bioseq.load(model).arch == "auto"
    assert main(["embed", str(model), str(inp), "--cache", str(tmp_path / "c.h5"), "-o", str(tmp_path / "e.h5")]) == 0
    assert (tmp_path / "e.h5").stat().st_size > 0
    assert main(["info", str(model)]) == 0
    text = capsys.readouterr().out
    assert "arch:         auto" in text and "members:" in text and "candidates:" in text
    rc = main(["train", str(train), "--arch", "auto", "--kmer", "3", "-q", "-o", str(tmp_path / "x.safetensors")])
    assert rc == 1 and "tokenizer" in capsys.readouterr().err
    rc = main(["train", str(train), "--arch", "cnn-lstm", "--candidates", "kmer-linear", "-q",
               "-o", str(tmp_path / "x.safetensors")])
    assert rc == 1 and "arch auto" in capsys.readouterr().err

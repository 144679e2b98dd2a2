"""Tests of Model inference and streaming prediction: order, one row per record, padding
invariance, windows, both strands, alphabet checks, and no partial table on failure."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord

import bioseq
from bioseq.alphabets import DNA
from bioseq.errors import AlphabetError, ConfigError
from bioseq.io.readers import SequenceItem
from bioseq.predict import predict_to_file

torch.set_num_threads(1)

HP = {
    "conv_filters": [8],
    "conv_kernels": [5],
    "pool_sizes": [2],
    "rnn_hidden": 8,
    "head_hidden": 0,
    "max_tokens": 30,
}


def rand_seq(rng, n):
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.fixture(scope="module")
def model():
    rng = random.Random(0)
    recs = []
    for i in range(60):
        lab = "xy"[i % 2]
        seq = rand_seq(rng, 24)
        recs.append(SequenceItem(f"t{i}", ("TTTT" + seq[4:]) if lab == "y" else seq, (lab,)))
    return bioseq.train(recs, arch="cnn-lstm", hparams=HP, epochs=1, batch_size=16, progress=False)


def write_fasta(path, items):
    with open(path, "w") as fh:
        for rid, seq, *rest in items:
            fh.write(f">{rid}{' label=' + rest[0] if rest else ''}\n{seq}\n")
    return path


def test_padding_invariance(model):
    rng = random.Random(1)
    short = rand_seq(rng, 12)
    others = [rand_seq(rng, 29) for _ in range(5)]
    alone = model.predict_proba_sequences([short])
    mixed = model.predict_proba_sequences(others + [short], batch_size=64)
    np.testing.assert_allclose(mixed[-1], alone[0], atol=1e-6)
    emb_alone = model.embed_sequences([short])
    emb_mixed = model.embed_sequences([short] + others, batch_size=64)
    np.testing.assert_allclose(emb_mixed[0], emb_alone[0], atol=1e-6)


def test_order_and_batch_size_do_not_change_results(model):
    rng = random.Random(2)
    seqs = [rand_seq(rng, rng.randint(8, 70)) for _ in range(23)]
    a = model.predict_proba_sequences(seqs, batch_size=4)
    b = model.predict_proba_sequences(seqs, batch_size=100)
    np.testing.assert_allclose(a, b, atol=1e-6)
    rev = model.predict_proba_sequences(seqs[::-1], batch_size=7)
    np.testing.assert_allclose(rev[::-1], a, atol=1e-6)
    assert a.dtype == np.float32 and a.shape == (23, 2)
    np.testing.assert_allclose(a.sum(1), 1.0, atol=1e-5)


def test_long_inputs_average_windows(model):
    rng = random.Random(3)
    long = rand_seq(rng, 70)  # max_bases 30, overlap 15: windows at 0, 15, 30, 40
    pol = model.long_input
    assert (pol["policy"], pol["max_bases"], pol["overlap"]) == ("windows", 30, 15)
    parts = [long[s : s + 30] for s in (0, 15, 30, 40)]
    expect = model.predict_proba_sequences(parts).mean(0)
    np.testing.assert_allclose(model.predict_proba_sequences([long])[0], expect, atol=1e-6)
    emb = model.embed_sequences(parts).mean(0)
    np.testing.assert_allclose(model.embed_sequences([long])[0], emb, atol=1e-5)


def test_both_strands_is_the_strand_average(model):
    seqs = ["ACGTTTGACCA", "GGGATTACAGATTACA"]
    rc = [DNA.reverse_complement(s) for s in seqs]
    expect = (model.predict_proba_sequences(seqs) + model.predict_proba_sequences(rc)) / 2
    np.testing.assert_allclose(model.predict_proba_sequences(seqs, both_strands=True), expect, atol=1e-6)


def test_eval_mode_restored(model):
    model.net.train()
    model.predict_proba_sequences(["ACGTACGT"])
    assert model.net.training
    model.net.eval()
    model.predict_proba_sequences(["ACGTACGT"])
    assert not model.net.training


def test_predict_file_keeps_order_and_count(model, tmp_path):
    rng = random.Random(4)
    items = [(f"q{i}", rand_seq(rng, rng.randint(6, 50)), "unseen_label") for i in range(11)]
    path = write_fasta(tmp_path / "in.fa", items)
    pred = model.predict(str(path), batch_size=3)
    assert pred.ids == [i[0] for i in items]
    assert pred.probs.shape == (11, 2) and pred.labels == ["x", "y"]
    np.testing.assert_allclose(pred.probs, model.predict_proba_sequences([i[1] for i in items]), atol=1e-6)
    assert pred.predicted == [["x", "y"][j] for j in pred.probs.argmax(1)]
    # records in memory: SequenceItem, SeqRecord, (id, seq) tuples
    recs = [SeqRecord(Seq(s.lower()), id=r) for r, s, _ in items]
    assert model.predict(recs).ids == pred.ids
    np.testing.assert_allclose(model.predict([(r, s) for r, s, _ in items]).probs, pred.probs, atol=1e-6)


def test_predict_to_file_table(model, tmp_path):
    from bioseq.io.writers import read_predictions

    rng = random.Random(5)
    items = [(f"id{i}", rand_seq(rng, 20 + i)) for i in range(9)]
    path = write_fasta(tmp_path / "in.fa", items)
    out = tmp_path / "sub" / "pred.tsv"
    n = predict_to_file(model, str(path), out, batch_size=2, chunk_size=4)
    assert n == 9
    ids, predicted, labels, probs = read_predictions(out)
    assert list(ids) == [i[0] for i in items] and list(labels) == ["x", "y"]
    np.testing.assert_allclose(probs, model.predict(str(path)).probs, atol=1e-5)
    header = out.read_text().splitlines()[0].split("\t")
    assert header == ["id", "predicted", "prob_x", "prob_y"]


def test_single_record_fasta(model, tmp_path):
    path = write_fasta(tmp_path / "one.fa", [("only", "ACGTACGTTT")])
    out = tmp_path / "one.tsv"
    assert model.predict_to_file(str(path), out) == 1
    assert len(out.read_text().splitlines()) == 2
    assert model.predict(str(path)).ids == ["only"]


def test_interrupted_prediction_leaves_no_table(model, tmp_path, monkeypatch):
    rng = random.Random(6)
    path = write_fasta(tmp_path / "in.fa", [(f"r{i}", rand_seq(rng, 15)) for i in range(10)])
    real = type(model).predict_proba_sequences
    calls = {"n": 0}

    def flaky(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return real(self, *a, **k)

    monkeypatch.setattr(type(model), "predict_proba_sequences", flaky)
    out = tmp_path / "pred.tsv"
    with pytest.raises(RuntimeError, match="disk on fire"):
        predict_to_file(model, str(path), out, chunk_size=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fa"]


def test_alphabet_mismatch_names_file_and_record(model, tmp_path):
    path = write_fasta(tmp_path / "prot.fa", [("ok", "ACGTAC"), ("protein1", "MKWVTFISLL")])
    with pytest.raises(AlphabetError, match="protein1") as err:
        model.predict(str(path))
    assert "prot.fa" in str(err.value)
    with pytest.raises(AlphabetError, match="rec9"):
        model.predict([("rec9", "MKWEEQ")])


def test_both_strands_refused_for_protein(tmp_path):
    rng = random.Random(7)
    recs = [
        SequenceItem(f"p{i}", "".join(rng.choice("DEFHIKLMW") for _ in range(15)), ("ab"[i % 2],)) for i in range(30)
    ]
    m = bioseq.train(recs, arch="kmer-linear", hparams={"max_iter": 200}, progress=False)
    assert m.predict_proba_sequences(["MKWVL", "DDDEFHIK"]).shape == (2, 2)
    with pytest.raises(ConfigError, match="nucleic"):
        m.predict_proba_sequences(["MKWVL"], both_strands=True)


def test_multilabel_table(tmp_path):
    from bioseq.io.writers import read_predictions

    rng = random.Random(8)
    recs = [SequenceItem(f"m{i}", rand_seq(rng, 20), (("a", "b"), ("b",), ("c",))[i % 3]) for i in range(30)]
    m = bioseq.train(recs, arch="cnn-lstm", hparams=HP, epochs=1, batch_size=8, progress=False)
    before = m.fingerprint
    m.thresholds = [0.0, 0.0, 1.1]  # every record: a and b, never c
    assert m.fingerprint != before  # thresholds change predictions, so the identity
    path = write_fasta(tmp_path / "q.fa", [(r.id, r.seq) for r in recs[:4]])
    assert m.predict_to_file(str(path), tmp_path / "p.tsv") == 4
    table = read_predictions(tmp_path / "p.tsv")
    assert list(table.predicted) == ["a,b"] * 4 and list(table.labels) == ["a", "b", "c"]
    m.thresholds = [1.1, 1.1, 1.1]
    m.predict_to_file(str(path), tmp_path / "none.tsv")
    assert list(read_predictions(tmp_path / "none.tsv").predicted) == [""] * 4


# ----------------------------------------------------------------------------- empty inputs (--allow-empty)


def test_empty_input_is_an_error_by_default_naming_the_file(model, tmp_path):
    from bioseq.errors import EmptyInputError

    empty = tmp_path / "empty.fa"
    empty.write_text("")
    out = tmp_path / "pred.tsv"
    with pytest.raises(EmptyInputError, match="no sequence records") as info:
        predict_to_file(model, str(empty), out)
    assert str(empty) in str(info.value)
    assert not out.exists(), "a failed prediction leaves no table"
    with pytest.raises(EmptyInputError):
        model.predict(str(empty))
    # one empty file among several is still an error, naming that file
    full = write_fasta(tmp_path / "full.fa", [("a", "ACGTACGTAC")])
    with pytest.raises(EmptyInputError) as info:
        model.predict_to_file([str(full), str(empty)], out)
    assert str(empty) in str(info.value)


def test_allow_empty_writes_a_header_only_table(model, tmp_path, capsys):
    from bioseq.io.shard import gather_tables
    from bioseq.io.writers import read_predictions

    empty = tmp_path / "empty.fa"
    empty.write_text("")
    out = tmp_path / "pred.tsv"
    assert predict_to_file(model, str(empty), out, allow_empty=True) == 0
    assert out.read_text() == "id\tpredicted\tprob_x\tprob_y\n"
    table = read_predictions(out)
    assert table.ids == [] and table.labels == ["x", "y"] and table.probs.shape == (0, 2)
    # the Model methods, stdout, and an empty file among others
    assert model.predict_to_file(str(empty), tmp_path / "m.tsv", allow_empty=True) == 0
    assert (tmp_path / "m.tsv").read_text() == out.read_text()
    assert model.predict_to_file(str(empty), "-", allow_empty=True) == 0
    assert capsys.readouterr().out == out.read_text()
    assert len(model.predict(str(empty), allow_empty=True)) == 0
    full = write_fasta(tmp_path / "full.fa", [("a", "ACGTACGTAC"), ("b", "TTTTACGTAC")])
    assert model.predict([str(empty), str(full), str(empty)], allow_empty=True).ids == ["a", "b"]
    # a header-only shard table gathers like any other
    predict_to_file(model, str(full), tmp_path / "full.tsv")
    assert gather_tables([out, tmp_path / "full.tsv", out], tmp_path / "all.tsv") == 2
    assert read_predictions(tmp_path / "all.tsv").ids == ["a", "b"]


def test_prediction_writer_without_batches_writes_the_header(tmp_path):
    from bioseq.io.writers import PredictionWriter

    with PredictionWriter(tmp_path / "t.tsv", ["neg", "pos"]) as w:
        pass
    assert w.rows == 0
    assert (tmp_path / "t.tsv").read_text() == "id\tpredicted\tprob_neg\tprob_pos\n"


def test_cli_predict_allow_empty(model, tmp_path, capsys):
    from bioseq.cli import main as cli_main

    bundle = tmp_path / "m.safetensors"
    model.save(bundle)
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    out = tmp_path / "pred.tsv"
    assert cli_main(["predict", str(bundle), str(empty), "-o", str(out), "--threads", "1"]) == 1
    err = capsys.readouterr().err
    assert str(empty) in err and "no sequence records" in err and not out.exists()
    assert cli_main(["predict", str(bundle), str(empty), "-o", str(out), "--allow-empty", "--threads", "1"]) == 0
    assert out.read_text() == "id\tpredicted\tprob_x\tprob_y\n"
    assert "0 records" in capsys.readouterr().err


def test_windows_of_a_long_record_are_scored_in_bounded_steps_with_progress(model, monkeypatch):
    """A record of many windows gives the same probabilities scored a few windows at a time;
    progress is reported after every step, ending at the total."""
    from bioseq.data.windows import apply_policy_batch, count_pieces
    from bioseq.models import inference

    rng = random.Random(7)
    seqs = [rand_seq(rng, 1000), rand_seq(rng, 20), rand_seq(rng, 333)]
    whole = model.predict_proba_sequences(seqs)
    steps: list[tuple[int, int]] = []
    monkeypatch.setattr(inference, "PIECES_PER_STEP", 5)
    streamed = model.predict_proba_sequences(seqs, progress=lambda done, total: steps.append((done, total)))
    np.testing.assert_allclose(streamed, whole, atol=1e-6)
    policy = model.long_input
    n_windows = len(apply_policy_batch(seqs, policy["max_bases"], "windows", policy["overlap"])[0])
    assert count_pieces(seqs, policy["max_bases"], "windows", policy["overlap"]) == n_windows > 50
    assert [d for d, _ in steps] == [*range(5, n_windows, 5), n_windows]
    assert {t for _, t in steps} == {n_windows}


def test_predict_progress_bar_counts_records_on_stderr(model, tmp_path, capsys):
    rng = random.Random(8)
    fa = write_fasta(tmp_path / "in.fa", [(f"s{i}", rand_seq(rng, 40)) for i in range(7)])
    assert predict_to_file(model, fa, tmp_path / "out.tsv", progress=True) == 7
    err = capsys.readouterr().err
    assert "predict" in err and "7" in err

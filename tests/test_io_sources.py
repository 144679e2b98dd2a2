"""Every input form (paths, a sequence string, lists of strings, pairs, triples, SeqRecords,
DataFrames) through the one normaliser, and through train, predict and embed alike."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord

import bioseq
from bioseq.embed import embed
from bioseq.errors import AlphabetError, DuplicateIdError, InputFormatError, LabelError
from bioseq.io.sources import describe_source, is_path_like, iter_source, rereadable

torch.set_num_threads(1)
pd = pytest.importorskip("pandas")


def rand_seq(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def labelled(n: int = 40, seed: int = 0) -> list[tuple[str, str, str]]:
    """(id, seq, label) triples: class ``y`` starts with a TTTTTT run."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lab = "xy"[i % 2]
        seq = rand_seq(rng, 24)
        out.append((f"r{i}", ("TTTTTT" + seq[6:]) if lab == "y" else seq, lab))
    return out


@pytest.fixture(scope="module")
def model():
    return bioseq.train(labelled(), arch="kmer-linear", progress=False)


def write_fasta(path, items):
    with open(path, "w") as fh:
        for rid, seq in items:
            fh.write(f">{rid}\n{seq}\n")
    return path


def columns(source, **kw):
    chunks = list(iter_source(source, **kw))
    return sum((c.ids for c in chunks), []), sum((c.seqs for c in chunks), [])


# ---------------------------------------------------------------- the normaliser

def test_every_form_gives_the_same_stream(tmp_path) -> None:
    pairs = [("a", "acgt ac"), ("b", "GGTT")]
    fasta = write_fasta(tmp_path / "in.fa", pairs)
    want = (["a", "b"], ["ACGTAC", "GGTT"])
    assert columns(str(fasta)) == want
    assert columns(fasta) == want
    assert columns([fasta]) == want
    assert columns(pairs, alphabet="dna") == want
    assert columns([SeqRecord(Seq(s), id=r) for r, s in pairs]) == want
    assert columns(pd.DataFrame({"id": ["a", "b"], "sequence": ["acgt ac", "GGTT"]})) == want
    strings = (["seq0", "seq1"], ["ACGTAC", "GGTT"])
    assert columns(["acgt ac", "GGTT"], alphabet="dna") == strings
    assert columns(np.array(["acgt ac", "GGTT"])) == strings
    assert columns(pd.Series(["acgt ac", "GGTT"])) == strings
    assert columns(pd.DataFrame({"sequence": ["acgt ac", "GGTT"]})) == strings
    assert columns("ACGTAC", alphabet="dna") == (["seq0"], ["ACGTAC"])
    assert columns(iter(["ACGT", ("x", "GG")])) == (["seq0", "x"], ["ACGT", "GG"])
    assert columns([]) == ([], [])


def test_chunks_and_labels() -> None:
    triples = [(f"r{i}", "ACGT", "a,b" if i % 2 else 3) for i in range(5)]
    chunks = list(iter_source(triples, 2, labels=None))
    assert [len(c.ids) for c in chunks] == [2, 2, 1]
    assert chunks[0].labels == [("3",), ("a", "b")]
    assert list(iter_source(triples, 10))[0].labels is None  # labels=False: not read
    frame = pd.DataFrame({"id": ["p", "q"], "sequence": ["AC", "GT"], "label": ["u", None]})
    assert next(iter_source(frame, labels=None)).labels == [("u",), None]
    filled = next(iter_source(frame, labels={"q": "v"}))
    assert filled.labels == [("u",), ("v",)]


def test_neither_path_nor_sequence_is_named() -> None:
    with pytest.raises(InputFormatError, match="'foo.fa' is neither an existing file nor a DNA sequence"):
        list(iter_source("foo.fa", alphabet="dna"))
    with pytest.raises(InputFormatError, match="neither an existing file nor a protein sequence"):
        list(iter_source(["no/such.fa", "ACGT"], alphabet="protein"))
    with pytest.raises(InputFormatError, match="neither an existing file nor a sequence"):
        list(iter_source("reads.fq"))  # '.' is in no alphabet
    with pytest.raises(InputFormatError, match="has no label"):
        list(iter_source("ACGT", labels=None))  # a bare string cannot carry a label


def test_letters_checked_as_for_files(tmp_path) -> None:
    with pytest.raises(AlphabetError, match="record 'seq1'.*not in the dna alphabet"):
        list(iter_source(["ACGT", "ACGE"], alphabet="dna"))
    with pytest.raises(AlphabetError, match="record 'p'"):
        list(iter_source([("ok", "ACGU"), ("p", "QEPL")], alphabet="rna"))
    with pytest.raises(InputFormatError, match="record 'e'.*empty sequence"):
        list(iter_source([("e", "  ")]))
    twice = [("a", "AC"), ("b", "GT"), ("a", "TT")]
    with pytest.raises(DuplicateIdError, match="record 'a'"):
        list(iter_source(twice, 2, unique_ids=True))
    with pytest.raises(DuplicateIdError, match="record 'b'"):
        list(iter_source([("a", "AC"), ("b", "GT"), ("b", "TT")], 4, unique_ids=True))
    assert columns(twice)[0] == ["a", "b", "a"]  # prediction and embedding accept a repeat
    # the list's first string that names a file makes it a list of paths
    f = write_fasta(tmp_path / "x.fa", [("a", "ACGT")])
    with pytest.raises(InputFormatError, match="'ACGT' is neither"):
        list(iter_source([str(f), "ACGT"], alphabet="dna"))


def test_helpers(tmp_path) -> None:
    f = write_fasta(tmp_path / "x.fa", [("a", "ACGT")])
    assert is_path_like(str(f)) and is_path_like([f, "-"]) and not is_path_like("ACGT")
    assert describe_source([str(f), str(f)], sep=",") == f"{f},{f}"
    assert describe_source(["ACGT"]) is None
    gen = (x for x in [("a", "AC", "l")])
    assert rereadable(gen) == [("a", "AC", "l")]
    lst = [1]
    assert rereadable(lst) is lst


# ---------------------------------------------------------------- train, predict, embed

def test_predict_list_of_strings(model) -> None:
    """Failed before the normaliser: each string was taken for a path ("no such file")."""
    seqs = [s for _, s, _ in labelled(6, seed=3)]
    pred = model.predict(seqs)
    assert pred.ids == [f"seq{i}" for i in range(6)]
    np.testing.assert_allclose(pred.probs, model.predict_proba_sequences(seqs), atol=1e-6)


def test_predict_every_form_agrees(model, tmp_path) -> None:
    items = labelled(8, seed=4)
    pairs = [(r, s) for r, s, _ in items]
    ref = model.predict(pairs)
    forms = [
        [SeqRecord(Seq(s.lower()), id=r) for r, s in pairs],
        pd.DataFrame({"id": [r for r, _ in pairs], "sequence": [s for _, s in pairs]}),
        str(write_fasta(tmp_path / "p.fa", pairs)),
    ]
    for form in forms:
        got = model.predict(form)
        assert got.ids == ref.ids
        np.testing.assert_allclose(got.probs, ref.probs, atol=1e-6)
    one = bioseq.predict.predict(model, pairs[0][1])
    assert one.ids == ["seq0"]
    np.testing.assert_allclose(one.probs[0], ref.probs[0], atol=1e-6)
    with pytest.raises(InputFormatError, match="'foo.fa' is neither an existing file nor a DNA sequence"):
        model.predict("foo.fa")
    n = model.predict_to_file([s for _, s in pairs], tmp_path / "out.tsv")
    assert n == 8 and (tmp_path / "out.tsv").read_text().splitlines()[1].startswith("seq0\t")


def test_embed_every_form_agrees(model) -> None:
    items = labelled(5, seed=5)
    seqs = [s for _, s, _ in items]
    ref = model.embed([(r, s) for r, s, _ in items])
    np.testing.assert_allclose(model.embed(seqs), ref)
    np.testing.assert_allclose(embed(model, seqs[0]), ref[:1])
    frame = pd.DataFrame({"id": [r for r, _, _ in items], "sequence": seqs})
    np.testing.assert_allclose(model.embed(frame), ref)


def test_train_from_every_form() -> None:
    items = labelled()
    ref = bioseq.train(items, arch="kmer-linear", progress=False)
    frame = pd.DataFrame(items, columns=["id", "sequence", "label"])
    records = [SeqRecord(Seq(s), id=r, annotations={"labels": (lab,)}) for r, s, lab in items]
    for form in (frame, records, (t for t in items)):
        model = bioseq.train(form, arch="kmer-linear", progress=False)
        assert model.labels == ref.labels
        probe = [s for _, s, _ in items[:4]]
        np.testing.assert_allclose(model.predict_proba_sequences(probe), ref.predict_proba_sequences(probe))
    with pytest.raises(LabelError, match="record 'r3'.*no label"):
        bioseq.train([(r, s, None if r == "r3" else lab) for r, s, lab in items], arch="kmer-linear")
    with pytest.raises(DuplicateIdError, match="record 'r1'"):
        bioseq.train([*items, items[1]], arch="kmer-linear")
    with pytest.raises(InputFormatError, match="'train.fa' is not an existing file"):
        bioseq.train("train.fa", arch="kmer-linear")


def test_to_frame(model) -> None:
    pred = model.predict(["TTTTTTACGTACGTACGTAC", "ACGTACGTACGTACGTACGT"])
    frame = pred.to_frame()
    assert list(frame.columns) == ["id", "predicted", *(f"prob_{lab}" for lab in pred.labels)]
    assert frame["id"].tolist() == ["seq0", "seq1"]
    assert frame["predicted"].tolist() == pred.predicted
    np.testing.assert_allclose(frame[[f"prob_{lab}" for lab in pred.labels]].to_numpy(), pred.probs)


def test_to_frame_without_pandas_names_the_extra(model, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # makes "import pandas" fail
    with pytest.raises(ImportError, match=r"bioseq\[pandas\]"):
        model.predict(["ACGTACGT"]).to_frame()

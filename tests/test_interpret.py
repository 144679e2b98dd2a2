"""bioseq explain / motifs: attributions land on a planted motif; ISM is exact; the motif is recovered."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import bioseq
from bioseq.api import Model
from bioseq.errors import ConfigError
from bioseq.interpret.attributions import observed_scores, read_attributions
from bioseq.models.registry import get_model as get_arch
from bioseq.tokenize.kmer import KmerTokenizer

MOTIF = "GATTACAG"  # not a palindrome: the strand is checked too
LENGTH = 60


def _rc(s: str) -> str:
    return s[::-1].translate(str.maketrans("ACGT", "TGCA"))


def planted(n: int, seed: int) -> tuple[list[str], list[str], list[int]]:
    """Half the records carry MOTIF at a random position (class 'motif'), half none ('background')."""
    rng = np.random.default_rng(seed)
    seqs, labels, where = [], [], []
    for i in range(n):
        s = list(rng.choice(list("ACGT"), LENGTH))
        if i % 2 == 0:
            p = int(rng.integers(5, LENGTH - len(MOTIF) - 5))
            s[p : p + len(MOTIF)] = MOTIF
            labels.append("motif")
            where.append(p)
        else:
            labels.append("background")
            where.append(-1)
        seqs.append("".join(s))
    return seqs, labels, where


def write_fasta(path, seqs, labels):
    path.write_text("".join(f">r{i} label={lab}\n{s}\n" for i, (s, lab) in enumerate(zip(seqs, labels, strict=True))))
    return path


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    torch.set_num_threads(1)
    train = write_fasta(tmp / "train.fa", *planted(800, 1)[:2])
    valid = write_fasta(tmp / "valid.fa", *planted(200, 2)[:2])
    test = planted(60, 3)
    return tmp, train, valid, test


HPARAMS = {
    "cnn-lstm": {"conv_filters": [32], "rnn_hidden": 16, "head_hidden": 16, "pool_sizes": [4]},
    "transformer": {"d_model": 32, "n_layers": 1, "n_heads": 2, "max_tokens": 64},
    "dilated-cnn": {"channels": 16, "dilations": [1, 2, 4], "head_hidden": 16},
}


@pytest.fixture(scope="module")
def trained(task):
    tmp, train, valid, _ = task
    models = {}
    for arch in ("cnn-lstm", "transformer"):
        models[arch] = bioseq.train(
            str(train), str(valid), arch=arch, hparams=HPARAMS[arch], epochs=25, seed=0, threads=1,
            patience=6, output=str(tmp / f"{arch}.safetensors"), progress=False, lr=3e-3,
        )
    return models


def _hits(model, test, method):
    seqs, labels, where = test
    idx = [i for i, lab in enumerate(labels) if lab == "motif"]
    atts = model.explain([_record(f"r{i}", seqs[i]) for i in idx], method=method, target="motif")
    frac = []
    for a, i in zip(atts, idx, strict=True):
        score = np.abs(observed_scores(a.scores, a.seq, "ACGT", method))
        top = np.argsort(-score)[:10]
        frac.append(np.mean((top >= where[i]) & (top < where[i] + len(MOTIF))))
    return np.asarray(frac)


def _record(rid, seq):
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    return SeqRecord(Seq(seq), id=rid)


@pytest.mark.parametrize("arch", ["cnn-lstm", "transformer"])
@pytest.mark.parametrize("method", ["ism", "ig"])
def test_attribution_mass_on_the_planted_motif(trained, task, arch, method):
    model = trained[arch]
    acc = np.mean(np.array(model.predict(str(task[2])).predicted) == np.array(
        [lab for lab in planted(200, 2)[1]]))
    assert acc > 0.9, f"{arch} did not learn the planted task ({acc:.2f})"
    frac = _hits(model, task[3], method)
    # top-10 positions: most of them on the 8-bp motif, in most records
    assert np.mean(frac >= 0.5) >= 0.8, (arch, method, frac)


def tiny(arch: str, labels=("a", "b"), task="binary") -> Model:
    torch.manual_seed(0)
    arch_cls = get_arch(arch)
    tokenizer = KmerTokenizer(alphabet="dna", **arch_cls.default_tokenizer("dna"))
    hp = {**arch_cls.default_hparams("dna"), **HPARAMS.get(arch, {})}
    return Model.create(arch, tokenizer, list(labels), task, hp)


@pytest.mark.parametrize("arch", ["cnn-lstm", "transformer", "dilated-cnn"])
def test_ism_equals_two_predict_calls(arch):
    torch.set_num_threads(1)
    model = tiny(arch, labels=("x", "y", "z"), task="multiclass")
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 40))
    (att,) = model.explain([_record("s", seq)], method="ism", value="prob", target="y")
    for pos, base in [(0, "A"), (17, "C"), (39, "T"), (22, "G")]:
        if seq[pos] == base:
            continue
        mutant = seq[:pos] + base + seq[pos + 1 :]
        p = model.predict([_record("ref", seq), _record("mut", mutant)]).probs
        assert att.scores[pos, "ACGT".index(base)] == pytest.approx(p[1, 1] - p[0, 1], abs=1e-6)
    assert np.all(att.scores[np.arange(40), ["ACGT".index(b) for b in seq]] == 0)


def test_ism_logits_and_kmer_linear_and_ensemble():
    from bioseq.models.ensemble import EnsembleClassifier
    from bioseq.models.inference import run_net

    torch.set_num_threads(1)
    model = tiny("cnn-lstm")
    seq = "ACGTTGCAAGGCTTAACGATCGGATC"
    (att,) = model.explain([_record("s", seq)], method="ism", target=1)
    mutant = "C" + seq[1:]
    logits = run_net(model.net, [model.tokenizer.encode(s) for s in (seq, mutant)], batch_size=2, device=model.device)
    assert att.scores[0, 1] == pytest.approx(logits[1, 1] - logits[0, 1], abs=1e-5)
    kl = tiny("kmer-linear")
    rng = np.random.default_rng(0)
    train = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(40)]
    kl.net.fit(train, np.arange(40) % 2)
    (katt,) = kl.explain([_record("s", seq)], method="ism", value="prob", target=1)
    p = kl.predict_proba_sequences([seq, mutant])
    assert katt.scores[0, 1] == pytest.approx(p[1, 1] - p[0, 1], abs=1e-6)
    with pytest.raises(ConfigError, match="ism"):
        kl.explain([_record("s", seq)], method="saliency")
    ens = bioseq.api.wrap(EnsembleClassifier([model, kl], [0.25, 0.75]))
    (eatt,) = ens.explain([_record("s", seq)], method="ism", value="prob", target=1)
    pe = ens.predict_proba_sequences([seq, mutant])
    assert eatt.scores[0, 1] == pytest.approx(pe[1, 1] - pe[0, 1], abs=1e-6)
    (gatt,) = ens.explain([_record("s", seq)], method="saliency", target=1)  # torch members only
    assert gatt.scores.shape == (len(seq), 4)


def test_binary_kmer_linear_ism_moves_both_classes():
    """A binary kmer-linear model's logits are (0, z): ISM on raw logits would give the reference
    class an all-zero matrix. Centred, the two classes' effects are opposite and not zero."""
    kl = tiny("kmer-linear")
    rng = np.random.default_rng(1)
    train = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(40)]
    kl.net.fit(train, np.arange(40) % 2)
    seq = "ACGTTGCAAGGCTTAACGATCGGATC"
    a0, a1 = (kl.explain([_record("s", seq)], method="ism", target=t)[0].scores for t in (0, 1))
    assert np.abs(a0).max() > 1e-3
    np.testing.assert_allclose(a0, -a1, atol=1e-6)
    mutant = "C" + seq[1:]
    z = kl.net.decision_function([seq, mutant])
    assert a1[0, 1] == pytest.approx((z[1, 1] - z[0, 1]) / 2, abs=1e-5)


@pytest.mark.parametrize("arch", ["transformer", "dilated-cnn"])
@pytest.mark.parametrize("method", ["saliency", "ig", "deepliftshap"])
def test_gradient_methods_shapes_and_corrections(method, arch):
    torch.set_num_threads(1)
    model = tiny(arch)
    recs = [_record("a", "ACGTTGCAAGGCTTAACGATCGGATC"), _record("b", "TTGACCGGTACGATCG")]
    atts = model.explain(recs, method=method, target="b", n_shuffles=4, steps=8)
    assert [a.scores.shape for a in atts] == [(26, 4), (16, 4)]
    if method == "saliency":  # Majdandzic correction: every row sums to zero
        np.testing.assert_allclose(atts[0].scores.sum(axis=1), 0, atol=1e-6)
    assert all(np.isfinite(a.scores).all() for a in atts)


def test_cli_writes_tsv_and_h5(tmp_path):
    from bioseq.cli import main

    model = tiny("cnn-lstm")
    model.save(tmp_path / "m.safetensors")
    fa = tmp_path / "in.fa"
    fa.write_text(">a\nACGTTGCAAGGCTTAACGATCGGATC\n>b\nTTGACNGGTACGATCG\n")
    assert main(["explain", str(tmp_path / "m.safetensors"), str(fa), "-o", str(tmp_path / "o.tsv")]) == 0
    lines = (tmp_path / "o.tsv").read_text().splitlines()
    assert lines[0] == "id\tpos\tbase\tscore" and len(lines) == 1 + 26 + 16
    assert lines[1].startswith("a\t0\tA\t") and lines[-11].startswith("b\t5\tN\t0")
    assert main(["explain", str(tmp_path / "m.safetensors"), str(fa), "-o", str(tmp_path / "o.h5"),
                 "--method", "saliency", "--target", "a"]) == 0
    att = read_attributions(tmp_path / "o.h5")
    assert att.ids == ["a", "b"] and att.sequences[1] == "TTGACNGGTACGATCG" and att.targets == ["a", "a"]
    assert [s.shape for s in att.scores] == [(26, 4), (16, 4)] and att.method == "saliency"
    assert main(["explain", str(tmp_path / "m.safetensors"), str(fa), "-o", str(tmp_path / "o.txt")]) == 1
    assert main(["explain", str(tmp_path / "m.safetensors"), str(fa), "-o", str(tmp_path / "x.h5"),
                 "--target", "nope"]) == 1


def test_missing_extra_names_it(monkeypatch):
    import sys

    from bioseq.interpret.extras import require

    monkeypatch.setitem(sys.modules, "captum.attr", None)  # what an absent package looks like to import
    with pytest.raises(ConfigError, match=r"bioseq\[explain\]"):
        require("captum.attr", "--method saliency")


@pytest.mark.slow
def test_motif_is_recovered(trained, task, tmp_path):
    from bioseq.interpret.motifs import find_motifs, write_meme

    seqs, labels, _ = planted(600, 4)
    fa = write_fasta(tmp_path / "m.fa", seqs, labels)
    model = trained["cnn-lstm"]
    from bioseq.interpret.explain import explain_to_file

    explain_to_file(model, str(fa), tmp_path / "att.h5", method="ism", target="motif")
    motifs = find_motifs(tmp_path / "att.h5")
    write_meme(motifs, tmp_path / "m.meme")
    assert motifs, "no motif found"
    best = motifs[0].consensus

    def within_one(c: str) -> bool:
        for s in (c, _rc(c)):
            for off in range(-len(s) + 6, len(s)):  # any alignment overlapping >= 6 bases of MOTIF
                pairs = [(s[j], MOTIF[j + off]) for j in range(len(s)) if 0 <= j + off < len(MOTIF)]
                if len(pairs) >= min(len(MOTIF), len(s)) - 1 and sum(a != b for a, b in pairs) <= 1 and \
                        len(pairs) >= 6:
                    return True
        return False

    assert within_one(best), (best, [m.consensus for m in motifs])


# ---- selection, tracks, logos and TomTom: no model training needed -------------------------------------


class _FixedModel:
    """What most_confident reads of a model: alphabet, labels and fixed probabilities per sequence."""

    alphabet, labels = "dna", ["a", "b", "c"]

    def __init__(self, probs: dict[str, list[float]]):
        self.probs = probs

    def predict_proba_sequences(self, seqs, batch_size=256, ids=None):
        return np.asarray([self.probs[s] for s in seqs], np.float32)


def test_most_confident_shares_turns_among_classes_and_keeps_input_order():
    from bioseq.interpret.explain import most_confident

    rows = {  # sequence: probabilities; class a has 4 records, b 2, c 1
        "AAAA": [0.9, 0.05, 0.05], "AAAC": [0.6, 0.2, 0.2], "AAAG": [0.95, 0.0, 0.05], "AAAT": [0.7, 0.1, 0.2],
        "CCCA": [0.1, 0.8, 0.1], "CCCC": [0.2, 0.5, 0.3], "GGGA": [0.0, 0.1, 0.9],
    }
    model = _FixedModel(rows)
    records = [(f"r{i}", s) for i, s in enumerate(rows)]
    # turn 1: AAAG (a), GGGA (c), CCCA (b); turn 2: AAAA (a), CCCC (b); then a alone: AAAT
    assert [s for _, s in most_confident(model, records, 3)] == ["AAAG", "CCCA", "GGGA"]
    assert [s for _, s in most_confident(model, records, 4)] == ["AAAA", "AAAG", "CCCA", "GGGA"]
    assert [i for i, _ in most_confident(model, records, 6)] == ["r0", "r2", "r3", "r4", "r5", "r6"]
    assert len(most_confident(model, records, 50)) == len(rows)
    tie = _FixedModel({"ACGT": [0.5, 0.4, 0.1], "TGCA": [0.5, 0.4, 0.1]})
    assert most_confident(tie, [("x", "ACGT"), ("y", "TGCA")], 1) == [("x", "ACGT")]  # ties: the earlier
    with pytest.raises(ConfigError, match="positive"):
        most_confident(model, records, 0)


class _Bundle:
    """What AttributionWriter records of a model."""

    fingerprint, arch = "test", "none"


def write_attributions(path, records, method="saliency"):
    """An attribution .h5 from ``(id, seq, (L, 4) matrix, target, probability)`` tuples."""
    from bioseq.interpret.attributions import Attribution, AttributionWriter

    with AttributionWriter(path, letters="ACGT", method=method, value="logit", model=_Bundle()) as w:
        w.write([Attribution(i, s, m.astype(np.float32), t, p) for i, s, m, t, p in records])
    return path


def test_tracks_show_the_most_confident_records_of_each_class(tmp_path):
    from bioseq.interpret.plots import plot_tracks, top_records

    rng = np.random.default_rng(0)
    recs = []
    for i, (target, prob, length) in enumerate(
        [("EI", 0.7, 60), ("EI", 0.99, 60), ("N/x", 0.8, 250), ("EI", 0.9, 60), ("EI", 0.5, 60), ("N/x", 0.6, 250)]
    ):
        seq = "".join(rng.choice(list("ACGT"), length))
        recs.append((f"s{i}", seq, rng.normal(size=(length, 4)), target, prob))
    h5 = write_attributions(tmp_path / "a.h5", recs)
    att = read_attributions(h5)
    np.testing.assert_allclose(att.probabilities, [r[4] for r in recs], rtol=1e-6)
    assert top_records(att, 2) == {"EI": [1, 3], "N/x": [2, 5]}
    files = plot_tracks(h5, tmp_path / "tracks", per_class=2)
    assert [f.name for f in files] == ["EI.png", "N_x.png"]  # 60 bp: letters; 250 bp: bars
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 5000
    assert sorted(p.name for p in (tmp_path / "tracks").iterdir()) == ["EI.png", "N_x.png"]
    with pytest.raises(ConfigError, match="positive"):
        top_records(att, 0)


def test_cli_top_and_plots(tmp_path):
    from bioseq.cli import main

    model = tiny("cnn-lstm")
    model.save(tmp_path / "m.safetensors")
    rng = np.random.default_rng(0)
    fa = tmp_path / "in.fa"
    fa.write_text("".join(f">r{i}\n{''.join(rng.choice(list('ACGT'), 30))}\n" for i in range(12)))
    args = ["explain", str(tmp_path / "m.safetensors"), str(fa), "--top", "5"]
    assert main([*args, "-o", str(tmp_path / "o.h5"), "--plots", str(tmp_path / "tracks"),
                 "--plots-per-class", "2"]) == 0
    att = read_attributions(tmp_path / "o.h5")
    probs = model.predict_proba_sequences([s for s in fa.read_text().split()[1::2]])
    assert len(att.ids) == 5 and att.ids == sorted(att.ids, key=lambda r: int(r[1:]))  # input order
    chosen = [int(r[1:]) for r in att.ids]
    np.testing.assert_allclose(att.probabilities, probs[chosen].max(axis=1), rtol=1e-5)
    assert {p.name for p in (tmp_path / "tracks").iterdir()} == {f"{t}.png" for t in set(att.targets)}
    assert main([*args, "-o", str(tmp_path / "o.tsv"), "--plots", str(tmp_path / "t2")]) == 1  # needs .h5
    assert main([*args[:-1], "0", "-o", str(tmp_path / "z.h5")]) == 1


PLANTED_PPM = {"A": 0, "C": 1, "G": 2, "T": 3}
# 24 decoys (TomTom takes its background from the targets' columns: >= 25 targets for stable p-values)
DECOYS = ["CCGGCCGG", "TTTTAAAA", "GCGCATAT", "ACACGTGT"] + [
    "".join(np.random.default_rng(i).choice(list("ACGT"), 8)) for i in range(20)
]


def write_meme_db(path, motifs: dict[str, str]):
    """A MEME database of near-deterministic PPMs (0.94 on each consensus letter)."""
    text = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n"
    text += "A 0.25 C 0.25 G 0.25 T 0.25\n\n"
    for name, consensus in motifs.items():
        text += f"MOTIF {name}\nletter-probability matrix: alength= 4 w= {len(consensus)} nsites= 20 E= 0\n"
        for base in consensus:
            text += " ".join("0.94" if b == base else "0.02" for b in "ACGT") + "\n"
        text += "\n"
    path.write_text(text)
    return path


def planted_attributions(path, n=200, seed=0):
    """Hypothetical contributions with MOTIF planted in every other record: 1 for each motif letter at its
    position, small noise elsewhere (what a model that learned MOTIF gives, without training one)."""
    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), LENGTH))
        hyp = rng.normal(0, 0.05, (LENGTH, 4))
        if i % 2 == 0:
            p = int(rng.integers(5, LENGTH - len(MOTIF) - 5))
            seq[p : p + len(MOTIF)] = MOTIF
            for j, base in enumerate(MOTIF):
                hyp[p + j, PLANTED_PPM[base]] = 1.0
        recs.append((f"r{i}", "".join(seq), hyp, "motif", 0.9))
    return write_attributions(path, recs)


def test_motifs_logos_and_tomtom_find_the_planted_motif(tmp_path):
    """`bioseq motifs` in its own process, as users run it: in this one, after the torch tests,
    modisco-lite runs 5x slower (its numba kernels share the process with torch's thread pools)."""
    import subprocess
    import sys
    from pathlib import Path

    h5 = planted_attributions(tmp_path / "att.h5")
    db = write_meme_db(tmp_path / "db.meme", {"planted": MOTIF, **{f"decoy{i}": d for i, d in enumerate(DECOYS)}})
    meme, logos = tmp_path / "m.meme", tmp_path / "logos"
    repo = str(Path(__file__).resolve().parents[1])
    res = subprocess.run(
        [sys.executable, "-m", "bioseq", "motifs", str(h5), "-o", str(meme), "--logos", str(logos), "--db", str(db)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": repo, "MPLBACKEND": "Agg"},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "bioseq motifs: pos_0:" in res.stderr
    names = [line.split()[1] for line in meme.read_text().splitlines() if line.startswith("MOTIF ")]
    assert names and names[0] == "pos_0"
    for ext in ("png", "svg"):  # one logo per motif, nothing else
        assert sorted(p.stem for p in logos.glob(f"*.{ext}")) == sorted(names)
    assert len(list(logos.iterdir())) == 2 * len(names)
    for name in names:
        png = (logos / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    header, *rows = [line.split("\t") for line in (tmp_path / "m.matches.tsv").read_text().splitlines()]
    assert header == ["query", "target", "p_value", "q_value", "offset", "orientation"]
    best = [r for r in rows if r[0] == "pos_0"]
    assert len(best) == 1 + len(DECOYS)
    assert best[0][1] == "planted" and float(best[0][3]) < 0.01, best
    assert all(float(r[2]) > 10 * float(best[0][2]) for r in best[1:]), best  # the decoys are far behind

"""Masked-token pretraining (bioseq pretrain) and fine-tuning from its encoder (bioseq train --init):
span masking never leaks, the loss falls on structured data, the encoder bundle round-trips,
--init copies the trunk exactly, --freeze-encoder keeps it, mismatches are named, resume is exact."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
import torch
from test_training import TINY, killed_after_epochs, motif_records, write_fasta

import bioseq
from bioseq.bundle import load_encoder, save_bundle
from bioseq.cli import main
from bioseq.data.masking import (
    DECISION_KEEP,
    DECISION_MASK,
    DECISION_RANDOM,
    IGNORE,
    choose_spans,
    mask_batch,
    min_span,
)
from bioseq.errors import AlphabetError, BundleError, ConfigError
from bioseq.io.readers import SequenceItem
from bioseq.models.encoder import MaskedTokenNet, PretrainedEncoder
from bioseq.tokenize import MASK, N_SPECIAL, KmerTokenizer
from bioseq.training.loop import ValidTensors
from bioseq.training.pretrain import MaskedTokenObjective, cut_windows

torch.set_num_threads(1)

TINY_TF = {"d_model": 32, "n_layers": 1, "n_heads": 2, "max_tokens": 64, "dropout": 0.0}
MOTIFS = ("GATTACAGATTACA", "CCGGTTAACCGGTT", "TTTTGGGGCCCCAAAA")


def motif_corpus(n=240, length=60, seed=0, prefix="u"):
    """Unlabelled DNA where three fixed 14-16 bp motifs fill most of each sequence: a masked
    k-mer inside a motif is predictable from the rest of the motif, random DNA is not."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        s = list("".join(rng.choice("ACGT") for _ in range(length)))
        for _ in range(3):
            m = rng.choice(MOTIFS)
            p = rng.randrange(0, length - len(m))
            s[p : p + len(m)] = m
        out.append(SequenceItem(f"{prefix}{i}", "".join(s), None))
    return out


def quick_pretrain(data=None, **kw):
    kw.setdefault("arch", "transformer")
    kw.setdefault("hparams", TINY_TF if kw["arch"] == "transformer" else TINY["cnn-lstm"])
    kw.setdefault("epochs", 2)
    kw.setdefault("batch_size", 32)
    kw.setdefault("progress", False)
    kw.setdefault("verbose", False)
    return bioseq.pretrain(data if data is not None else motif_corpus(), **kw)


@pytest.fixture(scope="module")
def encoder_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("enc") / "enc.safetensors"
    quick_pretrain(output=path, epochs=2)
    return path


# ----------------------------------------------------------------------------- masking


@pytest.mark.parametrize(("k", "stride", "span"), [(1, 1, 1), (6, 1, 6), (4, 2, 2), (3, 2, 1), (5, 2, 2), (3, 5, 1)])
def test_min_span(k, stride, span):
    assert min_span(k, stride) == span


def hidden_base_everywhere(chosen: np.ndarray, n_tokens: int, k: int, stride: int) -> bool:
    """True when every chosen token covers a base that no unchosen (visible) token covers."""
    visible = np.zeros((n_tokens - 1) * stride + k, bool)
    for i in np.flatnonzero(~chosen[:n_tokens]):
        visible[i * stride : i * stride + k] = True
    return all(not visible[i * stride : i * stride + k].all() for i in np.flatnonzero(chosen[:n_tokens]))


@pytest.mark.parametrize(("k", "stride"), [(6, 1), (4, 2), (3, 1), (1, 1), (5, 3)])
def test_masked_tokens_are_never_spelled_out_by_visible_neighbours(k, stride):
    rng = np.random.default_rng(0)
    vocab = N_SPECIAL + 4**k
    for _ in range(30):
        lengths = rng.integers(1, 90, size=8)
        ids = np.zeros((8, int(lengths.max())), np.int64)
        for b, n in enumerate(lengths):
            ids[b, :n] = rng.integers(N_SPECIAL, vocab, size=n)
        mb = mask_batch(ids, lengths, span=min_span(k, stride), vocab_size=vocab, rng=rng)
        chosen = mb.targets != IGNORE
        for b, n in enumerate(lengths):
            assert not chosen[b, n:].any(), "padding chosen"
            assert chosen[b, :n].any(), "every row predicts something"
            # no replaced (masked or random) token is spelled out by the tokens the input shows as they
            # are (unchosen ones and kept runs), nor any chosen token by the unchosen ones
            hidden = np.isin(mb.decision[b], (DECISION_MASK, DECISION_RANDOM))
            assert hidden_base_everywhere(hidden, int(n), k, stride)
            assert hidden_base_everywhere(chosen[b], int(n), k, stride)
        assert (mb.targets[chosen] == ids[chosen]).all()
        assert (mb.inputs[mb.decision == DECISION_MASK] == MASK).all()
        assert (mb.inputs[mb.decision == DECISION_KEEP] == ids[mb.decision == DECISION_KEEP]).all()
        rand = mb.inputs[mb.decision == DECISION_RANDOM]
        assert ((rand >= N_SPECIAL) & (rand < vocab)).all()
        assert (mb.inputs[~chosen] == ids[~chosen]).all()


def test_single_token_masking_of_overlapping_kmers_would_leak():
    """The leak check above can fail: spans of 1 with 6-mers/stride 1 leave tokens spelled out."""
    rng = np.random.default_rng(1)
    chosen = choose_spans(np.array([80]), 80, 1, rng, 0.15)[0]
    assert not hidden_base_everywhere(chosen, 80, 6, 1)


def test_masking_rate_and_replacement_shares():
    rng = np.random.default_rng(2)
    ids = rng.integers(N_SPECIAL, 260, size=(400, 100))
    mb = mask_batch(ids, np.full(400, 100), span=2, vocab_size=260, rng=rng)
    chosen = mb.targets != IGNORE
    assert 0.12 < chosen.mean() < 0.17
    shares = [np.mean(mb.decision[chosen] == d) for d in (DECISION_MASK, DECISION_RANDOM, DECISION_KEEP)]
    assert abs(shares[0] - 0.8) < 0.05 and abs(shares[1] - 0.1) < 0.04 and abs(shares[2] - 0.1) < 0.04
    with pytest.raises(ConfigError):
        mask_batch(ids, np.full(400, 100), span=2, vocab_size=260, rng=rng, rate=0.0)


# ----------------------------------------------------------------------------- the net


@pytest.mark.parametrize("arch", ["transformer", "cnn-lstm", "dilated-cnn"])
def test_masked_token_net_gives_one_row_of_logits_per_input_token(arch):
    tok = KmerTokenizer(k=4, stride=2) if arch == "transformer" else KmerTokenizer(k=1, alphabet="dna")
    hp = {
        "transformer": {**TINY_TF, "pooling": "cls"},
        "cnn-lstm": {**TINY["cnn-lstm"], "pool_sizes": [4]},
        "dilated-cnn": {"channels": 8, "dilations": [1, 2], "stem_pool": 3},
    }[arch]
    enc = PretrainedEncoder.create(arch, tok, hp)
    assert isinstance(enc.net, MaskedTokenNet)
    ids = torch.randint(N_SPECIAL, tok.vocab_size, (3, 37))
    mask = torch.ones(3, 37, dtype=torch.bool)
    assert enc.net(ids, mask).shape == (3, 37, tok.vocab_size)
    with pytest.raises(ConfigError, match="only torch nets"):
        PretrainedEncoder.create("kmer-linear", tok, {})


def test_cut_windows():
    parts = cut_windows(np.arange(10), 4)
    assert [p.tolist() for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_read_corpus_windows_every_record_once_and_encodes_long_records_alone(monkeypatch):
    import bioseq.training.pretrain as pt

    monkeypatch.setattr(pt, "ENCODE_LETTERS", 300)  # the 1,000-letter record cannot share a tokenizer call
    rng = random.Random(3)
    recs = [SequenceItem(f"r{i}", "".join(rng.choice("ACGT") for _ in range(n)), None)
            for i, n in enumerate([40, 1000, 2, 77, 130])]
    tok = KmerTokenizer(k=4, stride=2)
    corpus = pt.read_corpus([recs], tok, 64, rc=True)
    want = sorted(tuple(w) for r in recs if len(r.seq) >= 4 for w in cut_windows(tok.encode(r.seq), 64))
    assert sorted(tuple(w) for w in corpus.windows) == want
    assert [len(w) for w in corpus.rc_windows] == [len(w) for w in corpus.windows]
    (info,) = corpus.inputs
    assert (info["n_records"], info["n_too_short"], info["n_letters"]) == (5, 1, 1249)


# ----------------------------------------------------------------------------- pretraining


def test_pretraining_lowers_the_masked_token_loss_on_structured_data():
    """A CNN-LSTM trunk (k=1, 4 tokens per pooled position) learns to fill in motif bases within
    ~150 steps; the tiny Transformer needs far more steps to learn local attention from scratch."""
    data = motif_corpus(300)
    held_out = motif_corpus(60, seed=9, prefix="h")
    enc = quick_pretrain(data, arch="cnn-lstm", epochs=8, lr=1e-2, batch_size=16, patience=None)
    fresh = quick_pretrain(data, arch="cnn-lstm", epochs=1, max_time=1e-6, patience=None)  # one step
    tokens = [enc.tokenizer.encode(r.seq) for r in held_out]
    valid = ValidTensors(tokens, np.arange(len(tokens)), None, len(tokens))
    trained_loss, trained = MaskedTokenObjective(enc, 0.15, 0).evaluate(enc, valid, 64, _dist())
    fresh_loss, _ = MaskedTokenObjective(fresh, 0.15, 0).evaluate(fresh, valid, 64, _dist())
    hist = enc.metadata["history"]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert trained_loss < 0.7 * fresh_loss, (trained_loss, fresh_loss)
    assert trained["masked_accuracy"] > 0.4  # chance: 1/4 bases
    assert enc.metadata["objective"] == "mlm" and enc.metadata["masking"]["min_span"] == 1


def _dist():
    from bioseq.training.loop import DistContext

    return DistContext()


def test_encoder_bundle_round_trips_and_records_its_inputs(tmp_path):
    a = write_fasta(tmp_path / "a.fa", motif_corpus(50, seed=1))
    b = write_fasta(tmp_path / "b.fa", motif_corpus(40, seed=2, prefix="w"))
    enc = quick_pretrain([str(a), str(b)], output=tmp_path / "enc.safetensors", epochs=1)
    back = load_encoder(tmp_path / "enc.safetensors")
    assert back.fingerprint == enc.fingerprint
    x, y = enc.state_arrays(), back.state_arrays()
    assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
    assert any(k.startswith("trunk.") for k in x) and any(k.startswith("lm_head.") for k in x)
    assert back.tokenizer.config() == enc.tokenizer.config() and back.arch == "transformer"
    sources = back.metadata["pretrain_data"]
    assert [s["source"] for s in sources] == [str(a), str(b)]
    want = hashlib.sha256("".join(f"{r.id}\t{r.seq}\t\n" for r in motif_corpus(50, seed=1)).encode()).hexdigest()
    assert sources[0]["sha256"] == want and sources[0]["n_records"] == 50 and sources[1]["n_records"] == 40
    with pytest.raises(BundleError, match="pretrained encoder.*--init"):
        bioseq.load(tmp_path / "enc.safetensors")


def test_pretraining_resumes_exactly(tmp_path, monkeypatch):
    data = motif_corpus(120)
    straight = quick_pretrain(data, epochs=3, patience=None, output=tmp_path / "a.safetensors")
    out = tmp_path / "b.safetensors"
    with killed_after_epochs(monkeypatch, 2):
        quick_pretrain(data, epochs=3, patience=None, output=out)
    assert not out.exists() and (tmp_path / "b.ckpt").exists()
    resumed = quick_pretrain(data, epochs=3, patience=None, output=out, resume=True)
    a, b = straight.state_arrays(), resumed.state_arrays()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [r["epoch"] for r in resumed.metadata["history"]] == [1, 2, 3]
    with pytest.raises(ConfigError, match="other settings or data"):
        quick_pretrain(data, epochs=3, patience=None, output=out, resume=True, mask_rate=0.3)


PRETRAIN_RANK_SCRIPT = """
import json, os, sys
import numpy as np
import bioseq

out_dir, kwargs = sys.argv[1], json.loads(sys.argv[2])
enc = bioseq.pretrain(**kwargs, distributed=True)
np.savez(os.path.join(out_dir, f"weights{os.environ['RANK']}.npz"), **enc.state_arrays())
"""


def test_pretraining_under_ddp_keeps_the_ranks_identical_and_rank_0_writes(tmp_path):
    from test_distributed import start_ranks, wait_ranks

    corpus = write_fasta(tmp_path / "u.fa", motif_corpus(64))
    kwargs = {"inputs": str(corpus), "arch": "cnn-lstm", "hparams": TINY["cnn-lstm"], "epochs": 2, "batch_size": 16,
              "patience": None, "threads": 1, "progress": False, "output": str(tmp_path / "enc.safetensors")}
    wait_ranks(start_ranks(2, tmp_path, kwargs, PRETRAIN_RANK_SCRIPT))
    w0, w1 = np.load(tmp_path / "weights0.npz"), np.load(tmp_path / "weights1.npz")
    assert all(np.array_equal(w0[k], w1[k]) for k in w0.files)
    enc = load_encoder(tmp_path / "enc.safetensors")
    assert enc.metadata["training"]["world_size"] == 2 and len(enc.metadata["history"]) == 2


def test_bad_pretraining_input_is_named(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">ok\nACGTACGTAC\n>oops\nACGT!ACGT\n")
    with pytest.raises(AlphabetError) as err:
        quick_pretrain(str(bad), alphabet="dna")
    assert "bad.fa" in str(err.value) and "oops" in str(err.value)
    short = write_fasta(tmp_path / "short.fa", [SequenceItem("s1", "ACG", None)])
    with pytest.raises(bioseq.errors.EmptyInputError, match="short.fa"):
        quick_pretrain(str(short))
    with pytest.raises(ConfigError, match="unknown pretraining option"):
        quick_pretrain(labels="x")


# ----------------------------------------------------------------------------- fine-tuning


def test_init_copies_the_trunk_exactly_and_records_the_encoder(encoder_file, monkeypatch, tmp_path):
    import bioseq.training.single as single

    seen = {}
    real = single.fit_torch

    def spy(model, *args, **kwargs):
        seen["trunk"] = {k: v.detach().clone() for k, v in model.net.trunk.state_dict().items()}
        return real(model, *args, **kwargs)

    monkeypatch.setattr(single, "fit_torch", spy)
    enc = load_encoder(encoder_file)
    m = bioseq.train(motif_records(120), init=encoder_file, epochs=1, batch_size=16, progress=False,
                     verbose=False, output=tmp_path / "ft.safetensors")
    want = enc.net.trunk.state_dict()
    assert seen["trunk"].keys() == want.keys()
    assert all(torch.equal(seen["trunk"][k], want[k]) for k in want)
    assert m.arch == "transformer" and m.tokenizer.config() == enc.tokenizer.config()
    saved = bioseq.load(tmp_path / "ft.safetensors").metadata["init"]
    assert saved["fingerprint"] == enc.fingerprint and saved["pretrain_data"] == enc.metadata["pretrain_data"]


def test_freeze_encoder_keeps_the_trunk_and_unfreeze_after_trains_it(encoder_file):
    enc = load_encoder(encoder_file)
    want = enc.net.trunk.state_dict()
    frozen = bioseq.train(motif_records(120), init=encoder_file, freeze_encoder=True, epochs=2, batch_size=16,
                          patience=None, lr=1e-2, progress=False, verbose=False)
    have = frozen.net.trunk.state_dict()
    assert all(torch.equal(have[k], want[k]) for k in want)
    assert len(frozen.metadata["history"]) == 2 and frozen.metadata["init"]["freeze_encoder"] is True
    later = bioseq.train(motif_records(120), init=encoder_file, unfreeze_after=1, epochs=2, batch_size=16,
                         patience=None, lr=1e-2, progress=False, verbose=False)
    assert any(not torch.equal(later.net.trunk.state_dict()[k], want[k]) for k in want)
    with pytest.raises(ConfigError, match="not both"):
        bioseq.train(motif_records(40), init=encoder_file, freeze_encoder=True, unfreeze_after=1)
    with pytest.raises(ConfigError, match="give init"):
        bioseq.train(motif_records(40), freeze_encoder=True)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"arch": "cnn-lstm"}, "--arch cnn-lstm conflicts with the encoder enc.safetensors"),
        ({"k": 3}, "k 3 conflicts with the encoder enc.safetensors's tokenizer"),
        ({"stride": 1}, "stride 1 conflicts"),
        ({"alphabet": "protein"}, "alphabet 'protein' conflicts"),
        ({"hparams": {"d_model": 64}}, "trunk does not match the pretrained encoder"),
    ],
)
def test_a_setting_that_contradicts_the_encoder_is_a_named_error(encoder_file, options, match):
    with pytest.raises(ConfigError, match=match):
        bioseq.train(motif_records(40), init=encoder_file, epochs=1, progress=False, verbose=False, **options)


def test_data_of_another_alphabet_or_a_classifier_as_init_is_refused(encoder_file, tmp_path):
    proteins = [SequenceItem(f"p{i}", "MKVLLWQE" * 3, ("a" if i % 2 else "b",)) for i in range(20)]
    with pytest.raises(AlphabetError, match="p0"):
        bioseq.train(proteins, init=encoder_file, epochs=1, progress=False, verbose=False)
    clf = bioseq.train(motif_records(60), arch="kmer-linear", progress=False, verbose=False)
    save_bundle(clf, tmp_path / "clf.safetensors")
    with pytest.raises(BundleError, match="not a pretrained encoder"):
        bioseq.train(motif_records(40), init=tmp_path / "clf.safetensors", epochs=1)


def test_auto_with_init_adds_the_pretrained_candidate(encoder_file):
    ens = bioseq.train(
        motif_records(120), arch="auto", candidates="kmer-linear", init=encoder_file, epochs=1, batch_size=16,
        progress=False, verbose=False,
    )
    cands = ens.metadata["candidates"]
    assert [c["arch"] for c in cands] == ["kmer-linear", "pretrained"]
    with pytest.raises(ConfigError, match="give init"):
        bioseq.train(motif_records(40), arch="auto", candidates="kmer-linear,pretrained")


def test_cli_pretrain_then_train_init(tmp_path, capsys):
    u = write_fasta(tmp_path / "u.fa", motif_corpus(80))
    lab = write_fasta(tmp_path / "lab.fa", motif_records(100))
    enc = tmp_path / "enc.safetensors"
    hp = '{"conv_filters": [16], "rnn_hidden": 8, "head_hidden": 0}'
    assert main(["pretrain", str(u), "-o", str(enc), "--arch", "cnn-lstm", "--hparams", hp, "--epochs", "1",
                 "--threads", "1", "-q"]) == 0
    assert main(["info", str(enc)]) == 0
    assert "pretrained encoder" in capsys.readouterr().out
    out = tmp_path / "m.safetensors"
    assert main(["train", str(lab), "--init", str(enc), "--freeze-encoder", "-o", str(out), "--epochs", "1",
                 "-q"]) == 0
    assert bioseq.load(out).arch == "cnn-lstm"
    assert main(["train", str(lab), "--init", str(enc), "--arch", "transformer", "-o", str(tmp_path / "x.st"),
                 "-q"]) == 1
    assert "conflicts with the encoder" in capsys.readouterr().err
    assert main(["train", str(lab), "-o", str(tmp_path / "y.st"), "-q"]) == 1
    assert "--arch" in capsys.readouterr().err


def test_cli_pretrain_on_bed_regions_of_a_genome(tmp_path):
    pytest.importorskip("pysam")
    rng = random.Random(4)
    genome = tmp_path / "g.fa"
    genome.write_text(">chr1\n" + "".join(rng.choice("ACGT") for _ in range(3000)) + "\n")
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"chr1\t{i * 100}\t{i * 100 + 80}\tr{i}\n" for i in range(25)))
    enc = tmp_path / "enc.safetensors"
    hp = '{"conv_filters": [8], "rnn_hidden": 8}'
    assert main(["pretrain", "--regions", str(bed), "--genome", str(genome), "-o", str(enc), "--arch", "cnn-lstm",
                 "--hparams", hp, "--epochs", "1", "-q"]) == 0
    (info,) = load_encoder(enc).metadata["pretrain_data"]
    assert (info["n_records"], info["n_letters"]) == (25, 25 * 80)

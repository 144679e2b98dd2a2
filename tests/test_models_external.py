"""External encoders (esm:PATH, hf:DIR) and --arch esm-head, on tiny random models saved locally.

Nothing is downloaded: the ESM-2 is built from fair-esm's own class (2 layers,
d=32) and saved in the published checkpoint layout (weights under "model" with
fairseq prefixes, the configuration as an argparse.Namespace under
cfg["model"]); the Hugging Face model is a 2-layer BERT of width 32 with a
one-letter-per-token vocabulary, written by save_pretrained.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys

import numpy as np
import pytest

esm = pytest.importorskip("esm")
torch = pytest.importorskip("torch")

from bioseq.api import load, train  # noqa: E402
from bioseq.cli import main as cli_main  # noqa: E402
from bioseq.embed import EmbeddingCache, embed  # noqa: E402
from bioseq.errors import BundleError, ConfigError  # noqa: E402
from bioseq.models.external import ENCODERS, is_encoder_spec, open_encoder  # noqa: E402
from bioseq.models.registry import MODELS  # noqa: E402


def save_tiny_esm2(path, seed: int = 0) -> None:
    """A random 2-layer ESM-2 (d=32) in the layout of the published esm2_*.pt checkpoints."""
    torch.manual_seed(seed)
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    net = esm.model.esm2.ESM2(num_layers=2, embed_dim=32, attention_heads=4, alphabet=alphabet, token_dropout=True)
    state = {("encoder." if k.startswith("lm_head") else "encoder.sentence_encoder.") + k: v
             for k, v in net.state_dict().items() if not k.startswith("contact_head.regression")}
    cfg = argparse.Namespace(encoder_layers=2, encoder_embed_dim=32, encoder_attention_heads=4, token_dropout=True)
    torch.save({"model": state, "cfg": {"model": cfg}, "args": None}, path)


def write_labelled(path, n: int, prefix: str, long: int = 0, seed: int = 1) -> list[tuple[str, str, str]]:
    """Proteins whose class is their composition (K/R-rich 'pos', D/E-rich 'neg'); the first ``long``
    records are 1500 residues (longer than a 1022-residue window)."""
    rng = random.Random(seed)
    recs = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        pool = "KRKRHAGLV" if label == "pos" else "DEDEAGLVS"
        length = 1500 if i < long else rng.randint(15, 40)
        recs.append((f"{prefix}{i}", "".join(rng.choice(pool) for _ in range(length)), label))
    path.write_text("".join(f">{r} label={lab}\n{s}\n" for r, s, lab in recs))
    return recs


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("external")
    save_tiny_esm2(d / "esm2_tiny.pt")
    train_recs = write_labelled(d / "train.fa", 60, "p")
    test_recs = write_labelled(d / "test.fa", 20, "t", long=2, seed=2)
    return {"dir": d, "esm": f"esm:{d / 'esm2_tiny.pt'}", "train": train_recs, "test": test_recs}


def accuracy(table, recs) -> float:
    rows = [line.split("\t") for line in table.read_text().splitlines()[1:]]
    truth = {r: lab for r, _, lab in recs}
    return float(np.mean([truth[row[0]] == row[1] for row in rows]))


# ---------------------------------------------------------------------------------------------- esm


def test_esm_embed_cache_rerun_fit_head_predict(world, capsys) -> None:
    d, spec = world["dir"], world["esm"]
    cache, head, table = d / "emb.h5", d / "head.safetensors", d / "pred.tsv"
    assert cli_main(["embed", spec, str(d / "train.fa"), "--cache", str(cache)]) == 0
    assert "60 computed, 0 from the cache" in capsys.readouterr().err
    assert cli_main(["embed", spec, str(d / "train.fa"), "--cache", str(cache)]) == 0
    assert "0 computed, 60 from the cache" in capsys.readouterr().err  # no recompute
    with EmbeddingCache(cache) as c:
        assert c.embedding_dim == 32 and len(c) == 60
        assert c.model_fingerprint == open_encoder(spec).fingerprint
        assert json.loads(c.attrs["tokenizer_config"])["weights_sha256"]
    assert cli_main(["fit-head", str(cache), "--labels", str(d / "train.fa"), "-o", str(head)]) == 0
    assert cli_main(["predict", spec, str(d / "test.fa"), "--head", str(head), "--cache", str(cache),
                     "-o", str(table)]) == 0
    assert [line.split("\t")[0] for line in table.read_text().splitlines()[1:]] == [r for r, _, _ in world["test"]]
    assert accuracy(table, world["test"]) >= 0.9  # composition classes: any random encoder separates them
    assert cli_main(["embed", spec, str(d / "test.fa"), "--per-position", "-o", str(d / "pos.h5")]) == 0
    from bioseq.embed.positions import read_positions

    assert read_positions(d / "pos.h5", "t0").shape == (1500, 32)  # per residue, across windows


def test_moved_weights_keep_their_fingerprint_other_weights_do_not(world, tmp_path) -> None:
    shutil.copy(world["dir"] / "esm2_tiny.pt", tmp_path / "moved.pt")
    save_tiny_esm2(tmp_path / "other.pt", seed=3)
    fp = open_encoder(world["esm"]).fingerprint
    assert open_encoder(f"esm:{tmp_path / 'moved.pt'}").fingerprint == fp
    assert open_encoder(f"esm:{tmp_path / 'other.pt'}").fingerprint != fp
    import hashlib

    plain = hashlib.sha256((tmp_path / "moved.pt").read_bytes()).hexdigest()  # what sha256sum prints
    assert open_encoder(f"esm:{tmp_path / 'moved.pt'}").weights_digest() == plain


def test_esm_pooled_is_the_mean_of_window_averaged_residues(world) -> None:
    enc = open_encoder(world["esm"])
    enc.max_residues = 40  # windows of 40 overlapping by 20
    seq = world["test"][2][1] * 3
    (res,) = enc.residue_embeddings([seq])
    assert res.shape == (len(seq), 32)
    a, b = enc._embed_windows([seq[0:40], seq[20:60]])
    np.testing.assert_allclose(res[25], (a[25] + b[5]) / 2, atol=1e-5)  # covered by both windows
    np.testing.assert_allclose(res[5], a[5], atol=1e-5)  # covered by the first only
    np.testing.assert_allclose(enc.embed_sequences([seq])[0], res.mean(axis=0), atol=1e-5)
    short = world["train"][0][1]
    (alone,) = enc._embed_windows([short])
    np.testing.assert_allclose(enc.residue_embeddings([short])[0], alone, atol=1e-5)


def test_esm_long_protein_is_windowed_within_1022(world) -> None:
    enc = open_encoder(world["esm"])
    seen = []
    run = enc._embed_windows
    enc._embed_windows = lambda windows: seen.extend(map(len, windows)) or run(windows)
    out = enc.embed_sequences([world["test"][0][1]])
    assert out.shape == (1, 32) and seen == [1022, 1022]  # 1500 residues: windows at 0 and 478 (end-aligned)


def test_checkpoint_with_unexpected_global_is_refused_unexecuted(world, tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    state = {"encoder.embed_tokens.weight": torch.zeros(33, 32)}
    torch.save({"model": state, "cfg": {"model": argparse.Namespace(encoder_layers=1)}, "extra": Evil()},
               tmp_path / "evil.pt")
    enc = open_encoder(f"esm:{tmp_path / 'evil.pt'}")
    with pytest.raises(ConfigError, match=r"refused.*(posix|os)\.mkdir") as err:
        enc.embed_sequences(["MKV"])
    assert str(tmp_path / "evil.pt") in str(err.value)
    assert not marker.exists()
    from fractions import Fraction  # an ordinary class, but not on the allow-list

    torch.save({"model": state, "cfg": {"model": argparse.Namespace()}, "lr": Fraction(1, 3)}, tmp_path / "f.pt")
    with pytest.raises(ConfigError, match=r"refused: this checkpoint pickles the global fractions\.Fraction"):
        open_encoder(f"esm:{tmp_path / 'f.pt'}").embed_sequences(["MKV"])


def test_missing_weights_and_missing_extra_are_named_errors(world, tmp_path, monkeypatch) -> None:
    with pytest.raises(ConfigError, match="never downloads.*dl.fbaipublicfiles.com") as err:
        open_encoder(f"esm:{tmp_path / 'esm2_t12_35M_UR50D.pt'}")
    assert "esm2_t12_35M_UR50D.pt" in str(err.value)
    with pytest.raises(ConfigError, match="never downloads.*huggingface-cli download"):
        open_encoder(f"hf:{tmp_path / 'nowhere'}")
    monkeypatch.setitem(sys.modules, "esm", None)  # as if fair-esm were not installed
    with pytest.raises(ConfigError, match=r"pip install 'bioseq\[esm\]'"):
        open_encoder(world["esm"]).embed_sequences(["MKV"])


def test_encoder_specs_and_registries() -> None:
    assert {"esm", "hf"} <= set(ENCODERS.names()) and "esm-head" in MODELS.names()
    assert is_encoder_spec("esm:/w/x.pt") and is_encoder_spec("hf:/w/dir")
    assert not is_encoder_spec("model.safetensors") and not is_encoder_spec("nope:/w/x") and not is_encoder_spec(3)


def test_train_esm_head_round_trip(world, tmp_path) -> None:
    d = world["dir"]
    weights = tmp_path / "esm2_tiny.pt"
    shutil.copy(d / "esm2_tiny.pt", weights)
    bundle = tmp_path / "eh.safetensors"
    model = train(d / "train.fa", arch="esm-head", output=bundle, seed=0,
                  hparams={"encoder": f"esm:{weights}", "epochs": 8, "lr": 3e-3})
    assert len(model.net._memo) == 60  # train + validation embedded once, reused by the trainer's scoring
    loaded = load(bundle)
    assert loaded.arch == "esm-head" and loaded.hparams["encoder"] == f"esm:{weights.resolve()}"
    assert loaded.hparams["encoder_sha256"] == open_encoder(f"esm:{weights}").weights_digest()
    assert loaded.fingerprint == model.fingerprint
    seqs = [s for _, s, _ in world["test"]]
    np.testing.assert_allclose(loaded.predict(d / "test.fa").probs, model.predict_proba_sequences(seqs), atol=1e-5)
    assert cli_main(["predict", str(bundle), str(d / "test.fa"), "-o", str(tmp_path / "p.tsv")]) == 0
    assert accuracy(tmp_path / "p.tsv", world["test"]) >= 0.9
    assert embed(loaded, d / "test.fa").shape == (20, 64)  # light attention's pooled vector: 2 x 32

    save_tiny_esm2(weights, seed=1)  # other weights at the recorded path
    with pytest.raises(ConfigError, match="not the ones the model was trained on"):
        load(bundle).predict(d / "test.fa")
    weights.unlink()
    with pytest.raises(ConfigError, match="never downloads") as err:
        load(bundle).predict(d / "test.fa")
    assert str(weights.resolve()) in str(err.value)


def test_train_cli_encoder_flag(world, tmp_path, capsys) -> None:
    d = world["dir"]
    bundle = tmp_path / "eh.safetensors"
    assert cli_main(["train", str(d / "train.fa"), "--arch", "esm-head", "--encoder", f"esm:{d / 'esm2_tiny.pt'}",
                     "--hparams", '{"epochs": 2}', "-o", str(bundle), "-q"]) == 0
    assert load(bundle).hparams["encoder"] == f"esm:{(d / 'esm2_tiny.pt').resolve()}"
    assert load(bundle).hparams["epochs"] == 2
    for argv, message in (
        (["--arch", "cnn-lstm", "--encoder", "esm:x.pt"], "not of --arch cnn-lstm"),
        (["--arch", "esm-head", "--encoder", "esm:x.pt", "--hparams", '{"encoder": "esm:y.pt"}'], "disagree"),
    ):
        assert cli_main(["train", str(d / "train.fa"), *argv, "-o", str(tmp_path / "x.safetensors")]) == 1
        assert message in capsys.readouterr().err and not (tmp_path / "x.safetensors").exists()


def test_esm_head_needs_an_encoder(world) -> None:
    with pytest.raises(ConfigError, match="needs a pretrained encoder"):
        train(world["dir"] / "train.fa", arch="esm-head")
    with pytest.raises((ConfigError, BundleError), match="unknown esm-head head"):
        train(world["dir"] / "train.fa", arch="esm-head", hparams={"encoder": world["esm"], "head": "big"})


# ----------------------------------------------------------------------------------------------- hf


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    d = tmp_path_factory.mktemp("hf") / "bert_tiny"
    d.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"ACDEFGHIKLMNPQRSTVWYXBZUO"]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64)
    transformers.BertModel(cfg).save_pretrained(d)
    transformers.BertTokenizer(str(d / "vocab.txt"), do_lower_case=False).save_pretrained(d)
    return d


def test_hf_embed_cache_fit_head_predict(world, hf_dir, tmp_path, capsys) -> None:
    d, spec = world["dir"], f"hf:{hf_dir}"
    enc = open_encoder(spec).load()
    assert enc._spaced and enc.per_residue and enc.max_residues == 62  # BERT wants "M K V"; 64 positions - 2
    cache, head, table = tmp_path / "hf.h5", tmp_path / "head.st", tmp_path / "p.tsv"
    for _ in range(2):
        assert cli_main(["embed", spec, str(d / "train.fa"), str(d / "test.fa"), "--cache", str(cache)]) == 0
    assert "0 computed, 80 from the cache" in capsys.readouterr().err
    assert cli_main(["fit-head", str(cache), "--labels", str(d / "train.fa"), "-o", str(head)]) == 0
    assert cli_main(["predict", spec, str(d / "test.fa"), "--head", str(head), "-o", str(table)]) == 0
    assert accuracy(table, world["test"]) >= 0.9


def test_hf_esm_head_mean_mlp(world, hf_dir, tmp_path) -> None:
    model = train(world["dir"] / "train.fa", arch="esm-head", output=tmp_path / "m.safetensors", seed=0,
                  hparams={"encoder": f"hf:{hf_dir}", "head": "mean-mlp", "epochs": 3})
    assert model.embedding_dim == 32
    assert load(tmp_path / "m.safetensors").predict(world["dir"] / "test.fa").probs.shape == (20, 2)


def test_hf_directory_with_pickled_weights_only_is_refused(hf_dir, tmp_path) -> None:
    d = tmp_path / "bin_only"
    shutil.copytree(hf_dir, d)
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(ConfigError, match="no .safetensors weights"):
        open_encoder(f"hf:{d}")


# -------------------------------------------------------------------------------------- head nets


@pytest.mark.parametrize("kind", ["light-attention", "mean-mlp"])
def test_head_output_does_not_depend_on_padding(kind) -> None:
    from bioseq.models.external.head_fit import run_head
    from bioseq.models.external.head_nets import build_head

    torch.manual_seed(0)
    net = build_head(kind, 16, 3, hidden=8, kernel_size=5, dropout=0.1).eval()
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(n, 16)).astype(np.float16) for n in (3, 11, 7)]
    together = run_head(net, arrays, batch_size=3, pooled=False)
    alone = np.concatenate([run_head(net, [a], batch_size=1, pooled=False) for a in arrays])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert run_head(net, arrays, 3, pooled=True).shape == (3, net.embedding_dim)


def test_head_trains_multilabel_and_keeps_the_best_validation_epoch() -> None:
    from bioseq.models.external.head_fit import _loss_fn, run_head, train_head
    from bioseq.models.external.head_nets import build_head

    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=(40, 2))
    x = [(rng.normal(size=(rng.integers(4, 9), 8)) + 2 * (y[i] @ np.eye(2, 8))).astype(np.float16)
         for i in range(40)]
    net = build_head("light-attention", 8, 2, hidden=8, kernel_size=3, dropout=0.0)
    hp = {"class_weight": "balanced", "lr": 1e-2, "weight_decay": 0.0, "epochs": 25, "patience": 5, "batch_size": 8}
    history = train_head(net, x[:30], y[:30], (x[30:], y[30:]), "multilabel", hp)
    best = min(h["valid_loss"] for h in history)
    assert best < history[0]["valid_loss"]
    logits = torch.from_numpy(run_head(net, x[30:], 8, pooled=False))
    kept = float(_loss_fn("multilabel", y[:30], 2, "balanced")(logits, torch.as_tensor(y[30:], dtype=torch.float32)))
    assert kept == pytest.approx(best, rel=1e-5)  # the best epoch's weights are back, not the last epoch's
    assert history[-1]["valid_loss"] > best  # early stopping ran past the best epoch: restoring it mattered


def test_head_stops_at_the_deadline_after_one_epoch() -> None:
    import time

    from bioseq.models.external.head_fit import train_head
    from bioseq.models.external.head_nets import build_head

    rng = np.random.default_rng(2)
    x = [rng.normal(size=(6, 8)).astype(np.float16) for _ in range(20)]
    y = rng.integers(0, 2, size=20)
    hp = {"class_weight": None, "lr": 1e-3, "weight_decay": 0.0, "epochs": 30, "patience": None, "batch_size": 8}
    net = build_head("mean-mlp", 8, 2, hidden=8, kernel_size=3, dropout=0.0)
    assert len(train_head(net, x, y, None, "multiclass", hp, deadline=time.monotonic() - 1)) == 1  # spent: 1 epoch
    assert len(train_head(net, x, y, None, "multiclass", hp, deadline=time.monotonic() + 600)) == 30
    assert len(train_head(net, x, y, None, "multiclass", hp)) == 30


def test_esm_head_honours_max_time(world, tmp_path) -> None:
    model = train(world["dir"] / "train.fa", arch="esm-head", seed=0, max_time=1e-6,
                  hparams={"encoder": f"esm:{world['dir'] / 'esm2_tiny.pt'}", "epochs": 40, "patience": 0})
    assert len(model.net.history) == 1  # the budget was spent before the first epoch ended


def test_residue_store_in_memory_and_on_disk() -> None:
    from bioseq.models.external.residues import ResidueStore

    rng = np.random.default_rng(0)
    arrays = {s: rng.normal(size=(n, 4)).astype(np.float32) for s, n in (("MKV", 3), ("AC", 2))}
    for limit, on_disk in ((1 << 20, False), (0, True)):
        store = ResidueStore(5, 4, in_memory_bytes=limit)
        assert store.on_disk is on_disk
        for seq, arr in arrays.items():
            store.add(seq, arr)
        store.add("MKV", arrays["AC"])  # a sequence is stored once
        for seq, arr in arrays.items():
            np.testing.assert_array_equal(store.get(seq), arr.astype(np.float16))
        with pytest.raises(ValueError, match="full"):
            store.add("W", arrays["AC"])


def test_a_classifier_created_directly_records_the_encoder(world) -> None:
    """Without the trainer's adapt_hparams (Classifier.create from the API), the classifier's own copy of
    the hyper-parameters still records the encoder's absolute path, sha256 and width."""
    from bioseq.models.classifier import Classifier
    from bioseq.tokenize.kmer import KmerTokenizer

    hp = MODELS.get("esm-head").default_hparams("protein")
    hp["encoder"] = world["esm"]
    model = Classifier.create("esm-head", KmerTokenizer(alphabet="protein"), ["a", "b"], "binary", hp)
    enc = open_encoder(world["esm"])
    assert model.hparams["encoder_sha256"] == enc.weights_digest() and model.hparams["encoder_dim"] == 32
    assert model.hparams["encoder"] == enc.spec and model.embedding_dim == 64

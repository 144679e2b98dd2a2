"""Tests of bioseq.train and the training loop: every architecture learns, reproducibility,
resume, max_time, multilabel, imbalance, alphabet/task inference, splits, early stopping."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import bioseq
from bioseq.errors import ConfigError, LabelError
from bioseq.evaluate.metrics import selection_metric
from bioseq.io.readers import SequenceItem
from bioseq.tasks import LabelEncoder
from bioseq.training.data import LabelledSet, infer_alphabet, resolve_alphabet, stratified_split
from bioseq.training.early_stopping import EarlyStopping
from bioseq.training.labels import infer_task
from bioseq.training.loop import classification_loss, lr_lambda_factory

torch.set_num_threads(1)

TINY = {
    "cnn-lstm": {
        "conv_filters": [32],
        "conv_kernels": [7],
        "pool_sizes": [4],
        "rnn_hidden": 8,
        "head_hidden": 0,
        "conv_dropout": 0.0,
        "rnn_dropout": 0.0,
        "head_dropout": 0.0,
    },
    "transformer": {"d_model": 16, "n_layers": 1, "n_heads": 2, "max_tokens": 64},
    "kmer-linear": {},
}


def motif_records(n=160, length=40, seed=0, pos_frac=0.5, motif="GATTACA", prefix="s"):
    """Random DNA; 'pos' records carry the motif. Learnable in a few epochs by any arch."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        seq = "".join(rng.choice("ACGT") for _ in range(length))
        lab = "pos" if rng.random() < pos_frac else "neg"
        if lab == "pos":
            p = rng.randrange(0, length - len(motif))
            seq = seq[:p] + motif + seq[p + len(motif) :]
        out.append(SequenceItem(f"{prefix}{i}", seq, (lab,)))
    return out


def write_fasta(path, records):
    with open(path, "w") as fh:
        for r in records:
            head = f">{r.id}" + (f" label={','.join(r.labels)}" if r.labels else "")
            fh.write(f"{head}\n{r.seq}\n")
    return path


def quick(arch="cnn-lstm", data=None, **kw):
    kw.setdefault("epochs", 2)
    kw.setdefault("batch_size", 16)
    kw.setdefault("hparams", TINY.get(arch))
    kw.setdefault("progress", False)
    return bioseq.train(data if data is not None else motif_records(), arch=arch, **kw)


# ----------------------------------------------------------------------------- learning


@pytest.mark.parametrize(("arch", "lr"), [("cnn-lstm", 1e-2), ("transformer", 5e-3)])
def test_torch_archs_learn(arch, lr, tmp_path):
    train = motif_records(200, seed=1)
    valid = motif_records(60, seed=2, prefix="v")
    m = quick(arch, train, valid=valid, epochs=6, lr=lr, patience=None, log=tmp_path / "log.jsonl")
    hist = m.metadata["history"]
    assert len(hist) == 6
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert m.task == "binary" and m.labels == ["neg", "pos"]
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4, 5, 6]
    for key in ("epoch", "train_loss", "valid_loss", "valid_mcc", "lr", "elapsed_s"):
        assert key in lines[0]


def test_kmer_linear_through_train(tmp_path):
    train = motif_records(200, seed=1)
    valid = motif_records(80, seed=2, prefix="v")
    m = quick("kmer-linear", train, valid=valid, output=tmp_path / "m.safetensors")
    assert m.kind == "sklearn"
    (rec,) = m.metadata["history"]
    assert rec["valid_loss"] is not None and "valid_mcc" in rec
    assert m.metadata["metrics"]["accuracy"] > 0.6  # the motif gives 7-mers the spectrum sees
    assert m.hparams["class_weight"] == "balanced"
    # the validation split chose C (kmer-linear's fit takes valid=) and the path is in the bundle
    assert m.net.selection is not None and m.net.selection.C in m.hparams["C_grid"]
    loaded = bioseq.load(tmp_path / "m.safetensors")
    assert loaded.kind == "sklearn"
    assert loaded.state_arrays()["C_selected"].tolist() == [m.net.selection.C]


# ----------------------------------------------------------------------------- reproducibility, resume, time


def test_same_seed_gives_identical_weights():
    a = quick(seed=3).state_arrays()
    b = quick(seed=3).state_arrays()
    c = quick(seed=4).state_arrays()
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


@contextlib.contextmanager
def killed_after_epochs(monkeypatch, n):
    """The job is killed (KeyboardInterrupt) right after the checkpoint of epoch ``n``; the
    checkpoint writer is restored on leaving, so the test can resume."""
    import bioseq.training.loop as loop

    real = loop.save_checkpoint
    calls = {"n": 0}

    def crash(path, state):
        real(path, state)
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(loop, "save_checkpoint", real)


def test_resume_continues_exactly(tmp_path, monkeypatch):
    data = motif_records(120)
    straight = quick(data=data, epochs=4, patience=None, output=tmp_path / "a.safetensors")
    out = tmp_path / "b.safetensors"
    with killed_after_epochs(monkeypatch, 2):
        quick(data=data, epochs=4, patience=None, output=out, log=tmp_path / "b.jsonl")
    assert not out.exists() and (tmp_path / "b.ckpt").exists()
    resumed = quick(data=data, epochs=4, patience=None, output=out, log=tmp_path / "b.jsonl", resume=True)
    a, b = straight.state_arrays(), resumed.state_arrays()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [r["epoch"] for r in resumed.metadata["history"]] == [1, 2, 3, 4]
    assert len((tmp_path / "b.jsonl").read_text().splitlines()) == 4
    with pytest.raises(ConfigError, match="other settings or data"):
        quick(data=data, epochs=4, patience=None, output=out, resume=True, lr=0.5)


def test_max_time_stops_mid_epoch_and_still_writes_the_bundle(tmp_path):
    m = quick(epochs=500, max_time=1e-5, patience=None, output=tmp_path / "m.safetensors")
    assert m.metadata["stopped"] == "max_time"
    assert len(m.metadata["history"]) == 1
    assert "partial_epoch" in m.metadata["history"][0]
    assert bioseq.load(tmp_path / "m.safetensors").labels == ["neg", "pos"]


def cross_entropy(probs: np.ndarray, labels: list[str], names: list[str]) -> float:
    y = np.array([names.index(lab) for lab in labels])
    return float(-np.log(np.clip(probs.astype(np.float64)[np.arange(len(y)), y], 1e-7, 1 - 1e-7)).mean())


def test_returned_and_saved_model_hold_the_best_epoch_weights_not_the_last(tmp_path):
    # Validation labels are the training labels flipped: the better the net learns the motif, the
    # worse it scores on validation, so a later epoch is never the best one.
    train = motif_records(120, seed=1)
    flip = {"pos": ("neg",), "neg": ("pos",)}
    valid = [SequenceItem(r.id, r.seq, flip[r.labels[0]]) for r in motif_records(40, seed=2, prefix="v")]
    out = tmp_path / "m.safetensors"
    m = quick(data=train, valid=valid, epochs=5, lr=1e-2, patience=None, output=out)
    hist, best = m.metadata["history"], m.metadata["best_epoch"]
    assert len(hist) == 5 and best < 5, "the case under test: the last epoch is not the best"
    (best_rec,) = [r for r in hist if r["epoch"] == best]
    assert best_rec["best"] is True
    assert m.metadata["metrics"]["mcc"] == best_rec["valid_mcc"] != hist[-1]["valid_mcc"]
    seqs, labels = [r.seq for r in valid], [r.labels[0] for r in valid]
    for model in (m, bioseq.load(out)):
        loss = cross_entropy(model.predict_proba_sequences(seqs), labels, model.labels)
        assert loss == pytest.approx(best_rec["valid_loss"], rel=1e-5)
        assert loss != pytest.approx(hist[-1]["valid_loss"], rel=1e-3)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    m = quick(epochs=30, patience=2, lr=1e-9)  # nothing can improve
    hist = m.metadata["history"]
    assert m.metadata["stopped"] == "early_stopping"
    assert hist[-1]["epoch"] == m.metadata["best_epoch"] + 2 < 30
    assert not any(r["best"] for r in hist if r["epoch"] > m.metadata["best_epoch"])


# ----------------------------------------------------------------------------- tasks


def test_multilabel_runs():
    rng = random.Random(0)
    recs = []
    for i, r in enumerate(motif_records(120)):
        labs = {"pos": ("a", "b"), "neg": ("b",)}[r.labels[0]] if rng.random() < 0.8 else ("c",)
        recs.append(SequenceItem(f"m{i}", r.seq, labs))
    m = quick(data=recs)
    assert m.task == "multilabel" and m.labels == ["a", "b", "c"]
    assert m.metadata["selection_metric"] == "macro_auprc"
    assert m.thresholds == [0.5, 0.5, 0.5]
    probs = m.predict_proba_sequences([r.seq for r in recs[:5]])
    assert probs.shape == (5, 3) and ((probs >= 0) & (probs <= 1)).all()
    assert not np.allclose(probs.sum(1), 1.0)  # independent sigmoids


def test_imbalanced_gets_balanced_weights():
    recs = motif_records(150, pos_frac=0.1)
    m = quick(data=recs)
    w = m.metadata["training"]["class_weights"]
    assert w[1] > 3 * w[0]  # the rare 'pos' class weighs more
    assert quick(data=recs, class_weight=None).metadata["training"]["class_weights"] is None


def test_multiclass_protein_inferred(tmp_path):
    rng = random.Random(0)
    recs = []
    for i in range(90):
        lab = "abc"[i % 3]
        core = {"a": "KKKK", "b": "WWWW", "c": "DDDD"}[lab]
        seq = "".join(rng.choice("ACDEFGHILMNPQRSTVY") for _ in range(rng.randint(12, 30))) + core
        recs.append(SequenceItem(f"p{i}", seq, (lab,)))
    path = write_fasta(tmp_path / "prot.fa", recs)
    m = quick(data=str(path))
    assert m.alphabet == "protein" and m.task == "multiclass"
    assert m.metadata["training"]["augment_rc"] is False
    with pytest.raises(ConfigError, match="reverse-complement"):
        quick(data=str(path), augment_rc=True)


def test_training_on_sequences_longer_than_max_tokens_crops_them():
    # The transformer net refuses an input longer than max_tokens (ConfigError), so training on
    # 120-bp records with max_tokens=32 succeeds only if every training sample is cropped.
    recs = motif_records(60, length=120)
    hp = {**TINY["transformer"], "max_tokens": 32}
    m = quick("transformer", data=recs, hparams=hp, epochs=1)
    assert m.long_input["policy"] == "windows" and m.long_input["max_tokens"] == 32
    assert m.long_input["max_bases"] < 120, "the case under test: the records do not fit in max_tokens"
    assert m.predict_proba_sequences([recs[0].seq]).shape == (1, 2)  # windows at prediction


def test_protein_cnn_lstm_learns_composition_of_long_proteins_instead_of_one_class():
    """The deeploc collapse in small: 400-600 aa proteins whose class is their K or E
    content. Pooled over so many positions, a new net's features barely differ between
    proteins; with the protein defaults before head_norm (auto -> batch here) the loss stayed at ln 2
    and every protein got one class (valid MCC 0 in all 4 epochs). Now every epoch
    from the second on separates them, which also needs BatchNorm statistics that are
    exact at validation (with the lagging, dropout-shifted training averages: MCC 0, 0, 0.09, 0.13)."""
    aa = "ACDEFGHIKLMNPQRSTVWY"
    rng = np.random.default_rng(0)

    def proteins(n, prefix):
        out = []
        for i in range(n):
            p = np.ones(20)
            p[aa.index("KE"[i % 2])] += 1.0
            seq = "".join(rng.choice(list(aa), int(rng.integers(400, 600)), p=p / p.sum()))
            out.append(SequenceItem(f"{prefix}{i}", seq, ("ab"[i % 2],)))
        return out

    small = {"conv_filters": [32], "rnn_hidden": 16, "head_hidden": 16}  # the protein defaults, narrower
    m = bioseq.train(proteins(256, "t"), proteins(128, "v"), arch="cnn-lstm", epochs=4, batch_size=32,
                     hparams=small, patience=None, threads=1, seed=0)
    assert m.hparams["head_norm"] == "batch"  # "auto" settled from the median length (~500) and stored
    mccs = [h["valid_mcc"] or 0.0 for h in m.metadata["history"]]
    assert min(mccs[1:]) >= 0.8, mccs


# ----------------------------------------------------------------------------- input errors


def test_unlabelled_record_is_named(tmp_path):
    recs = motif_records(20)
    recs[5] = SequenceItem("nolabel", recs[5].seq, None)
    path = write_fasta(tmp_path / "t.fa", recs)
    with pytest.raises(LabelError, match="nolabel"):
        quick(data=str(path))


def test_unknown_validation_label(tmp_path):
    valid = motif_records(10, prefix="v")
    valid[3] = SequenceItem("odd", valid[3].seq, ("other",))
    with pytest.raises(LabelError, match="'other'.*odd|odd.*'other'"):
        quick(valid=valid)


def test_single_class_refused():
    recs = [SequenceItem(f"x{i}", "ACGTACGTAC", ("only",)) for i in range(10)]
    with pytest.raises(LabelError, match="at least two"):
        quick(data=recs)


def test_bad_settings():
    with pytest.raises(ConfigError):
        quick(epochs=0)
    with pytest.raises(ConfigError, match="resume"):
        quick(resume=True)
    with pytest.raises(bioseq.errors.PluginError, match="cnn-lstm"):
        quick(arch="no-such-arch", hparams=None)


def test_label_smoothing_softens_the_training_targets_and_is_recorded():
    """Smoothing s: cross-entropy against (1 - s) * one-hot + s / C; multilabel: each 0/1 target
    moved s of the way to 1/2. Recorded in the bundle; outside [0, 1) refused."""
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    y = torch.tensor([0, 2])
    target = 0.7 * torch.nn.functional.one_hot(y, 3) + 0.3 / 3
    expected = -(target * logits.log_softmax(1)).sum(1).mean()
    assert classification_loss("multiclass", None, 0.3)(logits, y).item() == pytest.approx(expected.item())
    assert classification_loss("multiclass", None)(logits, y).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, y).item()
    )
    multi = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    soft = torch.nn.functional.binary_cross_entropy_with_logits(logits, multi * 0.8 + 0.1)
    assert classification_loss("multilabel", None, 0.2)(logits, multi).item() == pytest.approx(soft.item())
    m = quick(label_smoothing=0.1)
    assert m.metadata["training"]["label_smoothing"] == 0.1
    with pytest.raises(ConfigError, match="label_smoothing"):
        quick(label_smoothing=1.0)


# ----------------------------------------------------------------------------- units


def test_infer_alphabet():
    assert infer_alphabet(["ACGTN", "GGT"]) == "dna"
    assert infer_alphabet(["ACGU"]) == "rna"
    assert infer_alphabet(["MKVL", "ACGT"]) == "protein"


def test_dna_with_iupac_codes_is_inferred_as_dna(tmp_path, caplog):
    """Issue 12.6: one IUPAC code (R) in DNA made training infer the protein alphabet."""
    assert infer_alphabet(["ACGTRACGTA", "GGTTAACC"]) == "dna"
    assert infer_alphabet(["acgtyacgt"]) == "dna"
    assert infer_alphabet(["ACGURACGU"]) == "rna"
    assert infer_alphabet(["NNNNNNNNNNNNNNNNACGTKM"]) == "dna"  # a run of N is not counted against it
    # letters that are all nucleotide codes, in a protein's proportions (A, C, T a quarter): protein
    assert infer_alphabet(["ACDHKMRSTVWY" * 3]) == "protein"
    assert infer_alphabet(["MKVLAAGE", "ACGT"]) == "protein"
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(20)]
    seqs[3] = seqs[3][:30] + "R" + seqs[3][31:]
    path = tmp_path / "iupac.fa"
    path.write_text("".join(f">r{i} label={'ab'[i % 2]}\n{s}\n" for i, s in enumerate(seqs)))
    with caplog.at_level(logging.INFO, logger="bioseq"):
        assert resolve_alphabet(str(path), None) == "dna"
    assert "inferred 'dna'" in caplog.text


def test_infer_task_and_encoder():
    assert infer_task([("b",), ("a",)]) == ("binary", ["a", "b"])
    assert infer_task([("b",), ("a",), ("c",)])[0] == "multiclass"
    assert infer_task([("b",), ("a", "c")]) == ("multilabel", ["a", "b", "c"])
    enc = LabelEncoder(("a", "b", "c"), "multilabel")
    y = enc.encode([("a", "c"), ("b",)])
    assert y.tolist() == [[1, 0, 1], [0, 1, 0]]
    assert enc.decode(np.array([[0.9, 0.1, 0.6], [0.2, 0.3, 0.1]])) == ["a,c", ""]
    single = LabelEncoder(("a", "b"), "binary")
    with pytest.raises(LabelError, match="r2"):
        single.encode([("a",), ("z",)], ids=["r1", "r2"])
    w = single.class_weights(np.array([0, 0, 0, 1]))
    assert w[1] == pytest.approx(2.0) and w[0] == pytest.approx(4 / 6)


def test_stratified_split_is_seeded_and_stratified():
    recs = motif_records(100)
    data = LabelledSet([r.id for r in recs], [r.seq for r in recs], [r.labels for r in recs])
    tr1, va1 = stratified_split(data, 0.1, seed=0)
    tr2, va2 = stratified_split(data, 0.1, seed=0)
    _, va3 = stratified_split(data, 0.1, seed=1)
    assert va1.ids == va2.ids and va1.ids != va3.ids
    assert len(va1) == 10 and len(tr1) == 90 and not set(va1.ids) & set(tr1.ids)
    assert {lab for (lab,) in va1.labels} == {"pos", "neg"}


def test_early_stopping_unit():
    es = EarlyStopping(patience=2)
    assert es.step(1, 0.0, 1.0, {"w": torch.ones(1)})
    assert es.step(2, 0.0, 0.5, {"w": torch.full((1,), 2.0)})  # tie on metric, lower loss
    assert not es.step(3, -0.1, 0.1)
    assert not es.should_stop
    assert not es.step(4, float("nan"), 0.1)
    assert es.should_stop and es.best_epoch == 2 and es.best_state["w"].item() == 2.0


def test_lr_schedule_warmup_then_cosine():
    f = lr_lambda_factory(100, 10, 0.05)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(100) == pytest.approx(0.05)
    assert all(f(s) >= f(s + 1) for s in range(10, 100))


def test_lr_warmup_ends_at_its_share_of_the_time_budget():
    """A max_time run shorter than the step-counted warm-up (5% of 50 epochs) must still
    reach the peak learning rate: the warm-up ends at warmup_frac of the budget."""
    spent = [0.0]
    f = lr_lambda_factory(10_000, 500, 0.05, time_fraction=lambda: spent[0], warmup_frac=0.05)
    assert f(0) == pytest.approx(1 / 500)
    spent[0] = 0.025
    assert f(10) == pytest.approx(0.5)  # half of the warm-up's share of the time, at step 10 of 500
    spent[0] = 0.05
    assert f(11) == pytest.approx(1.0)
    spent[0] = 1.0
    assert f(12) == pytest.approx(0.05)


def test_selection_metric():
    assert selection_metric("binary") == "mcc"
    assert selection_metric("multilabel") == "macro_auprc"
    with pytest.raises(ConfigError):
        selection_metric("binary", "macro_auprc")


# ----------------------------------------------------------------------------- verbose (issue 12, API logging)

VERBOSE_SCRIPT = """
import logging, sys
sys.path.insert(0, {tests!r})
import torch
torch.set_num_threads(1)
from test_training import TINY, motif_records
import bioseq
bioseq.train(motif_records(60), arch="cnn-lstm", epochs=2, batch_size=16, hparams=TINY["cnn-lstm"],
             progress=False{extra})
logger = logging.getLogger("bioseq")
print("handlers left:", len(logger.handlers), len(logging.getLogger().handlers), logger.propagate)
"""


def _run_train_script(extra: str = "") -> subprocess.CompletedProcess:
    code = VERBOSE_SCRIPT.format(tests=str(Path(__file__).resolve().parent), extra=extra)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_api_train_shows_inferred_settings_and_epochs_by_default_and_leaves_no_handler():
    proc = _run_train_script()
    assert proc.returncode == 0, proc.stderr
    assert "bioseq: alphabet not given: inferred 'dna'" in proc.stderr
    assert "bioseq: epoch 1/2: train_loss" in proc.stderr and "epoch 2/2" in proc.stderr
    assert "handlers left: 0 0 True" in proc.stdout


@pytest.fixture
def pristine_bioseq_logger():
    """The ``bioseq`` logger as a fresh process has it (an in-process CLI test may have configured it)."""
    logger = logging.getLogger("bioseq")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    for h in saved[0]:
        logger.removeHandler(h)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    yield logger
    for h in list(logger.handlers):
        logger.removeHandler(h)
    for h in saved[0]:
        logger.addHandler(h)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def test_verbose_true_prints_once_even_when_the_application_configured_logging(capfd, pristine_bioseq_logger):
    root = logging.getLogger()
    app_handler = logging.StreamHandler(sys.stderr)
    root.addHandler(app_handler)
    logger, root_level = logging.getLogger("bioseq"), root.level
    try:
        quick(epochs=1, data=motif_records(40), verbose=True)
        err = capfd.readouterr().err
        assert err.count("epoch 1/1: train_loss") == 1 and "bioseq: epoch 1/1" in err
        assert logger.handlers == [] and logger.propagate and logger.level == logging.NOTSET
        quick(epochs=1, data=motif_records(40))  # None: the application's logging decides (WARNING)
        assert "epoch 1/1" not in capfd.readouterr().err
        root.setLevel(logging.INFO)
        quick(epochs=1, data=motif_records(40), verbose=False)  # False: never a handler of bioseq's own
        assert "bioseq: epoch" not in capfd.readouterr().err
    finally:
        root.removeHandler(app_handler)
        root.setLevel(root_level)

"""Tests of the k-mer spectrum + logistic regression baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bioseq.errors import BundleError, ConfigError, LabelError
from bioseq.models.kmer_linear import KmerLinearClassifier
from bioseq.tokenize.kmer import KmerTokenizer


def _random_dna(n: int, length: int, rng: np.random.Generator, p=None) -> list[str]:
    return ["".join(rng.choice(list("ACGT"), size=length, p=p)) for _ in range(n)]


def _composition_problem(n: int = 120, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Class 0 uniform, class 1 GC-rich, class 2 carries TATAAA motifs."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    seqs = []
    for label in y:
        if label == 1:
            seqs.append(_random_dna(1, 60, rng, p=[0.15, 0.35, 0.35, 0.15])[0])
        else:
            s = _random_dna(1, 60, rng)[0]
            seqs.append(s[:10] + "TATAAA" + s[16:40] + "TATAAA" + s[46:] if label == 2 else s)
    return seqs, y


def _model(task="multiclass", n_classes=3, k=3, canonical=False, **hp) -> KmerLinearClassifier:
    return KmerLinearClassifier(KmerTokenizer(k=k, alphabet="dna", canonical=canonical), n_classes, hp, task)


def test_fit_predict_learns_and_shapes():
    seqs, y = _composition_problem(n=240)
    m = _model().fit(seqs, y)
    probs = m.predict_proba(seqs)
    assert probs.dtype == np.float32 and probs.shape == (240, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    test_seqs, test_y = _composition_problem(seed=1)
    assert (m.predict_proba(test_seqs).argmax(1) == test_y).mean() > 0.85
    feats = m.features(seqs)
    assert feats.dtype == np.float32 and feats.shape == (240, m.embedding_dim) == (240, 1 + 64)


def test_matches_sklearn_predict_proba():
    from sklearn.linear_model import LogisticRegression

    seqs, y = _composition_problem()
    for task, yy, n in (("multiclass", y, 3), ("binary", (y == 2).astype(int), 2)):
        m = _model(task=task, n_classes=n).fit(seqs, yy)
        ref = LogisticRegression(C=0.01, max_iter=2000, tol=1e-4).fit(m.features(seqs).astype(np.float64), yy)
        np.testing.assert_allclose(m.predict_proba(seqs), ref.predict_proba(m._standardised(seqs)), atol=1e-5)


@pytest.mark.parametrize(("task", "n_classes"), [("multiclass", 3), ("binary", 2), ("multilabel", 3)])
@pytest.mark.parametrize("transform", ["none", "sqrt", "log"])
def test_state_round_trip_is_exact_and_json_safe(task, n_classes, transform):
    seqs, y = _composition_problem()
    if task == "binary":
        y = (y == 1).astype(int)
    elif task == "multilabel":
        y = np.stack([y == 1, y == 2, np.zeros_like(y, dtype=bool)], axis=1).astype(int)
    m = _model(task=task, n_classes=n_classes, transform=transform, class_weight="balanced").fit(seqs, y)
    state = m.state_dict()
    assert set(state) == {"coef", "intercept", "mean", "scale"}
    assert all(isinstance(v, np.ndarray) and v.dtype.kind == "f" for v in state.values())
    json.dumps(m.hparams)
    fresh = _model(task=task, n_classes=n_classes, transform=transform, class_weight="balanced")
    fresh.load_state_dict({k: v.copy() for k, v in state.items()})
    np.testing.assert_array_equal(fresh.predict_proba(seqs), m.predict_proba(seqs))
    np.testing.assert_array_equal(fresh.features(seqs), m.features(seqs))


def test_state_survives_safetensors():
    from safetensors.numpy import load, save

    seqs, y = _composition_problem()
    m = _model().fit(seqs, y)
    fresh = _model().load_state_dict(load(save(m.state_dict())))
    np.testing.assert_array_equal(fresh.predict_proba(seqs), m.predict_proba(seqs))


def test_multilabel_sigmoid_and_constant_label():
    seqs, y = _composition_problem()
    yy = np.stack([y == 1, y == 2, np.zeros_like(y, dtype=bool)], axis=1).astype(int)
    m = _model(task="multilabel").fit(seqs, yy)
    p = m.predict_proba(seqs)
    assert p.shape == (120, 3)
    assert (p[:, 2] < 1e-3).all()  # never-present label -> its (clipped) prior
    assert ((p[:, 0] > 0.5) == (y == 1)).mean() > 0.9


def test_canonical_features_are_strand_symmetric():
    from bioseq.alphabets import DNA

    seqs, y = _composition_problem()
    m = _model(k=4, canonical=True).fit(seqs, y)
    rc = [DNA.reverse_complement(s) for s in seqs]
    np.testing.assert_allclose(m.predict_proba(rc), m.predict_proba(seqs), atol=1e-6)


def test_ambiguous_letters_count_as_unk():
    m = _model(transform="none", standardize=False)
    spec = m.spectrum(["ACGTN", "ACGTA"])
    assert spec[0, 0] == pytest.approx(1 / 3)  # 3-mers ACG, CGT, GTN: one covers N
    assert spec[1, 0] == 0.0
    np.testing.assert_allclose(spec.sum(1), 1.0)


def test_errors():
    seqs, y = _composition_problem()
    with pytest.raises(ConfigError, match="bogus"):
        _model(bogus=1)
    with pytest.raises(ConfigError, match="transform"):
        _model(transform="cube")
    with pytest.raises(ConfigError, match="not fitted"):
        _model().predict_proba(seqs)
    with pytest.raises(LabelError, match="no training sequence"):
        _model(n_classes=4).fit(seqs, y)
    with pytest.raises(LabelError):
        _model().fit(seqs, y[:-1])
    m = _model().fit(seqs, y)
    with pytest.raises(BundleError, match="shape"):
        _model(k=4).load_state_dict(m.state_dict())
    with pytest.raises(BundleError, match="coef"):
        _model().load_state_dict({"mean": m.state_dict()["mean"]})


def test_default_tokenizer_choices():
    assert KmerLinearClassifier.default_tokenizer("dna") == {"k": 4, "stride": 1, "canonical": False}
    assert KmerLinearClassifier.default_tokenizer("protein")["k"] == 2
    assert KmerLinearClassifier.default_hparams("dna")["max_tokens"] is None

"""The scikit-learn estimators (SequenceClassifier, KmerSpectrum): fit/predict on lists of
sequences, clone, Pipeline, cross_val_score, GridSearchCV, the estimator checks that apply
to string input, and the README's example."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks as ec

import bioseq
from bioseq.errors import AlphabetError, InputFormatError
from bioseq.estimators import KmerSpectrum, SequenceClassifier

torch.set_num_threads(1)
README = Path(__file__).resolve().parents[1] / "README.md"


def data(n: int = 40, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        seq = "".join(rng.choice("ACGT") for _ in range(30))
        lab = "ab"[i % 2]
        X.append(("TTTTTT" + seq[6:]) if lab == "b" else seq)
        y.append(lab)
    return X, y


def tiny() -> SequenceClassifier:
    return SequenceClassifier(arch="kmer-linear")


# ---------------------------------------------------------------- SequenceClassifier

def test_exported_lazily() -> None:
    assert bioseq.SequenceClassifier is SequenceClassifier and bioseq.KmerSpectrum is KmerSpectrum
    assert {"SequenceClassifier", "KmerSpectrum"} <= set(dir(bioseq))


def test_fit_predict_on_lists_of_sequences() -> None:
    X, y = data()
    clf = tiny()
    assert clf.fit(X, y) is clf
    assert list(clf.classes_) == ["a", "b"] and clf.model_.labels == ["a", "b"]
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), clf.model_.predict(X).predicted)
    assert clf.score(X, y) >= 0.8
    # numeric classes come back as numbers; probabilities follow classes_ order, not str order
    y_num = [10 if lab == "a" else 2 for lab in y]
    num = tiny().fit(np.array(X), np.array(y_num))
    assert list(num.classes_) == [2, 10] and num.predict(X[:4]).dtype.kind == "i"
    np.testing.assert_allclose(num.predict_proba(X)[:, ::-1], proba, atol=1e-6)


def test_fit_takes_any_input_form_and_labels_from_records() -> None:
    X, y = data()
    pairs = [(f"r{i}", s) for i, s in enumerate(X)]
    ref = tiny().fit(X, y).predict_proba(X)
    np.testing.assert_allclose(tiny().fit(pairs, y).predict_proba(pairs), ref, atol=1e-6)
    triples = [(f"r{i}", s, lab) for i, (s, lab) in enumerate(zip(X, y, strict=True))]
    np.testing.assert_allclose(tiny().fit(triples).predict_proba(X), ref, atol=1e-6)


def test_errors() -> None:
    X, y = data()
    with pytest.raises(NotFittedError):
        tiny().predict(X)
    with pytest.raises(ValueError, match="40 sequences but y has 3"):
        tiny().fit(X, y[:3])
    with pytest.raises(ValueError, match="Unknown label type"):
        tiny().fit(X, np.linspace(0, 1, 40))
    with pytest.raises(AlphabetError, match="record 'seq1'"):
        tiny().set_params(alphabet="dna").fit([X[0], "ACGTQQ", *X[2:]], y)
    clf = tiny().fit(X, y)
    with pytest.raises(InputFormatError, match="neither an existing file nor a DNA sequence"):
        clf.predict(["no_such.fa"])


def test_clone_cross_val_score_and_grid_search() -> None:
    X, y = data()
    clf = tiny().set_params(hparams={"C_grid": [0.1]})
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "model_")
    scores = cross_val_score(tiny(), X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.5
    search = GridSearchCV(tiny(), {"hparams": [{"C_grid": [0.01]}, {"C_grid": [1.0]}]}, cv=3).fit(X, y)
    assert search.best_params_["hparams"] in ({"C_grid": [0.01]}, {"C_grid": [1.0]})
    assert search.predict(X[:3]).shape == (3,)


# ---------------------------------------------------------------- KmerSpectrum

def test_kmer_spectrum_counts_and_frequencies() -> None:
    seqs = ["ACGTA", "aann", "AC"]
    counts = KmerSpectrum(k=2, normalize=False).fit_transform(seqs)
    names = list(KmerSpectrum(k=2).get_feature_names_out())
    assert counts.dtype == np.float32 and counts.shape == (3, 17) and names[:3] == ["<unk>", "AA", "AC"]
    row = dict(zip(names, counts[0], strict=True))
    assert (row["AC"], row["CG"], row["GT"], row["TA"], row["<unk>"]) == (1, 1, 1, 1, 0)
    assert dict(zip(names, counts[1], strict=True))["<unk>"] == 2  # AN, NN
    freq = KmerSpectrum(k=2).fit_transform(seqs)
    np.testing.assert_allclose(freq.sum(1), 1.0, atol=1e-6)
    sparse = KmerSpectrum(k=2, sparse_output=True).fit_transform(seqs)
    np.testing.assert_array_equal(sparse.toarray(), freq)
    assert KmerSpectrum(k=3).transform(["AC"]).sum() == 0  # shorter than k: no k-mer
    assert KmerSpectrum(k=2, alphabet="protein").transform(["MKW"]).shape == (1, 401)
    with pytest.raises(AlphabetError):
        KmerSpectrum(k=2).transform(["ACGT", "MKQE"])
    with pytest.raises(InputFormatError, match="'MKQE' is neither an existing file nor a DNA sequence"):
        KmerSpectrum(k=2).transform(["MKQE"])


def test_kmer_spectrum_in_a_pipeline() -> None:
    X, y = data(60)
    pipe = make_pipeline(KmerSpectrum(k=3), LogisticRegression(max_iter=500))
    assert cross_val_score(pipe, np.array(X), y, cv=3).mean() > 0.7
    search = GridSearchCV(pipe, {"kmerspectrum__k": [2, 3]}, cv=3).fit(X, y)
    assert search.best_params_["kmerspectrum__k"] in (2, 3)


# ---------------------------------------------------------------- scikit-learn's estimator checks

# Checks that take no data, or only call predict on an unfitted estimator: they apply as they are.
APPLICABLE = [
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_mixin_order,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
]

# What cannot apply, and why. Every other check (check_estimator would run them) builds a
# numeric 2-D X (make_blobs, random floats, sparse matrices, NaN/inf, memmaps, DataFrames of
# floats) and fits on it: a sequence estimator refuses numbers by design (its tags say input
# is ``string``, not ``two_d_array``, so check_estimator itself skips them all). The ones
# whose intent matters for sequences are re-run below on sequence data:
#   check_estimators_overwrite_params, check_dont_overwrite_parameters,
#   check_estimators_fit_returns_self, check_fit_idempotent  -> test_fit_contract_on_sequences
#   check_estimators_unfitted                                 -> test_errors (NotFittedError)
#   check_classifiers_train, check_classifiers_classes        -> test_fit_predict_on_lists_of_sequences
#   check_pipeline_consistency                                -> test_kmer_spectrum_in_a_pipeline
# Not applicable at all: the n_features_in_ checks (a sequence has no fixed width), the
# sample_weight checks (fit takes none), array-API/sparse/dtype/pandas-float checks,
# check_estimators_pickle (bioseq never pickles; a fitted model saves with model_.save),
# check_classifiers_one_label (training needs two classes and a held-out split), and the
# multilabel/multioutput format checks (use bioseq.train for multi-label data).
NOT_APPLICABLE = (
    "n_features_in_ checks; sample_weight checks; numeric/sparse/NaN/dtype/memmap checks; "
    "pickle; one-label; multilabel/multioutput"
)


@pytest.mark.parametrize("estimator", [SequenceClassifier(), KmerSpectrum()], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", APPLICABLE, ids=lambda c: c.__name__)
def test_sklearn_checks_that_apply(estimator, check) -> None:
    check(type(estimator).__name__, estimator)


def test_check_estimator_skips_sequence_estimators() -> None:
    """check_estimator sees string input tags and runs no numeric check (rather than failing):
    only the clone check is generated."""
    with pytest.warns(SkipTestWarning, match="string=True"):
        checks = list(ec.estimator_checks_generator(SequenceClassifier(), legacy=True))
    assert [c.func.__name__ for _, c in checks] == ["check_estimator_cloneable"]


@pytest.mark.parametrize("make", [tiny, lambda: KmerSpectrum(k=2)], ids=["SequenceClassifier", "KmerSpectrum"])
def test_fit_contract_on_sequences(make) -> None:
    """check_estimators_overwrite_params + check_dont_overwrite_parameters + check_fit_idempotent,
    with sequences instead of make_blobs."""
    X, y = data()
    est = make().set_params(**({"hparams": {"C_grid": [0.1]}} if isinstance(make(), SequenceClassifier) else {}))
    params = {k: (dict(v) if isinstance(v, dict) else v) for k, v in est.get_params().items()}
    before = dict(vars(est))
    assert est.fit(X, y) is est
    assert est.get_params() == params  # no parameter changed or mutated
    added = [k for k in vars(est) if k not in before and not k.startswith("_") and not k.endswith("_")]
    assert not added
    assert all(vars(est)[k] is v for k, v in before.items())
    out = est.predict_proba(X) if hasattr(est, "predict_proba") else est.transform(X)
    again = clone(est).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X) if hasattr(est, "predict_proba") else again.transform(X), out)


# ---------------------------------------------------------------- the README's Python API example

def test_readme_python_api_example_runs(tmp_path, monkeypatch) -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- tested: tests/test_estimators.py -->\n```python\n(.*?)```", text, re.S)
    assert blocks, "README lost its tested example"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})

"""Tests of the multi-k k-mer TF-IDF + logistic regression baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bioseq.errors import BundleError, ConfigError, LabelError
from bioseq.models import kmer_features
from bioseq.models.kmer_features import KmerSpace, fit_idf, gapped_patterns, hash_ids, tfidf
from bioseq.models.kmer_linear import KmerLinearClassifier
from bioseq.tokenize.kmer import KmerTokenizer

ROOT = Path(__file__).resolve().parents[1]


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


# ----------------------------------------------------------------------------- features


def test_counts_match_a_python_count_of_every_k_and_keep_row_order(monkeypatch):
    monkeypatch.setattr(kmer_features, "_CHUNK_ENTRIES", 128)  # 2 blocks: 64 letters a chunk, sorted by length
    rng = np.random.default_rng(0)
    seqs = [s[: int(n)] for s, n in zip(_random_dna(40, 90, rng), rng.integers(1, 90, 40), strict=True)]
    seqs += ["ACGTNACGT", "N"]
    space = KmerSpace(KmerTokenizer(k=3, alphabet="dna"), k_min=2, buckets=10**6)
    counts = space.counts(seqs).toarray()
    assert counts.shape == (len(seqs), space.dim) == (len(seqs), (1 + 16) + (1 + 64))
    for k, tok, offset in zip((2, 3), space.tokenizers, space.offsets, strict=False):
        for row, seq in enumerate(seqs):
            want = np.zeros(space.offsets[k - 1] - offset)
            for kmer, n in Counter(seq[i : i + k] for i in range(len(seq) - k + 1)).items():
                col = 0 if "N" in kmer else 1 + int(tok.encode(kmer)[0]) - 4
                want[col] += n
            np.testing.assert_array_equal(counts[row, offset : offset + len(want)], want)


def test_large_vocabularies_are_hashed_into_buckets_deterministically():
    space = KmerSpace(KmerTokenizer(k=4, alphabet="dna"), k_min=1, buckets=32)
    assert space.hashed == [False, False, True, True]  # 4, 16 k-mers; 64 and 256 hashed
    assert space.dim == (1 + 4) + (1 + 16) + (1 + 32) + (1 + 32)
    # pinned: bundles rely on these buckets never changing
    assert hash_ids(np.arange(6), 1000).tolist() == PINNED_HASHES
    b = hash_ids(np.arange(256), 32)
    assert b.min() >= 0 and b.max() < 32 and len(np.unique(b)) == 32
    c = space.counts(["ACGTACGTTTGA"]).toarray()[0]
    assert c[space.offsets[2] : space.offsets[3]].sum() == 10  # 12 letters: ten 3-mers, nine 4-mers
    assert c[space.offsets[3] :].sum() == 9


PINNED_HASHES = [535, 465, 110, 53, 978, 618]


def test_gapped_patterns_hold_both_ends_of_each_span():
    assert gapped_patterns(0, []) == []
    assert gapped_patterns(2, [5, 3]) == [(0, 2), (0, 4)]
    assert gapped_patterns(3, [4]) == [(0, 1, 3), (0, 2, 3)]
    assert len(gapped_patterns(6, [9])) == 35  # C(7, 4): the DNA default
    for k, spans in ((1, [3]), (3, [3]), (2, [])):
        with pytest.raises(ConfigError, match="gap_k"):
            gapped_patterns(k, spans)


def _python_gapped_counts(seq: str, pattern: tuple, stride: int, letters: str) -> Counter:
    """Reference: the letters at ``pattern`` in each window, or None when one is not in ``letters``."""
    out = Counter()
    for start in range(0, len(seq) - pattern[-1], stride):
        word = "".join(seq[start + j] for j in pattern)
        out[word if all(c in letters for c in word) else None] += 1
    return out


@pytest.mark.parametrize(("alphabet", "letters", "stride", "buckets"), [
    ("dna", "ACGT", 1, 10**6), ("dna", "ACGT", 2, 10**6), ("dna", "ACGT", 1, 7),
    ("protein", "ACDEFGHIKLMNPQRSTVWY", 1, 10**6),
])
def test_gapped_counts_match_a_python_count(monkeypatch, alphabet, letters, stride, buckets):
    monkeypatch.setattr(kmer_features, "_CHUNK_ENTRIES", 256)  # 4 blocks: 64 letters a chunk, sorted by length
    rng = np.random.default_rng(1)
    pool = list(letters) + ["N" if alphabet == "dna" else "X"]
    seqs = ["".join(rng.choice(pool, size=int(n))) for n in rng.integers(1, 30, 30)] + ["AC", ""]
    tok = KmerTokenizer(k=2, alphabet=alphabet, stride=stride)
    space = KmerSpace(tok, k_min=1, buckets=buckets, gap_k=2, gap_spans=[3, 5])
    counts = space.counts(seqs).toarray()
    first = len(space.tokenizers)
    assert space.dim == space.offsets[-1] and len(space.patterns) == 2
    for j, pattern in enumerate(space.patterns):
        block = counts[:, space.offsets[first + j] : space.offsets[first + j + 1]]
        hashed = space.hashed[first + j]
        assert hashed == (len(letters) ** 2 > buckets)
        for row, seq in enumerate(seqs):
            want = np.zeros(block.shape[1])
            for word, n in _python_gapped_counts(seq, pattern, stride, letters).items():
                code = None if word is None else letters.index(word[0]) * len(letters) + letters.index(word[1])
                want[0 if code is None else 1 + (int(hash_ids(np.array([code]), buckets)[0]) if hashed else code)] += n
            np.testing.assert_array_equal(block[row], want, err_msg=f"{seq} {pattern}")


def test_gapped_kmers_are_on_for_new_models_and_off_for_older_bundles():
    tok = KmerTokenizer(k=3, alphabet="dna")
    new = KmerLinearClassifier(tok, 2, KmerLinearClassifier.default_hparams("dna"), "binary")
    assert new.space.patterns == gapped_patterns(6, [9])
    assert KmerLinearClassifier.default_hparams("protein")["gap_k"] == 2
    older = {k: v for k, v in KmerLinearClassifier.default_hparams("dna").items() if not k.startswith("gap_")}
    assert KmerLinearClassifier(tok, 2, older, "binary").space.patterns == []
    with pytest.raises(ConfigError, match="strand-specific"):
        _model(canonical=True, gap_k=2, gap_spans=[4])


def test_features_are_identical_in_another_process(tmp_path):
    seqs, y = _composition_problem()
    m = _model(k=4, hash_buckets=32).fit(seqs, y)
    state = tmp_path / "state.npz"
    np.savez(state, **m.state_dict())
    script = (
        "import sys, numpy as np\n"
        "from bioseq.models.kmer_linear import KmerLinearClassifier\n"
        "from bioseq.tokenize.kmer import KmerTokenizer\n"
        "m = KmerLinearClassifier(KmerTokenizer(k=4, alphabet='dna'), 3, {'hash_buckets': 32}, 'multiclass')\n"
        "m.load_state_dict(dict(np.load(sys.argv[1])))\n"
        "seqs = sys.argv[3].split(',')\n"
        "np.savez(sys.argv[2], feats=m.features(seqs), probs=m.predict_proba(seqs))\n"
    )
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}.npz"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", script, str(state), str(out), ",".join(seqs[:10])],
                       check=True, env=env)
        got = np.load(out)
        np.testing.assert_array_equal(got["feats"], m.features(seqs[:10]))
        np.testing.assert_array_equal(got["probs"], m.predict_proba(seqs[:10]))


@pytest.mark.parametrize("tf", ["raw", "log"])
def test_tfidf_matches_scikit_learn(tf):
    from sklearn.feature_extraction.text import TfidfTransformer

    seqs, _ = _composition_problem()
    counts = KmerSpace(KmerTokenizer(k=3, alphabet="dna"), 1, 10**6).counts(seqs)
    ref = TfidfTransformer(sublinear_tf=tf == "log").fit(counts)
    idf = fit_idf(counts)
    np.testing.assert_allclose(idf, ref.idf_, rtol=1e-12)
    np.testing.assert_allclose(tfidf(counts, idf, tf).toarray(), ref.transform(counts).toarray(), atol=1e-12)


def test_rows_do_not_depend_on_the_batch():
    seqs, y = _composition_problem()
    m = _model().fit(seqs, y)
    full = m.predict_proba(seqs)
    np.testing.assert_array_equal(m.predict_proba(seqs[5:6]), full[5:6])
    np.testing.assert_array_equal(m.predict_proba(seqs[::-1])[::-1], full)


# ----------------------------------------------------------------------------- fit / predict


def test_fit_predict_learns_and_shapes():
    seqs, y = _composition_problem(n=240)
    valid_seqs, valid_y = _composition_problem(n=60, seed=2)
    m = _model().fit(seqs, y, valid=(valid_seqs, valid_y))
    probs = m.predict_proba(seqs)
    assert probs.dtype == np.float32 and probs.shape == (240, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    test_seqs, test_y = _composition_problem(seed=1)
    assert (m.predict_proba(test_seqs).argmax(1) == test_y).mean() > 0.85
    feats = m.features(seqs)
    assert feats.dtype == np.float32 and feats.shape == (240, m.embedding_dim) == (240, 5 + 17 + 65)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, rtol=1e-5)


def test_matches_sklearn_predict_proba_at_the_chosen_C():
    from sklearn.linear_model import LogisticRegression

    seqs, y = _composition_problem()
    valid_seqs, valid_y = _composition_problem(n=60, seed=2)
    binary = ("binary", (y == 2).astype(int), (valid_y == 2).astype(int), 2)
    for task, yy, vy, n in (("multiclass", y, valid_y, 3), binary):
        m = _model(task=task, n_classes=n).fit(seqs, yy, valid=(valid_seqs, vy))
        x = m.weighted(seqs)
        ref = LogisticRegression(C=m.selection.C, max_iter=2000, tol=1e-4).fit(x, yy)
        np.testing.assert_allclose(m.predict_proba(seqs), ref.predict_proba(x), atol=1e-5)


@pytest.mark.parametrize("multilabel", [False, True])
def test_columns_without_training_values_get_weight_zero_and_leave_the_fit_unchanged(multilabel):
    """fit_logistic skips the columns no training row holds (active_columns): the same fit as on
    the matrix without them, their weights exactly zero, and a sparse fit that matches scikit-learn
    on every column."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    from bioseq.models.logistic import active_columns, fit_logistic

    rng = np.random.default_rng(0)
    dense = rng.random((40, 6)) * (rng.random((40, 6)) < 0.5)
    y = (dense[:, 0] + dense[:, 1] > dense[:, 2] + 0.3).astype(int)
    target = np.stack([y, 1 - y], axis=1) if multilabel else y
    padded = np.zeros((40, 10))
    padded[:, [1, 3, 4, 6, 8, 9]] = dense  # columns 0, 2, 5 and 7 hold nothing
    x = sp.csr_matrix(padded)
    assert active_columns(x).tolist() == [1, 3, 4, 6, 8, 9]
    full = fit_logistic(x, target, 2, multilabel=multilabel, standardize=False, C=3.0)
    alone = fit_logistic(sp.csr_matrix(dense), target, 2, multilabel=multilabel, standardize=False, C=3.0)
    np.testing.assert_array_equal(full.coef[:, [0, 2, 5, 7]], 0.0)
    np.testing.assert_array_equal(full.coef[:, [1, 3, 4, 6, 8, 9]], alone.coef)
    np.testing.assert_array_equal(full.intercept, alone.intercept)
    if not multilabel:
        ref = LogisticRegression(C=3.0, max_iter=1000, tol=1e-4).fit(x, y)
        np.testing.assert_allclose(full.predict_proba(x)[:, 1], ref.predict_proba(x)[:, 1], atol=1e-6)
    empty = fit_logistic(sp.csr_matrix((4, 3)), np.array([0, 1, 0, 1]), 2, standardize=False)
    assert empty.coef.shape == (2, 3)  # no stored value anywhere: one column is kept to fit the intercept


def _motif_problem(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Label 1 = carries GGGCCCGG: separable, so weak regularisation (large C) is right."""
    rng = np.random.default_rng(seed)
    seqs, y = _random_dna(n, 50, rng), np.arange(n) % 2
    seqs = [s[:20] + "GGGCCCGG" + s[28:] if label else s for s, label in zip(seqs, y, strict=True)]
    return seqs, y


def test_C_is_chosen_on_the_validation_split():
    seqs, y = _motif_problem(200, seed=0)
    valid_seqs, valid_y = _motif_problem(100, seed=1)
    grid = [0.01, 0.1, 1.0, 10.0, 100.0]
    clean = _model(task="binary", n_classes=2, C_grid=grid).fit(seqs, y, valid=(valid_seqs, valid_y))
    assert clean.selection.C >= 10.0  # the signal is real: weak regularisation wins
    # Same training set, validation labels flipped: whatever the training set teaches is wrong
    # there, so the strongest regularisation (closest to the prior) must win.
    noisy = _model(task="binary", n_classes=2, C_grid=grid).fit(seqs, y, valid=(valid_seqs, 1 - valid_y))
    assert noisy.selection.C == 0.01
    assert np.isnan(noisy.selection.valid_loss[2:]).all()  # the path stopped once the loss rose
    losses = clean.selection.valid_loss
    assert losses[grid.index(clean.selection.C)] == np.nanmin(losses)


def test_a_passed_deadline_stops_the_C_search_after_one_fit():
    """``--arch auto`` caps kmer-linear's share of its budget with a deadline: once it has passed,
    the search keeps its first (smallest) C and leaves the rest of the path unfitted."""
    seqs, y = _motif_problem(200, seed=0)
    valid = _motif_problem(100, seed=1)
    grid = [0.01, 0.1, 1.0, 10.0, 100.0]
    late = _model(task="binary", n_classes=2, C_grid=grid).fit(seqs, y, valid=valid, deadline=time.monotonic())
    assert late.selection.C == 0.01 and np.isnan(late.selection.valid_loss[1:]).all()
    later = time.monotonic() + 600
    unhurried = _model(task="binary", n_classes=2, C_grid=grid).fit(seqs, y, valid=valid, deadline=later)
    assert unhurried.selection.C >= 10.0  # the same search as without a deadline (see above)


def test_fit_without_validation_holds_out_every_fifth_sequence():
    seqs, y = _motif_problem(200, seed=0)
    m = _model(task="binary", n_classes=2, C_grid=[0.01, 100.0]).fit(seqs, y)
    assert m.selection is not None and m.selection.C == 100.0
    one = _model(task="binary", n_classes=2, C_grid=[0.5]).fit(seqs, y)
    assert one.selection is None
    assert one.state_dict()["C_selected"].shape == (0,)


@pytest.mark.parametrize(("task", "n_classes"), [("multiclass", 3), ("binary", 2), ("multilabel", 3)])
@pytest.mark.parametrize("tf", ["raw", "log"])
def test_state_round_trip_is_exact_and_json_safe(task, n_classes, tf):
    seqs, y = _composition_problem()
    if task == "binary":
        y = (y == 1).astype(int)
    elif task == "multilabel":
        y = np.stack([y == 1, y == 2, np.zeros_like(y, dtype=bool)], axis=1).astype(int)
    hp = {"tf": tf, "class_weight": "balanced", "hash_buckets": 32}
    m = _model(task=task, n_classes=n_classes, **hp).fit(seqs, y)
    state = m.state_dict()
    assert set(state) == {"coef", "intercept", "mean", "scale", "idf", "C_grid", "valid_loss", "C_selected"}
    assert all(isinstance(v, np.ndarray) and v.dtype.kind == "f" for v in state.values())
    json.dumps(m.hparams)
    fresh = _model(task=task, n_classes=n_classes, **hp)
    fresh.load_state_dict({k: v.copy() for k, v in state.items()})
    np.testing.assert_array_equal(fresh.predict_proba(seqs), m.predict_proba(seqs))
    np.testing.assert_array_equal(fresh.features(seqs), m.features(seqs))
    assert fresh.selection.C == m.selection.C


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


def test_ambiguous_letters_count_as_unk_and_short_sequences_keep_their_small_k():
    space = _model().space
    c = space.counts(["ACGTN", "ACGTA", "AC"]).toarray()
    unk = c[:, space.offsets[:-1]]  # the UNK column of k = 1, 2, 3
    assert unk.tolist() == [[1, 1, 1], [0, 0, 0], [0, 0, 0]]  # N; TN; GTN
    assert c[2].sum() == 2 + 1  # "AC": two 1-mers, one 2-mer, no 3-mer


def test_errors():
    seqs, y = _composition_problem()
    with pytest.raises(ConfigError, match="bogus"):
        _model(bogus=1)
    with pytest.raises(ConfigError, match="tf"):
        _model(tf="cube")
    with pytest.raises(ConfigError, match="earlier"):
        _model(transform="sqrt")
    with pytest.raises(ConfigError, match="k_min"):
        _model(k_min=4)
    with pytest.raises(ConfigError, match="C_grid"):
        _model(C_grid=[])
    with pytest.raises(ConfigError, match="C_grid"):
        _model(C_grid="1.0")
    with pytest.raises(ConfigError, match="not fitted"):
        _model().predict_proba(seqs)
    with pytest.raises(LabelError, match="no training sequence"):
        _model(n_classes=4).fit(seqs, y)
    with pytest.raises(LabelError):
        _model().fit(seqs, y[:-1])
    with pytest.raises(LabelError, match="validation"):
        _model().fit(seqs, y, valid=(seqs, y[:-1]))
    m = _model().fit(seqs, y)
    with pytest.raises(BundleError, match="shape"):
        _model(k=4).load_state_dict(m.state_dict())
    with pytest.raises(BundleError, match="coef"):
        _model().load_state_dict({k: v for k, v in m.state_dict().items() if k != "coef"})
    with pytest.raises(BundleError, match="idf"):
        _model().load_state_dict({k: v for k, v in m.state_dict().items() if k != "idf"})


def test_defaults():
    assert KmerLinearClassifier.default_tokenizer("dna") == {"k": 8, "stride": 1, "canonical": False}
    assert KmerLinearClassifier.default_tokenizer("protein")["k"] == 3
    dna, protein = KmerLinearClassifier.default_hparams("dna"), KmerLinearClassifier.default_hparams("protein")
    assert dna["max_tokens"] is None and dna["tf"] == "log" and protein["tf"] == "raw"
    dna["C_grid"].append(1e6)  # a copy: the defaults are not shared
    assert 1e6 not in KmerLinearClassifier.default_hparams("dna")["C_grid"]


def test_check_model_passes():
    from bioseq.models.registry import check_model

    check_model(KmerLinearClassifier)
    check_model(KmerLinearClassifier, alphabet="protein", n_classes=2)

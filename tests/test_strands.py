"""Test-time reverse-complement averaging: ``strands = "both"`` on a classifier, ``--test-time-rc``
at training, and ``--arch auto`` deciding it per member on validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bioseq
from bioseq.alphabets import DNA
from bioseq.bundle import read_metadata
from bioseq.errors import ConfigError
from bioseq.io.readers import SequenceItem
from bioseq.models.fingerprint import compute_fingerprint
from bioseq.training.auto import decide_strands
from bioseq.training.config import TrainConfig
from bioseq.training.single import load_data
from tests.test_bundle import TINY, records

torch.set_num_threads(1)

SEQS = ["ACGTACGGGCCCTTAGCATGCAAACGTTTGCAACGA", "GGGCCCATATATCGCGATCGATCGTAGCTAGCTAGA"]


@pytest.fixture(scope="module")
def net():
    """A tiny cnn-lstm reading one strand (the default)."""
    return bioseq.train(records(), arch="cnn-lstm", hparams=TINY["cnn-lstm"], epochs=1, batch_size=16, progress=False)


def test_both_strands_model_predicts_the_mean_of_a_sequence_and_its_reverse_complement(net):
    clf = net
    forward = clf.predict_proba_sequences(SEQS)
    reverse = clf.predict_proba_sequences([DNA.reverse_complement(s) for s in SEQS])
    assert not np.allclose(forward, reverse)  # the net is not strand-symmetric by itself
    clf.strands = "both"
    try:
        np.testing.assert_allclose(clf.predict_proba_sequences(SEQS), (forward + reverse) / 2, atol=1e-6)
    finally:
        clf.strands = "given"


def test_strands_is_saved_fingerprinted_and_absent_for_one_strand_models(net, tmp_path):
    clf = net
    one = net.fingerprint
    # A one-strand configuration has no "strands" key: bundles from before it existed keep their fingerprint.
    assert "strands" not in clf.config()
    assert compute_fingerprint(clf.state_arrays(), clf.config()) == one
    clf.strands = "both"
    try:
        assert net.fingerprint != one
        net.save(tmp_path / "both.safetensors")
    finally:
        clf.strands = "given"
    assert read_metadata(tmp_path / "both.safetensors")["strands"] == "both"
    loaded = bioseq.load(tmp_path / "both.safetensors")
    assert loaded.strands == "both"
    np.testing.assert_allclose(
        loaded.predict_proba_sequences(SEQS), net.predict_proba_sequences(SEQS, both_strands=True),
        atol=1e-6,
    )


def test_train_with_test_time_rc_stores_both_strand_validation_metrics(tmp_path):
    out = tmp_path / "rc.safetensors"
    valid = records(24, seed=3)
    model = bioseq.train(
        records(), valid, arch="cnn-lstm", hparams=TINY["cnn-lstm"], epochs=1, batch_size=16, progress=False,
        test_time_rc=True, output=out,
    )
    assert model.strands == "both"
    meta = read_metadata(out)
    assert meta["strands"] == "both" and meta["training"]["test_time_rc"] is True
    probs = model.predict_proba_sequences([r.seq for r in valid])
    truth = np.array([model.labels.index(r.labels[0]) for r in valid])
    assert meta["metrics"]["accuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == truth)))


def test_test_time_rc_is_refused_for_proteins():
    prot = [SequenceItem(f"p{i}", "MKV" * 5 + "AL"[i % 2] * 4, ("ab"[i % 2],)) for i in range(20)]
    with pytest.raises(ConfigError, match="DNA/RNA"):
        bioseq.train(prot, arch="kmer-linear", test_time_rc=True, progress=False)


@pytest.mark.parametrize("both_wins", [True, False])
def test_auto_switches_a_member_to_both_strands_only_when_validation_improves(net, both_wins):
    data = load_data(records(), records(24, seed=3), TrainConfig(arch="cnn-lstm"))
    clf = net
    both = clf.predict_proba_sequences(data.valid.seqs, both_strands=True)

    def score(p):  # a stand-in metric that prefers one reading or the other
        return float(np.allclose(p, both, atol=1e-6) == both_wins)

    try:
        chosen = decide_strands(clf, data, score)
        assert clf.strands == ("both" if both_wins else "given")
        assert np.allclose(chosen, both, atol=1e-6) == both_wins
        assert clf.metadata["strands_validation"] == {"given": float(not both_wins), "both": float(both_wins)}
    finally:
        clf.strands = "given"

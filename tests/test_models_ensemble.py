"""``--arch auto`` ensembles: training, weight selection, bundle round trips and refusals, info."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bioseq
from bioseq.api import EnsembleModel
from bioseq.bundle import FORMAT_VERSION, SINGLE_FORMAT_VERSION, read_metadata
from bioseq.cli import main
from bioseq.errors import BundleError, ConfigError
from bioseq.evaluate.metrics import validation_metrics
from bioseq.models.ensemble import EnsembleClassifier, weighted_average
from bioseq.training.auto import (
    DEFAULT_CANDIDATES,
    MAX_SEEDS,
    MIN_SHARE_S,
    REPEAT_MARGIN,
    RESERVE,
    repeat_share_s,
    round_seed,
    seed_rounds,
    select_bagged_weights,
    select_weights,
)
from bioseq.training.config import TrainConfig
from tests.test_bundle import TINY, records, rewrite

torch.set_num_threads(1)

AUTO_HP = {"cnn-lstm": TINY["cnn-lstm"], "transformer": TINY["transformer"]}
SEQS = [r.seq for r in records(20, seed=5)] + ["ACGTNNACGTACGTACGTAAAC"]


@pytest.fixture(scope="module")
def auto(tmp_path_factory):
    """An auto-trained ensemble on tiny data with tiny nets: (model, path, validation records)."""
    path = tmp_path_factory.mktemp("auto") / "auto.safetensors"
    valid = records(24, seed=9)
    model = bioseq.train(
        records(), valid, arch="auto", hparams=AUTO_HP, epochs=2, batch_size=16, max_time=0.5,
        seeds_per_net=2, output=path, progress=False,
    )
    return model, path, valid


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    """A hand-made 3-member ensemble (three tokenizers), saved: (model, path)."""
    members = [
        bioseq.train(records(), arch=arch, hparams=TINY[arch], epochs=1, batch_size=16, progress=False)
        for arch in DEFAULT_CANDIDATES
    ]
    model = EnsembleModel.wrap(EnsembleClassifier(members, [0.5, 0.3, 0.2]))
    path = tmp_path_factory.mktemp("trio") / "trio.safetensors"
    model.save(path)
    return model, path


# ----------------------------------------------------------------------------- training


def test_auto_trains_every_candidate_and_records_them(auto):
    model, path, _ = auto
    meta = read_metadata(path)
    assert isinstance(model, EnsembleModel) and model.arch == "auto"
    archs = [c["arch"] for c in meta["candidates"]]
    assert archs[:3] == list(DEFAULT_CANDIDATES)  # closed form first, then one round of the nets
    assert archs[3:] in (["cnn-lstm", "transformer"], ["cnn-lstm"], [], ["transformer"])  # a 2nd seed if time
    assert [c["seed"] for c in meta["candidates"][:3]] == [0, 0, 0]
    assert all(c["seed"] == round_seed(0, 1) for c in meta["candidates"][3:])
    # Without --test-time-rc no member is offered both strands.
    assert all(c["strands"] == "given" and c["strands_validation"] is None for c in meta["candidates"])
    kept = [c for c in meta["candidates"] if c["weight"] > 0]
    assert [c["arch"] for c in kept] == [m.arch for m in model.members]
    assert meta["training"]["candidates"] == list(DEFAULT_CANDIDATES) and meta["training"]["seeds_per_net"] == 2
    assert sum(c["weight"] for c in meta["candidates"]) == pytest.approx(1.0)
    assert meta["format_version"] == FORMAT_VERSION and meta["kind"] == "ensemble"
    nets = [c for c in meta["candidates"] if c["arch"] != "kmer-linear"]
    assert all(0 < c["max_time_min"] < 0.5 for c in nets)  # the nets share the budget
    # kmer-linear runs first, capped at an equal share among the three candidates (less the reserve).
    assert meta["candidates"][0]["max_time_min"] == pytest.approx(0.5 * (1 - RESERVE) / 3)
    assert {r["member"] for r in meta["history"]} == set(DEFAULT_CANDIDATES)


def test_never_worse_on_validation_than_its_best_member(auto):
    model, path, valid = auto
    meta = read_metadata(path)
    loaded = bioseq.load(path)
    y = np.array([0 if r.labels == ("a",) else 1 for r in valid])
    probs = loaded.predict_proba_sequences([r.seq for r in valid])
    score = validation_metrics("binary", y, probs)["mcc"]
    assert score == pytest.approx(meta["metrics"]["mcc"])
    best_member = max(c["selection_score"] for c in meta["candidates"] if c["selection_score"] is not None)
    assert score >= best_member


def test_select_weights_never_worse_and_ties_keep_fewer_members():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    probs = []
    for noise in (1.0, 1.2, 1.5):
        logits = np.eye(3)[y] + rng.normal(0, noise, (200, 3))
        p = np.exp(logits)
        probs.append((p / p.sum(1, keepdims=True)).astype(np.float32))

    def score(p):
        return validation_metrics("multiclass", y, p)["mcc"]

    weights, best, singles = select_weights(probs, score)
    assert best >= max(singles) and weights.sum() == pytest.approx(1.0)
    assert score(weighted_average(probs, weights)) == best
    # identical members: adding a copy never strictly improves, so one member is kept
    weights, best, singles = select_weights([probs[0], probs[0].copy()], score)
    assert weights.tolist() == [1.0, 0.0] and best == singles[0]
    # a NaN score counts as the worst
    weights, _, _ = select_weights(probs[:2], lambda p: np.nan if p is probs[0] else 0.0)
    assert weights.tolist() == [0.0, 1.0]


def test_without_a_budget_every_net_trains_seeds_per_net_seeds():
    model = bioseq.train(
        records(), records(24, seed=9), arch="auto", candidates=("kmer-linear", "cnn-lstm"),
        hparams={"cnn-lstm": TINY["cnn-lstm"]}, epochs=1, batch_size=16, seeds_per_net=3, progress=False,
    )
    cands = model.metadata["candidates"]
    assert [(c["arch"], c["seed"]) for c in cands] == [
        ("kmer-linear", 0), ("cnn-lstm", 0), ("cnn-lstm", round_seed(0, 1)), ("cnn-lstm", round_seed(0, 2)),
    ]
    hist = model.metadata["history"]
    assert {(r["member"], r["seed"]) for r in hist} == {(c["arch"], c["seed"]) for c in cands}
    # Different seeds give different nets (the data and split are the same: read once).
    losses = {r["seed"]: r["train_loss"] for r in hist if r["member"] == "cnn-lstm"}
    assert len(set(losses.values())) == 3, losses


def test_seed_rounds_and_repeat_shares():
    assert round_seed(7, 0) == 7
    later = {round_seed(s, r) for s in range(3) for r in range(1, MAX_SEEDS)}
    assert len(later) == 3 * (MAX_SEEDS - 1) and not later & {0, 1, 2}  # nearby runs share no member seed
    assert seed_rounds(TrainConfig(arch="auto")) == 1
    assert seed_rounds(TrainConfig(arch="auto", max_time=10)) == MAX_SEEDS
    assert seed_rounds(TrainConfig(arch="auto", max_time=10, seeds_per_net=2)) == 2
    # First round: an equal share of what is left, never under MIN_SHARE_S, even if the first run was long.
    assert repeat_share_s(100.0, 2, 500.0, 0) == 50.0
    assert repeat_share_s(1.0, 2, 0.0, 0) == MIN_SHARE_S
    # Repeats: only when the share covers the first seed's time with the margin (no truncated repeat).
    assert repeat_share_s(100.0, 2, 50.0 / REPEAT_MARGIN, 1) == 50.0
    assert repeat_share_s(100.0, 2, 50.0 / REPEAT_MARGIN + 0.1, 1) is None


def test_seed_bags_average_each_architecture_before_selecting():
    y = np.array([0, 1, 0, 1])
    good = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    bad = good[:, ::-1].copy()

    def score(p):
        return float((p.argmax(1) == y).mean())

    # Two seeds of "a" (one good, one bad) are averaged first: the bag scores 0.5 and loses to "b",
    # which ties the good seed of "a" (ties keep the mixture, not a lone seed).
    weights, best, singles = select_bagged_weights([good, bad, good], ["a", "a", "b"], score)
    assert weights.tolist() == [0.0, 0.0, 1.0] and best == 1.0 and singles == [1.0, 0.0, 1.0]  # own scores
    # A kept bag's weight is shared equally by its seeds.
    weights, _, _ = select_bagged_weights([good, good, bad], ["a", "a", "b"], score)
    assert weights.tolist() == [0.5, 0.5, 0.0]
    # One seed better than every mixture of bags is kept alone: never worse than the best member.
    weights, best, singles = select_bagged_weights([good, bad, bad], ["a", "a", "b"], score)
    assert weights.tolist() == [1.0, 0.0, 0.0] and best == 1.0 and singles == [1.0, 0.0, 0.0]


def test_auto_refuses_options_it_cannot_honour():
    with pytest.raises(ConfigError, match="tokenizer"):
        bioseq.train(records(), arch="auto", k=3)
    with pytest.raises(ConfigError, match="no candidate"):
        bioseq.train(records(), arch="auto", hparams={"d_model": 8})
    with pytest.raises(ConfigError, match="arch auto"):
        bioseq.train(records(), arch="cnn-lstm", candidates=("kmer-linear",))
    with pytest.raises(ConfigError, match="distinct"):
        bioseq.train(records(), arch="auto", candidates=("kmer-linear", "auto"))
    with pytest.raises(ConfigError, match="seeds_per_net is for arch auto"):
        bioseq.train(records(), arch="cnn-lstm", seeds_per_net=2)
    with pytest.raises(ConfigError, match="whole number >= 1"):
        bioseq.train(records(), arch="auto", seeds_per_net=0)


def test_auto_is_a_training_mode_not_a_registry_name():
    from bioseq.errors import PluginError
    from bioseq.models import MODELS
    from bioseq.plugins import Registry

    assert "auto" not in MODELS.names()
    reg = Registry("bioseq.models-test-auto", validate=MODELS._validate)
    reg.register("auto", MODELS.get("kmer-linear"))  # a valid class, under the reserved name
    with pytest.raises(PluginError, match="reserved"):
        reg.get("auto")


# ----------------------------------------------------------------------------- bundle round trip


@pytest.mark.parametrize("which", ["auto", "trio"])
def test_round_trip_identical_predictions_and_embeddings(auto, trio, which):
    model, path = (auto[0], auto[1]) if which == "auto" else trio
    loaded = bioseq.load(path)
    assert isinstance(loaded, EnsembleModel)
    np.testing.assert_array_equal(model.predict_proba_sequences(SEQS), loaded.predict_proba_sequences(SEQS))
    np.testing.assert_array_equal(model.embed_sequences(SEQS), loaded.embed_sequences(SEQS))
    assert loaded.fingerprint == model.fingerprint == read_metadata(path)["fingerprint"]
    assert loaded.embedding_dim == model.embedding_dim == sum(m.embedding_dim for m in loaded.members)
    assert (loaded.labels, loaded.task, loaded.alphabet) == (["a", "b"], "binary", "dna")
    assert loaded.weights == model.weights


def test_ensemble_is_the_weighted_average_and_embeds_the_concatenation(trio):
    model, path = trio
    loaded = bioseq.load(path)
    assert [m.tokenizer.config()["k"] for m in loaded.members] == [8, 1, 4]  # kmer-linear: 1- to 8-mers
    member_probs = [m.predict_proba_sequences(SEQS) for m in loaded.members]
    expected = sum(w * p.astype(np.float64) for w, p in zip([0.5, 0.3, 0.2], member_probs, strict=True))
    np.testing.assert_allclose(loaded.predict_proba_sequences(SEQS), expected, rtol=1e-6)
    np.testing.assert_array_equal(
        loaded.embed_sequences(SEQS), np.concatenate([m.embed_sequences(SEQS) for m in loaded.members], axis=1)
    )
    preds = loaded.predict(records(6, seed=2))
    assert preds.probs.shape == (6, 2) and set(preds.predicted) <= {"a", "b"}
    with pytest.raises(ConfigError, match="single neural trunk"):
        loaded.embed_positions(SEQS[:2])


def test_embedding_cache_works_with_an_ensemble(trio, tmp_path):
    model, path = trio
    loaded = bioseq.load(path)
    recs = records(5, seed=4)
    first = loaded.embed(recs, cache=tmp_path / "c.h5")
    np.testing.assert_array_equal(first, loaded.embed(recs, cache=tmp_path / "c.h5"))
    assert first.shape == (5, loaded.embedding_dim)


# ----------------------------------------------------------------------------- refusals


def _bump_member(i):
    def edit(tensors):
        name = sorted(k for k in tensors if k.startswith(f"members.{i}.") and tensors[k].dtype.kind == "f")[0]
        return {**tensors, name: tensors[name] + 1.0}

    return edit


def _edit_member_config(m):
    m["members"][1]["hparams"] = {**m["members"][1]["hparams"], "conv_dropout": 0.5}


def _edit_member_tokenizer(m):
    m["members"][2]["long_input"] = {**m["members"][2]["long_input"], "policy": "center", "overlap": 0}


@pytest.mark.parametrize(
    "edit_meta, edit_tensors",
    [
        (None, _bump_member(1)),
        (_edit_member_config, None),
        (_edit_member_tokenizer, None),
        (lambda m: m.update(weights=[0.2, 0.3, 0.5]), None),
        (lambda m: m["members"].reverse(), None),
    ],
    ids=["member-weights", "member-hparams", "member-long-input", "ensemble-weights", "member-order"],
)
def test_tampered_member_is_refused_naming_the_file(trio, tmp_path, edit_meta, edit_tensors):
    _, path = trio
    bad = rewrite(path, tmp_path / "tampered.safetensors", edit_meta, edit_tensors, refingerprint=False)
    with pytest.raises(BundleError, match="fingerprint") as err:
        bioseq.load(bad)
    assert "tampered.safetensors" in str(err.value)


def test_member_validation_record_is_not_fingerprinted(trio, tmp_path):
    """Like a single model's metrics and history: informational, not part of the identity."""
    model, path = trio

    def edit(m):
        m["members"][0]["metrics"] = {"mcc": 1.0}

    same = rewrite(path, tmp_path / "same.safetensors", edit, refingerprint=False)
    assert bioseq.load(same).fingerprint == model.fingerprint


def test_inconsistent_or_incomplete_ensembles_are_refused(trio, tmp_path):
    _, path = trio

    def relabel(m):
        m["members"][1]["labels"] = ["x", "y"]

    cases = {
        "relabel": (relabel, None, "member 1"),
        "weights": (lambda m: m.update(weights=[0.5, 0.5]), None, "one weight per member"),
        "stray": (None, lambda t: {**t, "members.7.x": np.ones(2, np.float32)}, "no member"),
        "nofp": (lambda m: m.pop("fingerprint"), None, "lacks fingerprint"),
        "newer": (lambda m: m.update(format_version=FORMAT_VERSION + 1), None, "newer.*upgrade bioseq"),
    }
    for name, (edit_meta, edit_tensors, match) in cases.items():
        bad = rewrite(path, tmp_path / f"{name}.safetensors", edit_meta, edit_tensors, refingerprint=name != "nofp")
        with pytest.raises(BundleError, match=match) as err:
            bioseq.load(bad)
        assert f"{name}.safetensors" in str(err.value)


def test_single_models_keep_format_2(tmp_path):
    path = tmp_path / "lin.safetensors"
    bioseq.train(records(), arch="kmer-linear", output=path, progress=False)
    assert read_metadata(path)["format_version"] == SINGLE_FORMAT_VERSION == 2


# ----------------------------------------------------------------------------- bioseq info


def test_info_lists_members_weights_and_candidates(auto, trio, capsys):
    assert main(["info", str(trio[1])]) == 0
    out = capsys.readouterr().out
    assert "auto (ensemble of 3 members)" in out
    for arch, w in zip(DEFAULT_CANDIDATES, ("0.500", "0.300", "0.200"), strict=True):
        assert any(arch in line and w in line for line in out.splitlines()), (arch, out)
    assert main(["info", str(auto[1])]) == 0
    out = capsys.readouterr().out
    assert "candidates:" in out and all(arch in out for arch in DEFAULT_CANDIDATES)
    rows = out.split("candidates:")[1].splitlines()
    assert all(any(line.split()[:2] == [c["arch"], str(c["seed"])] for line in rows)
               for c in read_metadata(auto[1])["candidates"])
    assert "budget:       0.5 min" in out

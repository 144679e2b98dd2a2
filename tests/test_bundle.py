"""Tests of model bundles: round trips, fingerprints, and refusal of every kind of bad file."""

from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

import bioseq
from bioseq.bundle import SINGLE_FORMAT_VERSION, compute_fingerprint, read_arrays, read_metadata
from bioseq.errors import BundleError
from bioseq.io.readers import SequenceItem

torch.set_num_threads(1)

TINY = {
    "cnn-lstm": {
        "conv_filters": [8],
        "conv_kernels": [5],
        "pool_sizes": [2],
        "rnn_hidden": 8,
        "head_hidden": 0,
    },
    "transformer": {"d_model": 16, "n_layers": 1, "n_heads": 2, "max_tokens": 32},
    "dilated-cnn": {"channels": 8, "dilations": [1, 2], "head_hidden": 0},
    "kmer-linear": {},
}


def records(n=80, length=36, seed=0):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lab = "ab"[i % 2]
        seq = "".join(rng.choice("ACGT") for _ in range(length))
        if lab == "b":
            seq = "GGGCCC" + seq[6:]
        out.append(SequenceItem(f"r{i}", seq, (lab,)))
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One tiny bundle per architecture: {arch: (model, path)}."""
    d = tmp_path_factory.mktemp("bundles")
    out = {}
    for arch, hp in TINY.items():
        path = d / f"{arch}.safetensors"
        m = bioseq.train(records(), arch=arch, hparams=hp, epochs=1, batch_size=16, output=path, progress=False)
        out[arch] = (m, path)
    return out


def rewrite(src, dst, edit_meta=None, edit_tensors=None, refingerprint=True):
    """Copy a bundle with edited metadata/tensors (as a buggy or foreign writer would)."""
    tensors, meta = read_arrays(src)
    if edit_tensors:
        tensors = edit_tensors(tensors)
    if edit_meta:
        edit_meta(meta)
    if refingerprint:
        meta["fingerprint"] = compute_fingerprint(tensors, meta)
    save_file(tensors, str(dst), metadata={"bioseq": json.dumps(meta)})
    return dst


# ----------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("arch", list(TINY))
def test_round_trip_identical_predictions(saved, arch):
    model, path = saved[arch]
    loaded = bioseq.load(path)
    seqs = [r.seq for r in records(20, seed=5)] + ["ACGTNNACGTACGTACGTAAAC"]
    assert np.array_equal(model.predict_proba_sequences(seqs), loaded.predict_proba_sequences(seqs))
    assert np.array_equal(model.embed_sequences(seqs), loaded.embed_sequences(seqs))
    assert loaded.fingerprint == model.fingerprint == read_metadata(path)["fingerprint"]
    assert (loaded.arch, loaded.labels, loaded.task, loaded.alphabet) == (arch, ["a", "b"], "binary", "dna")
    assert loaded.embedding_dim == model.embedding_dim
    assert loaded.tokenizer.config() == model.tokenizer.config()


def test_metadata_contents(saved):
    meta = read_metadata(saved["cnn-lstm"][1])
    for key in (
        "format",
        "format_version",
        "bioseq_version",
        "arch",
        "kind",
        "hparams",
        "tokenizer",
        "labels",
        "task",
        "long_input",
        "data_fingerprint",
        "metrics",
        "history",
        "created",
        "fingerprint",
    ):
        assert key in meta, key
    assert meta["format_version"] == SINGLE_FORMAT_VERSION  # ensembles are FORMAT_VERSION (3)
    assert len(meta["data_fingerprint"]["train"]) == 64
    assert meta["history"][0]["epoch"] == 1
    assert meta["long_input"]["policy"] == "windows"


def test_fingerprint_ignores_history_but_not_weights(saved, tmp_path):
    model, path = saved["cnn-lstm"]
    same = rewrite(path, tmp_path / "same.safetensors", lambda m: m.update(history=[], created="x"))
    assert bioseq.load(same).fingerprint == model.fingerprint

    def bump(t):
        k = sorted(t)[0]
        return {**t, k: t[k] + 1.0}

    other = rewrite(path, tmp_path / "other.safetensors", edit_tensors=bump)
    assert bioseq.load(other).fingerprint != model.fingerprint
    relabel = rewrite(path, tmp_path / "relabel.safetensors", lambda m: m.update(labels=["x", "y"]))
    assert bioseq.load(relabel).fingerprint != model.fingerprint


def test_save_replaces_an_existing_file_and_leaves_no_temporary_file(saved, tmp_path):
    model, _ = saved["kmer-linear"]
    dest = tmp_path / "m.safetensors"
    dest.write_text("old")
    model.save(dest)
    assert bioseq.load(dest).fingerprint == model.fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


class MarkerPayload:
    """Unpickling this object creates ``path``: a visible side effect, as malicious code would have."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_torch_save_file_with_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "evil.safetensors"
    torch.save({"w": torch.ones(3), "obj": MarkerPayload(marker)}, path)
    with pytest.raises(BundleError, match="not a safetensors") as err:
        bioseq.load(path)
    assert str(path) in str(err.value)
    assert not marker.exists(), "bioseq.load unpickled the file"
    # the payload is live: unpickling the same file does create the marker (a file object, since
    # torch.load hands a path named *.safetensors to safetensors)
    with open(path, "rb") as fh:
        torch.load(fh, weights_only=False)
    assert marker.exists()


def test_plain_pickle_with_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "raw.pt"
    path.write_bytes(pickle.dumps(MarkerPayload(marker)))
    with pytest.raises(BundleError, match="raw.pt"):
        bioseq.load(path)
    assert not marker.exists(), "bioseq.load unpickled the file"
    pickle.loads(path.read_bytes())  # the payload is live
    assert marker.exists()


@pytest.mark.parametrize("where", ["metadata", "tensor"])
def test_pickle_smuggled_inside_a_safetensors_bundle_is_never_run(saved, tmp_path, where):
    """A valid bundle carrying a pickle in its metadata (an extra safetensors metadata entry with
    ``format: pt``, and an extra key of the bioseq metadata; today: ignored) or as an extra uint8
    tensor (today: refused, the weights do not fit the architecture). Either way it never runs."""
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(MarkerPayload(marker))
    tensors, meta = read_arrays(saved["cnn-lstm"][1])
    if where == "tensor":
        tensors = {**tensors, "__pickle__": np.frombuffer(payload, np.uint8).copy()}
    else:
        meta["pickle"] = payload.decode("latin-1")
    meta["fingerprint"] = compute_fingerprint(tensors, meta)
    path = tmp_path / "smuggled.safetensors"
    extra = {"pickle": payload.decode("latin-1"), "format": "pt"} if where == "metadata" else {}
    save_file(tensors, str(path), metadata={"bioseq": json.dumps(meta), **extra})
    try:
        loaded = bioseq.load(path)
    except BundleError as exc:  # refused: fine, as long as the message names the file
        assert "smuggled.safetensors" in str(exc)
    else:  # ignored: fine, as long as the model works
        assert loaded.predict_proba_sequences(["ACGTACGTACGTACGTACGT"]).shape == (1, 2)
    assert not marker.exists(), "bioseq.load unpickled a payload inside the bundle"
    pickle.loads(payload)  # the payload is live
    assert marker.exists()


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("cut", [4, 100, -10])
def test_truncated_bundle_refused(saved, tmp_path, cut):
    data = saved["cnn-lstm"][1].read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[:cut])
    with pytest.raises(BundleError, match="cut.safetensors"):
        bioseq.load(path)


def test_other_bad_files(tmp_path, saved):
    missing = tmp_path / "none.safetensors"
    with pytest.raises(BundleError, match="no such"):
        bioseq.load(missing)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(BundleError):
        bioseq.load(empty)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": np.ones(3, np.float32)}, str(foreign))
    with pytest.raises(BundleError, match="without bioseq metadata"):
        bioseq.load(foreign)
    badjson = tmp_path / "badjson.safetensors"
    save_file({"w": np.ones(3, np.float32)}, str(badjson), metadata={"bioseq": "{not json"})
    with pytest.raises(BundleError, match="invalid JSON"):
        bioseq.load(badjson)
    flipped = tmp_path / "flipped.safetensors"
    data = bytearray(saved["cnn-lstm"][1].read_bytes())
    data[-3] ^= 0xFF  # one weight byte changed
    flipped.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="fingerprint"):
        bioseq.load(flipped)


def test_newer_format_version_refused(saved, tmp_path):
    path = rewrite(saved["cnn-lstm"][1], tmp_path / "v99.safetensors", lambda m: m.update(format_version=99))
    with pytest.raises(BundleError, match="newer.*upgrade bioseq"):
        bioseq.load(path)
    with pytest.raises(BundleError, match="format version"):
        read_metadata(path)


def test_unknown_architecture_refused(saved, tmp_path):
    path = rewrite(saved["cnn-lstm"][1], tmp_path / "arch.safetensors", lambda m: m.update(arch="quantum-net"))
    with pytest.raises(BundleError, match="quantum-net.*installed:.*cnn-lstm") as err:
        bioseq.load(path)
    assert "arch.safetensors" in str(err.value)


def test_weights_not_matching_architecture_refused(saved, tmp_path):
    def change(m):
        m["hparams"] = {**m["hparams"], "rnn_hidden": 12}

    path = rewrite(saved["cnn-lstm"][1], tmp_path / "shape.safetensors", change)
    with pytest.raises(BundleError, match="do not match architecture 'cnn-lstm'"):
        bioseq.load(path)

    def drop(t):
        return {k: v for k, v in t.items() if not k.startswith("head")}

    path = rewrite(saved["cnn-lstm"][1], tmp_path / "missing.safetensors", edit_tensors=drop)
    with pytest.raises(BundleError, match="do not match"):
        bioseq.load(path)
    path = rewrite(saved["kmer-linear"][1], tmp_path / "lin.safetensors", edit_tensors=lambda t: {})
    with pytest.raises(BundleError, match="lin.safetensors"):
        bioseq.load(path)


@pytest.mark.parametrize("arch", ["cnn-lstm", "transformer"])
def test_format_1_bundle_with_unprefixed_trunk_weights_loads_and_predicts_the_same(saved, tmp_path, arch):
    """Bundles written before nets were split into trunk/pool/head kept the trunk's weights at the top level."""
    model, path = saved[arch]
    old = tmp_path / "v1.safetensors"

    def unprefix(tensors):
        return {k.removeprefix("trunk."): v for k, v in tensors.items()}

    rewrite(path, old, edit_meta=lambda m: m.update(format_version=1), edit_tensors=unprefix)
    tensors, _ = read_arrays(old)
    assert not any(k.startswith("trunk.") for k in tensors) and any(k.startswith("head.") for k in tensors)
    seqs = [r.seq for r in records(10, seed=3)]
    np.testing.assert_array_equal(bioseq.load(old).predict_proba_sequences(seqs), model.predict_proba_sequences(seqs))

"""embed() on files, the -o export, per-position embeddings, the CLI, and a real kmer-linear model."""

from __future__ import annotations

import gzip
import importlib
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_embed_cache import FP_A, FakeModel, expected, make_records

import bioseq
from bioseq.cli import main as cli_main
from bioseq.embed import EmbeddingCache, EmbedStats, embed, embed_to_file, iter_embed, sequence_keys
from bioseq.embed.deferred import DeferredModel
from bioseq.embed.embed import model_attrs
from bioseq.errors import ConfigError
from bioseq.io.readers import SequenceItem

SPLICE = Path(__file__).resolve().parents[1] / "data" / "splice_uci" / "train.fa.gz"


def write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    with open(path, "w") as fh:
        for rid, seq in records:
            fh.write(f">{rid} some description\n{seq[:10]}\n{seq[10:]}\n")
    return path


def test_embed_reads_files_in_input_order(tmp_path) -> None:
    recs = make_records(70)
    fasta = write_fasta(tmp_path / "in.fa", [(r, s.lower()) for r, s in recs])
    model = FakeModel()
    out = embed(model, fasta, cache=tmp_path / "c.h5", batch_size=16)
    np.testing.assert_array_equal(out, expected(recs))
    with EmbeddingCache(tmp_path / "c.h5") as cache:
        assert cache.ids == [r for r, _ in recs]
    # a list of paths is read one after the other
    second = write_fasta(tmp_path / "more.fa", make_records(5, seed=9, prefix="m"))
    both = embed(model, [fasta, second])
    assert both.shape == (75, 8)


def test_records_as_tuples_or_objects_and_chunking(tmp_path) -> None:
    recs = make_records(30)
    items = [SequenceItem(r, s, None) for r, s in recs]
    chunks = list(iter_embed(FakeModel(), items, chunk_size=7))
    assert [len(c.ids) for c in chunks] == [7, 7, 7, 7, 2]
    assert sum((c.ids for c in chunks), []) == [r for r, _ in recs]
    np.testing.assert_array_equal(np.concatenate([c.embeddings for c in chunks]), expected(recs))
    np.testing.assert_array_equal(np.concatenate([c.keys for c in chunks]),
                                  sequence_keys(FP_A, [s for _, s in recs]))


def test_wide_embeddings_come_in_chunks_and_segments_bounded_in_bytes(tmp_path, monkeypatch) -> None:
    """Rows held at once (a chunk, a pending cache segment) are capped by ROW_BYTES_BUDGET, so a
    kmer-linear TF-IDF row of 182k values cannot make a 4,096-row chunk of 3 GB."""
    embed_module = importlib.import_module("bioseq.embed.embed")
    assert embed_module.rows_within_budget(182_000, 4) == (256 << 20) // (182_000 * 4)
    assert embed_module.rows_within_budget(10**12, 4) == 1
    monkeypatch.setattr(embed_module, "ROW_BYTES_BUDGET", 5 * 8 * 4)  # five rows of 8 float32
    recs = make_records(23)
    chunks = list(iter_embed(FakeModel(), recs, cache=tmp_path / "c.h5", chunk_size=100))
    assert [len(c.ids) for c in chunks] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([c.embeddings for c in chunks]), expected(recs))
    with EmbeddingCache(tmp_path / "c.h5") as cache:
        assert cache.ids == [r for r, _ in recs]


def test_empty_input_gives_empty_array() -> None:
    out = embed(FakeModel(), [])
    assert out.shape == (0, 8) and out.dtype == np.float32


def test_bad_options_are_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="dtype"):
        embed(FakeModel(), make_records(2), dtype="float64")
    with pytest.raises(ConfigError, match="compression"):
        embed(FakeModel(), make_records(2), cache=tmp_path / "c.h5", compression="zstd")
    with pytest.raises(ConfigError, match="batch_size"):
        embed(FakeModel(), make_records(2), batch_size=0)

    class Broken(FakeModel):
        def embed_sequences(self, seqs):
            return np.zeros((len(seqs), 3), np.float32)

    with pytest.raises(ConfigError, match="shape"):
        embed(Broken(), make_records(2))


def test_per_position_needs_embed_positions_and_no_cache(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not supported by the 'fake' architecture"):
        embed(FakeModel(), make_records(3), per_position=True)

    class WithPositions(FakeModel):
        def embed_positions(self, seqs):
            return [np.tile(np.arange(len(s), dtype=np.float32)[:, None], (1, 8)) for s in seqs]

    recs = make_records(3)
    out = embed(WithPositions(), recs, per_position=True, dtype="float16")
    assert [a.shape for a in out] == [(len(s), 8) for _, s in recs] and out[0].dtype == np.float16
    with pytest.raises(ConfigError, match="not cached"):
        embed(WithPositions(), recs, per_position=True, cache=tmp_path / "c.h5")


def test_export_file_has_ids_keys_embeddings_in_input_order(tmp_path) -> None:
    recs = make_records(25)
    recs = recs + [("dup", recs[3][1])]
    stats = embed_to_file(FakeModel(), recs, tmp_path / "out.h5", cache=tmp_path / "c.h5", dtype="float16",
                          compression="lzf")
    assert isinstance(stats, EmbedStats) and stats.n_inputs == 26 and stats.n_computed == 25
    with h5py.File(tmp_path / "out.h5") as f:
        assert f["ids"].asstr()[()].tolist() == [r for r, _ in recs]
        np.testing.assert_array_equal(f["embeddings"][()], expected(recs, "float16"))
        assert f["keys"][()].tolist() == sequence_keys(FP_A, [s for _, s in recs]).tolist()
        assert f.attrs["model_fingerprint"] == FP_A and f.attrs["embedding_dim"] == 8
        assert f.attrs["dtype"] == "float16" and f.attrs["kind"] == "export"
        assert f["embeddings"].compression == "lzf"
    with EmbeddingCache(tmp_path / "out.h5") as export:  # readable like a cache, every id present
        assert len(export) == 26
        np.testing.assert_array_equal(export.get_by_id("dup"), export.get_by_id(recs[3][0]))
    with pytest.raises(ConfigError, match="nothing to write"):
        embed_to_file(FakeModel(), recs, None, None)


def test_failed_export_leaves_no_file(tmp_path) -> None:
    class Failing(FakeModel):
        def embed_sequences(self, seqs):
            if self.calls:
                raise RuntimeError("boom")
            return super().embed_sequences(seqs)

    with pytest.raises(RuntimeError):
        embed_to_file(Failing(), make_records(40), tmp_path / "out.h5", cache=tmp_path / "c.h5",
                      batch_size=10)
    assert not (tmp_path / "out.h5").exists()
    with EmbeddingCache(tmp_path / "c.h5") as cache:
        assert len(cache) == 10, "rows computed before the failure are kept"


# ----------------------------------------------------------------------------- a real model


@pytest.fixture(scope="module")
def kmer_model(tmp_path_factory) -> tuple[Path, Path]:
    """A kmer-linear model trained on a strided subset of splice_uci (all three classes)."""
    d = tmp_path_factory.mktemp("kmer")
    with gzip.open(SPLICE, "rt") as fh:
        text = fh.read()
    records = [">" + r for r in text.split(">")[1:]]
    subset = d / "subset.fa"
    subset.write_text("".join(records[::15]))
    bioseq.train(str(subset), arch="kmer-linear", k=3, output=d / "model.safetensors", progress=False)
    return d / "model.safetensors", subset


def test_cli_embed_with_a_real_model(kmer_model, tmp_path, capsys) -> None:
    model_path, subset = kmer_model
    cache, out = tmp_path / "c.h5", tmp_path / "out.h5"
    assert cli_main(["embed", str(model_path), str(subset), "--cache", str(cache), "-o", str(out),
                     "--batch-size", "64"]) == 0
    assert "0 from the cache" in capsys.readouterr().err
    assert cli_main(["embed", str(model_path), str(subset), "--cache", str(cache)]) == 0
    err = capsys.readouterr().err
    assert " 0 computed" in err
    model = bioseq.load(model_path)
    items = list(bioseq.io.readers.iter_sequences(subset))
    with h5py.File(out) as f:
        assert f["ids"].asstr()[()].tolist() == [it.id for it in items]
        np.testing.assert_allclose(f["embeddings"][()], model.embed_sequences([it.seq for it in items]),
                                   rtol=1e-5, atol=1e-6)
        assert f.attrs["model_fingerprint"] == model.fingerprint
    with EmbeddingCache(cache) as c:
        assert c.fingerprints() == [model.fingerprint] and c.embedding_dim == model.embedding_dim
        assert c.tokenizer_config == model.tokenizer.config()
        np.testing.assert_array_equal(c.get_many([it.id for it in items[:5]]),
                                      embed(model, items[:5], cache=cache))
        np.testing.assert_array_equal(c.get_many([it.id for it in items[:5]]),
                                      model.embed(items[:5], cache=cache))  # the Model method
    assert cli_main(["embed", str(model_path), str(subset)]) == 1  # neither --cache nor -o
    assert cli_main(["cache", "info", str(cache)]) == 0
    assert model.fingerprint in capsys.readouterr().out


def test_cli_embed_repair_recomputes_rows_of_a_damaged_chunk(kmer_model, tmp_path, capsys) -> None:
    model_path, subset = kmer_model
    cache, clean = tmp_path / "c.h5", tmp_path / "clean.h5"
    assert cli_main(["embed", str(model_path), str(subset), "--cache", str(cache), "-o", str(clean)]) == 0
    with h5py.File(cache) as f:
        (name,) = list(f["models"])
        offset = f[f"models/{name}/embeddings"].id.get_chunk_info(0).byte_offset + 64
    raw = bytearray(cache.read_bytes())
    raw[offset:offset + 32] = b"\xff" * 32
    cache.write_bytes(bytes(raw))
    capsys.readouterr()
    assert cli_main(["embed", str(model_path), str(subset), "--cache", str(cache)]) == 1
    assert "bioseq embed --repair" in capsys.readouterr().err
    out = tmp_path / "out.h5"
    assert cli_main(["embed", str(model_path), str(subset), "--cache", str(cache), "-o", str(out), "--repair"]) == 0
    err = capsys.readouterr().err
    assert "damaged rows dropped" in err and " 0 computed" not in err
    with h5py.File(out) as a, h5py.File(clean) as b:
        np.testing.assert_array_equal(a["embeddings"][()], b["embeddings"][()])


# ----------------------------------------------------------------------------- empty inputs (--allow-empty)


def test_empty_input_file_is_an_error_by_default_naming_the_file(tmp_path) -> None:
    from bioseq.errors import EmptyInputError

    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(EmptyInputError, match="no sequence records") as info:
        embed(FakeModel(), empty)
    assert str(empty) in str(info.value)
    with pytest.raises(EmptyInputError):
        embed_to_file(FakeModel(), empty, tmp_path / "out.h5", cache=tmp_path / "c.h5")
    assert not (tmp_path / "out.h5").exists() and not (tmp_path / "c.h5").exists()


def test_allow_empty_writes_a_zero_row_cache_and_export_that_merge(tmp_path) -> None:
    from bioseq.embed import merge_caches

    empty = tmp_path / "empty.fa"
    empty.write_text("")
    out = embed(FakeModel(), empty, allow_empty=True)
    assert out.shape == (0, 8) and out.dtype == np.float32
    stats = embed_to_file(FakeModel(), empty, tmp_path / "e0.h5", cache=tmp_path / "c0.h5", dtype="float16",
                          allow_empty=True)
    assert stats.n_inputs == 0 and stats.model_calls == 0
    for path in ("c0.h5", "e0.h5"):
        with EmbeddingCache(tmp_path / path) as c:
            assert len(c) == 0 and c.fingerprints() == [FP_A] and c.embedding_dim == 8
            assert c.dtype == np.float16
    recs = make_records(6)
    embed_to_file(FakeModel(), write_fasta(tmp_path / "full.fa", recs), cache=tmp_path / "c1.h5",
                  dtype="float16")
    counts = merge_caches(tmp_path / "merged.h5", [tmp_path / "c0.h5", tmp_path / "c1.h5", tmp_path / "e0.h5"])
    assert counts == {FP_A: 6}
    with EmbeddingCache(tmp_path / "merged.h5") as c:
        np.testing.assert_array_equal(c.get_many([r for r, _ in recs]), expected(recs, "float16"))
    # an empty shard's cache alone merges into a valid empty cache
    assert merge_caches(tmp_path / "m0.h5", [tmp_path / "c0.h5"]) == {FP_A: 0}


def test_cli_embed_and_head_predict_allow_empty(kmer_model, tmp_path, capsys) -> None:
    from bioseq.embed import fit_head

    model_path, subset = kmer_model
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    cache, out = tmp_path / "c.h5", tmp_path / "out.h5"
    assert cli_main(["embed", str(model_path), str(empty), "--cache", str(cache), "-o", str(out)]) == 1
    assert str(empty) in capsys.readouterr().err and not cache.exists() and not out.exists()
    assert cli_main(["embed", str(model_path), str(empty), "--cache", str(cache), "-o", str(out),
                     "--allow-empty", "--no-progress"]) == 0
    assert "0 records" in capsys.readouterr().err
    assert cli_main(["cache", "merge", str(tmp_path / "m.h5"), str(cache), str(out)]) == 0
    with EmbeddingCache(tmp_path / "m.h5") as c:
        assert len(c) == 0 and c.fingerprints() == [bioseq.load(model_path).fingerprint]
    # predict --head on an empty input: header-only table with the head's labels
    full_cache = tmp_path / "full.h5"
    embed(bioseq.load(model_path), subset, cache=full_cache)
    head = fit_head(full_cache, subset, tmp_path / "head.safetensors")
    table = tmp_path / "pred.tsv"
    assert cli_main(["predict", str(model_path), str(empty), "--head", str(tmp_path / "head.safetensors"),
                     "-o", str(table)]) == 1
    assert not table.exists()
    assert cli_main(["predict", str(model_path), str(empty), "--head", str(tmp_path / "head.safetensors"),
                     "-o", str(table), "--allow-empty"]) == 0
    assert table.read_text() == "\t".join(["id", "predicted", *(f"prob_{lab}" for lab in head.labels)]) + "\n"


# ----------------------------------------------------------------------------- cached reruns without torch


@pytest.fixture(scope="module")
def cnn_model(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny CNN-LSTM (a torch model; 1 epoch) and a 120-record FASTA to embed."""
    import torch

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("cnn")
    recs = make_records(120, seed=5)
    train = d / "train.fa"
    train.write_text("".join(f">{r} label={'ab'[i % 2]}\n{s}\n" for i, (r, s) in enumerate(recs)))
    bioseq.train(str(train), arch="cnn-lstm", epochs=1, batch_size=32, progress=False, verbose=False,
                 hparams={"conv_filters": [8], "conv_kernels": [5], "pool_sizes": [2], "rnn_hidden": 4,
                          "head_hidden": 0}, output=d / "model.safetensors", device="cpu")
    return d / "model.safetensors", write_fasta(d / "reads.fa", recs)


# Runs `bioseq embed` with `import torch` made impossible (None in sys.modules raises ImportError).
NO_TORCH = "import sys; sys.modules['torch'] = None; from bioseq.cli import main; sys.exit(main(sys.argv[1:]))"


def _bioseq_without_torch(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_fully_cached_cli_rerun_neither_imports_torch_nor_loads_the_model(cnn_model, tmp_path) -> None:
    model_path, reads = cnn_model
    cache, out = tmp_path / "c.h5", tmp_path / "out.h5"
    assert cli_main(["embed", str(model_path), str(reads), "--cache", str(cache), "--device", "cpu",
                     "--threads", "1", "--no-progress"]) == 0
    rerun = _bioseq_without_torch("embed", str(model_path), str(reads), "--cache", str(cache), "-o", str(out))
    assert rerun.returncode == 0, rerun.stderr
    assert "120 records: 0 computed, 120 from the cache" in rerun.stderr and "(model not loaded)" in rerun.stderr
    ids = [r for r, _ in make_records(120, seed=5)]
    with h5py.File(out) as f, EmbeddingCache(cache) as c:  # -o is written from the cache alone
        assert f["ids"].asstr()[()].tolist() == ids
        np.testing.assert_array_equal(f["embeddings"][()], c.get_many(ids))
        assert f.attrs["model_fingerprint"] == c.model_fingerprint
    # the guard is real: a record not in the cache needs the model, hence torch
    more = write_fasta(tmp_path / "more.fa", make_records(121, seed=5)[:120] + [("extra", "ACGTACGTTTGACCA")])
    partial = _bioseq_without_torch("embed", str(model_path), str(more), "--cache", str(cache))
    assert partial.returncode != 0 and "torch" in partial.stderr


def test_embed_takes_a_bundle_path_and_a_device(cnn_model, kmer_model, tmp_path) -> None:
    model_path, reads = cnn_model
    for path in (model_path, kmer_model[0]):  # the metadata describes the model as loading it does
        loaded = bioseq.load(path)
        assert model_attrs(DeferredModel(path)) == model_attrs(loaded)
    loaded = bioseq.load(model_path)
    stats = EmbedStats()
    got = embed(model_path, reads, cache=tmp_path / "c.h5", device="cpu", stats=stats)
    assert stats.model_loaded and stats.n_computed == 120
    np.testing.assert_allclose(got, embed(loaded, reads), rtol=1e-5, atol=1e-6)
    again = EmbedStats()
    np.testing.assert_array_equal(embed(str(model_path), reads, cache=tmp_path / "c.h5", stats=again), got)
    assert not again.model_loaded and again.n_cached == 120
    with pytest.raises(ConfigError, match="bundle path"):
        embed(loaded, reads, device="cpu")

"""embed() on files, the -o export, per-position embeddings, the CLI, and a real kmer-linear model."""

from __future__ import annotations

import gzip
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_embed_cache import FP_A, FakeModel, expected, make_records

import bioseq
from bioseq.cli import main as cli_main
from bioseq.embed import EmbeddingCache, EmbedStats, embed, embed_to_file, iter_embed, sequence_keys
from bioseq.errors import ConfigError

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
    items = [bioseq.io.readers.SequenceItem(r, s, None) for r, s in recs]
    chunks = list(iter_embed(FakeModel(), items, chunk_size=7))
    assert [len(c.ids) for c in chunks] == [7, 7, 7, 7, 2]
    assert sum((c.ids for c in chunks), []) == [r for r, _ in recs]
    np.testing.assert_array_equal(np.concatenate([c.embeddings for c in chunks]), expected(recs))
    np.testing.assert_array_equal(np.concatenate([c.keys for c in chunks]),
                                  sequence_keys(FP_A, [s for _, s in recs]))


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

"""The content-addressed HDF5 embedding cache: keys, reruns, isolation, corruption, reading back.

``FakeModel`` (deterministic, counts its calls) is shared with the other
test_embed_* modules, which import it from here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time

import h5py
import numpy as np
import pytest

import bioseq
from bioseq.embed import (
    EmbeddingBatch,
    EmbeddingCache,
    EmbedStats,
    MissingEmbeddingError,
    compact,
    embed,
    sequence_key,
)
from bioseq.embed.cache import describe
from bioseq.embed.cache_format import _read_rows, parts_dir
from bioseq.embed.cache_writer import merge_caches, repair_cache, verify_cache
from bioseq.embed.embed import model_attrs
from bioseq.errors import BioseqError, CacheError, DamagedCacheError

DIM = 8
FP_A = "a" * 64
FP_B = "b" * 64


def fake_vector(seq: str, dim: int = DIM) -> np.ndarray:
    """A deterministic embedding of ``seq``: bytes of its sha256 plus its length."""
    raw = hashlib.sha256(seq.encode()).digest() * (dim // 32 + 1)
    return np.frombuffer(raw, np.uint8)[:dim].astype(np.float32) / 255.0 + len(seq)


class FakeTokenizer:
    def __init__(self, k: int = 3) -> None:
        self.k = k

    def config(self) -> dict:
        return {"name": "kmer", "k": self.k, "alphabet": "dna"}


class FakeModel:
    """The duck type embed() needs; counts calls and the sequences it was asked for."""

    arch = "fake"
    alphabet = "dna"

    def __init__(self, fingerprint: str = FP_A, dim: int = DIM, delay: float = 0.0, k: int = 3) -> None:
        self.fingerprint = fingerprint
        self.embedding_dim = dim
        self.tokenizer = FakeTokenizer(k)
        self.delay = delay
        self.calls = 0
        self.seen: list[str] = []

    def embed_sequences(self, seqs: list[str]) -> np.ndarray:
        self.calls += 1
        self.seen.extend(seqs)
        if self.delay:
            time.sleep(self.delay)
        return np.stack([fake_vector(s, self.embedding_dim) for s in seqs])


def make_records(n: int, seed: int = 0, prefix: str = "r") -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    return [(f"{prefix}{i}", "".join(rng.choice(letters, size=int(rng.integers(12, 40))))) for i in range(n)]


def expected(records: list[tuple[str, str]], dtype: str = "float32") -> np.ndarray:
    return np.stack([fake_vector(s.upper()) for _, s in records]).astype(dtype)


# ----------------------------------------------------------------------------- keys


def test_key_is_sha256_of_fingerprint_nul_normalised_sequence() -> None:
    want = hashlib.sha256(FP_A.encode() + b"\0" + b"ACGTN").digest()[:16]
    assert sequence_key(FP_A, "acg tN\n") == want
    assert sequence_key(FP_B, "ACGTN") != want


# ----------------------------------------------------------------------------- reruns and duplicates


def test_rerun_computes_nothing_and_returns_identical_rows(tmp_path) -> None:
    recs = make_records(300)
    model = FakeModel()
    first = embed(model, recs, cache=tmp_path / "c.h5", batch_size=64)
    assert model.calls == 5 and len(model.seen) == 300
    np.testing.assert_array_equal(first, expected(recs))
    stats = EmbedStats()
    again = embed(model, recs, cache=tmp_path / "c.h5", batch_size=64, stats=stats)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"], "no segments, temps or lock left"
    assert model.calls == 5, "a rerun must not call the model"
    assert (stats.n_cached, stats.n_computed, stats.model_calls) == (300, 0, 0)
    np.testing.assert_array_equal(first, again)


def test_partial_rerun_computes_only_new_sequences(tmp_path) -> None:
    recs = make_records(100)
    model = FakeModel()
    embed(model, recs[:60], cache=tmp_path / "c.h5")
    model.seen.clear()
    out = embed(model, recs, cache=tmp_path / "c.h5")
    assert sorted(model.seen) == sorted(s for _, s in recs[60:])
    np.testing.assert_array_equal(out, expected(recs))


def test_duplicate_sequences_under_other_ids_are_computed_once(tmp_path) -> None:
    recs = make_records(50)
    dup = recs + [(f"copy{i}", s.lower()) for i, (_, s) in enumerate(recs[:20])]
    model = FakeModel()
    stats = EmbedStats()
    out = embed(model, dup, cache=tmp_path / "c.h5", stats=stats)
    assert len(model.seen) == 50 and stats.n_duplicates == 20
    np.testing.assert_array_equal(out[50:], out[:20])
    # across runs: the same sequences under new ids cost nothing
    renamed = [(f"new{i}", s) for i, (_, s) in enumerate(recs)]
    embed(model, renamed, cache=tmp_path / "c.h5")
    assert len(model.seen) == 50
    with EmbeddingCache(tmp_path / "c.h5") as cache:
        assert len(cache) == 50
        assert cache.ids == [r for r, _ in recs]  # a row keeps the id first seen
        assert "new0" in cache and "copy0" in cache  # other ids are aliases of that row
        np.testing.assert_array_equal(cache.get_many(["new3", "copy3", "r3"]), out[[3, 3, 3]])


def test_ids_of_sequences_already_cached_under_other_ids_are_found(tmp_path) -> None:
    """Issue 12.5: a test set sharing 91 sequences with the train set, embedded into one cache."""
    train = make_records(300, seed=1, prefix="train")
    test = [(f"test{i}", s) for i, (_, s) in enumerate(train[:91])] + make_records(60, seed=2, prefix="new")
    model = FakeModel()
    cache_path = tmp_path / "c.h5"
    embed(model, train, cache=cache_path)
    want = embed(model, test, cache=cache_path)
    assert len(model.seen) == 360
    test_ids = [r for r, _ in test]
    with EmbeddingCache(cache_path) as cache:
        assert len(cache) == 360 and all(i in cache for i in test_ids)
        np.testing.assert_array_equal(cache.get_many(test_ids), want)
        np.testing.assert_array_equal(cache.get_by_id("test7"), want[7])
        np.testing.assert_array_equal(cache.get_by_id("train7"), want[7])
    # a rerun with the same ids adds nothing: the main file is not rewritten
    before = cache_path.stat().st_mtime_ns
    embed(model, test, cache=cache_path)
    assert cache_path.stat().st_mtime_ns == before and not parts_dir(cache_path).exists()
    # the aliases survive compaction, a merge into another cache and a repair of an intact cache
    compact(cache_path, compression="gzip")
    merge_caches(tmp_path / "m.h5", [cache_path])
    for path in (cache_path, tmp_path / "m.h5"):
        assert repair_cache(path).ok
        with EmbeddingCache(path) as cache:
            np.testing.assert_array_equal(cache.get_many(test_ids), want)


def test_ids_repeated_across_merged_shards_are_found(tmp_path) -> None:
    recs = make_records(40)
    embed(FakeModel(), recs[:30], cache=tmp_path / "s1.h5")
    embed(FakeModel(), [(f"b{i}", s) for i, (_, s) in enumerate(recs[20:])], cache=tmp_path / "s2.h5")
    merge_caches(tmp_path / "m.h5", [tmp_path / "s1.h5", tmp_path / "s2.h5"])
    with EmbeddingCache(tmp_path / "m.h5") as cache:
        assert len(cache) == 40 and cache.ids == [r for r, _ in recs[:30]] + [f"b{i}" for i in range(10, 20)]
        np.testing.assert_array_equal(cache.get_many([f"b{i}" for i in range(20)]), expected(recs[20:]))


def test_an_id_stored_with_a_row_wins_over_an_alias(tmp_path) -> None:
    recs = make_records(10)
    embed(FakeModel(), recs, cache=tmp_path / "c.h5")
    # "r1" now names r2's sequence too, and "r0" a new sequence: the row stored under the id wins
    embed(FakeModel(), [("r1", recs[2][1]), ("r0", "ACGTACGTACGTACGTAAA")], cache=tmp_path / "c.h5")
    with EmbeddingCache(tmp_path / "c.h5") as cache:
        np.testing.assert_array_equal(cache.get_many(["r0", "r1"]), expected(recs[:2]))


def test_a_changed_alias_id_is_detected_by_its_digest(tmp_path) -> None:
    recs = make_records(20)
    embed(FakeModel(), recs + [("copy", recs[0][1])], cache=tmp_path / "c.h5")
    with h5py.File(tmp_path / "c.h5", "r+") as f:
        f[f"models/{FP_A}/alias_ids"][0] = "c0py"
    with EmbeddingCache(tmp_path / "c.h5") as cache, pytest.raises(DamagedCacheError, match="alias"):
        cache.get_by_id("copy")
    check = repair_cache(tmp_path / "c.h5")
    assert check.damaged_aliases == 1 and not check.ok
    with EmbeddingCache(tmp_path / "c.h5") as cache:
        assert "copy" not in cache and "c0py" not in cache and len(cache) == 20


def test_without_cache_duplicates_in_a_chunk_are_computed_once() -> None:
    recs = make_records(10)
    model = FakeModel()
    out = embed(model, recs + recs[:3])
    assert len(model.seen) == 10
    np.testing.assert_array_equal(out, expected(recs + recs[:3]))


# ----------------------------------------------------------------------------- reading back


def test_embedding_cache_reading_api(tmp_path) -> None:
    recs = make_records(120)
    embed(FakeModel(), recs, cache=tmp_path / "c.h5")
    exp = expected(recs)
    with bioseq.EmbeddingCache(tmp_path / "c.h5") as cache:
        assert len(cache) == 120 and cache.fingerprints() == [FP_A]
        assert cache.embedding_dim == DIM and cache.dtype == np.float32
        assert cache.tokenizer_config == FakeTokenizer().config()
        assert cache.attrs["arch"] == "fake"
        assert "r7" in cache and "nope" not in cache and 7 not in cache
        np.testing.assert_array_equal(cache.get_by_id("r7"), exp[7])
        np.testing.assert_array_equal(cache.get_many(["r9", "r2", "r9"]), exp[[9, 2, 9]])
        np.testing.assert_array_equal(cache.get_by_sequence(recs[5][1].lower()), exp[5])
        assert cache.contains_sequence(recs[5][1]) and not cache.contains_sequence("ACGTTTTTTTTTTTTTTTT")
        with pytest.raises(MissingEmbeddingError, match="nope") as err:
            cache.get_by_id("nope")
        assert isinstance(err.value, KeyError) and isinstance(err.value, CacheError)
        with pytest.raises(KeyError):
            cache.get_many(["r1", "nope"])
        with pytest.raises(MissingEmbeddingError):
            cache.get_by_sequence("ACGTTTTTTTTTTTTTTTT")
        chunks = list(cache.iter_chunks(50))
        assert all(isinstance(c, EmbeddingBatch) for c in chunks)
        assert [len(c[0]) for c in chunks] == [50, 50, 20]
        assert sum((c[0] for c in chunks), []) == [r for r, _ in recs]
        np.testing.assert_array_equal(np.concatenate([c[2] for c in chunks]), exp)
        keys = np.concatenate([c[1] for c in chunks])
        assert keys[3].tobytes() == sequence_key(FP_A, recs[3][1])
        np.testing.assert_array_equal(cache.to_numpy(), exp)
        assert cache.ids == [r for r, _ in recs]


def test_read_rows_matches_plain_indexing_for_sparse_and_dense_selections(tmp_path) -> None:
    data = np.arange(5000 * 4, dtype=np.float32).reshape(5000, 4)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        ds = f.create_dataset("x", data=data, chunks=(64, 4))
        rng = np.random.default_rng(1)
        for rows in (np.arange(5000), np.unique(rng.integers(0, 5000, 30)),
                     np.unique(np.r_[np.arange(100, 900), rng.integers(0, 5000, 50)]), np.array([4999])):
            np.testing.assert_array_equal(_read_rows(ds, rows, 64), data[rows])


def test_float16_cache_returns_stored_values(tmp_path) -> None:
    recs = make_records(40)
    model = FakeModel()
    cold = embed(model, recs, cache=tmp_path / "c.h5", dtype="float16")
    warm = embed(model, recs, cache=tmp_path / "c.h5", dtype="float16")
    assert cold.dtype == np.float16 and model.calls == 1
    np.testing.assert_array_equal(cold, warm)
    np.testing.assert_array_equal(cold, expected(recs, "float16"))
    with pytest.raises(CacheError, match="dtype"):
        embed(model, recs, cache=tmp_path / "c.h5", dtype="float32")


def test_compression_and_compact(tmp_path) -> None:
    recs = make_records(200)
    path = tmp_path / "c.h5"
    embed(FakeModel(), recs[:100], cache=path, compression="gzip")
    embed(FakeModel(), recs, cache=path)  # keeps gzip (copied, then appended)
    with h5py.File(path) as f:
        assert f[f"models/{FP_A}/embeddings"].compression == "gzip"
    assert compact(path, compression="lzf")
    with h5py.File(path) as f:
        assert f[f"models/{FP_A}/embeddings"].compression == "lzf"
    with EmbeddingCache(path) as cache:
        np.testing.assert_array_equal(cache.to_numpy(), expected(recs))


def test_folding_new_rows_copies_the_existing_group_instead_of_recompressing(tmp_path, monkeypatch) -> None:
    recs = make_records(200)
    path = tmp_path / "c.h5"
    embed(FakeModel(), recs[:100], cache=path, compression="gzip")
    copies = []
    real_copy = h5py.Group.copy

    def spy(self, source, dest, *args, **kwargs):
        copies.append((source.name, dest))
        return real_copy(self, source, dest, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "copy", spy)
    embed(FakeModel(), recs, cache=path, compression="gzip")
    assert copies == [(f"/models/{FP_A}", f"models/{FP_A}")]
    with EmbeddingCache(path) as cache:
        np.testing.assert_array_equal(cache.to_numpy(), expected(recs))


# ----------------------------------------------------------------------------- damage on disk


def _flip(path, offset: int, n: int = 64, value: int = 0x55):
    raw = bytearray(path.read_bytes())
    raw[offset:offset + n] = bytes([value]) * n
    path.write_bytes(bytes(raw))


def _cache_with_damaged_data_chunk(tmp_path, n: int = 3000):
    recs = make_records(n)
    path = tmp_path / "c.h5"
    embed(FakeModel(), recs, cache=path)
    with h5py.File(path) as f:
        offset = f[f"models/{FP_A}/embeddings"].id.get_chunk_info(0).byte_offset + 100
    _flip(path, offset)
    return path, recs


def test_flipped_bytes_in_stored_embeddings_are_never_served(tmp_path) -> None:
    path, recs = _cache_with_damaged_data_chunk(tmp_path)
    with pytest.raises(DamagedCacheError, match="bioseq cache repair") as err, EmbeddingCache(path) as cache:
        cache.get_many([recs[0][0]])
    assert str(path) in str(err.value)
    with pytest.raises(DamagedCacheError):
        embed(FakeModel(), recs, cache=path)  # a rerun does not serve the damaged rows either


def test_repair_drops_damaged_rows_and_a_rerun_recomputes_them(tmp_path) -> None:
    path, recs = _cache_with_damaged_data_chunk(tmp_path)
    check = verify_cache(path)
    assert not check.ok and check.damaged_rows > 0 and check.rows + check.damaged_rows == len(recs)
    repaired = repair_cache(path)
    assert repaired.damaged_rows == check.damaged_rows and repaired.moved_aside == []
    assert verify_cache(path).ok
    model, stats = FakeModel(), EmbedStats()
    got = embed(model, recs, cache=path, stats=stats)
    assert stats.n_computed == check.damaged_rows  # only the dropped rows are computed again
    np.testing.assert_array_equal(got, expected(recs))


@pytest.mark.parametrize("offset", [800, 2200])
def test_damaged_hdf5_metadata_is_a_named_error_and_repair_moves_the_file_aside(tmp_path, offset) -> None:
    recs = make_records(300)
    path = tmp_path / "c.h5"
    embed(FakeModel(), recs, cache=path)
    _flip(path, offset, value=0xAA)
    for action in (lambda: EmbeddingCache(path).to_numpy(), lambda: describe(path),
                   lambda: merge_caches(tmp_path / "m.h5", [path]), lambda: embed(FakeModel(), recs, cache=path)):
        with pytest.raises(DamagedCacheError) as err:
            action()
        assert str(path) in str(err.value)
    check = repair_cache(path)
    assert check.damaged_files == [str(path)] and check.moved_aside == [str(tmp_path / "c.h5.damaged-1")]
    np.testing.assert_array_equal(embed(FakeModel(), recs, cache=path), expected(recs))


def test_a_changed_id_is_detected_by_the_ids_digest(tmp_path) -> None:
    recs = make_records(50)
    path = tmp_path / "c.h5"
    embed(FakeModel(), recs, cache=path)
    with h5py.File(path, "a") as f:
        f[f"models/{FP_A}/ids"][3] = "someone-else"
    with pytest.raises(DamagedCacheError, match="digest"), EmbeddingCache(path) as cache:
        cache.get_by_id("r0")


def test_cli_cache_verify_exits_1_on_damage_and_0_after_cache_repair(tmp_path, capsys) -> None:
    from bioseq.cli import main

    path, recs = _cache_with_damaged_data_chunk(tmp_path)
    assert main(["cache", "verify", str(path)]) == 1
    assert "damaged rows" in capsys.readouterr().err
    assert main(["cache", "repair", str(path)]) == 0
    assert main(["cache", "verify", str(path)]) == 0


# ----------------------------------------------------------------------------- models never mix


def test_cache_of_another_model_is_refused_unless_allowed_and_stays_isolated(tmp_path) -> None:
    recs = make_records(30)
    path = tmp_path / "c.h5"
    embed(FakeModel(FP_A), recs, cache=path)
    other = FakeModel(FP_B)
    with pytest.raises(CacheError, match="another model") as err:
        embed(other, recs, cache=path)
    assert str(path) in str(err.value) and other.calls == 0
    embed(other, recs, cache=path, allow_multiple_models=True)
    assert len(other.seen) == 30, "another model's rows must not be reused"
    with pytest.raises(CacheError, match="2 models"):
        len(EmbeddingCache(path))
    with EmbeddingCache(path, model_fingerprint=FP_B) as cache:
        assert cache.fingerprints() == [FP_A, FP_B] and len(cache) == 30
    with pytest.raises(CacheError, match="no embeddings of model"):
        EmbeddingCache(path, model_fingerprint="c" * 64)


def test_same_fingerprint_with_other_tokenizer_or_dim_is_refused(tmp_path) -> None:
    path = tmp_path / "c.h5"
    embed(FakeModel(), make_records(5), cache=path)
    with pytest.raises(CacheError, match="tokenizer"):
        embed(FakeModel(k=4), make_records(5), cache=path)
    with pytest.raises(CacheError, match="embedding_dim"):
        embed(FakeModel(dim=16), make_records(5), cache=path)


# ----------------------------------------------------------------------------- corrupt files


def test_garbage_file_is_cache_error_naming_path(tmp_path) -> None:
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + np.random.default_rng(0).bytes(5000))
    for action in (lambda: EmbeddingCache(path), lambda: embed(FakeModel(), make_records(3), cache=path)):
        with pytest.raises(CacheError) as err:
            action()
        assert str(path) in str(err.value)


def test_truncated_file_is_cache_error_naming_path(tmp_path) -> None:
    path = tmp_path / "c.h5"
    embed(FakeModel(), make_records(500), cache=path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheError) as err:
        with EmbeddingCache(path) as cache:
            cache.to_numpy()
    assert str(path) in str(err.value)


def test_missing_dataset_and_foreign_hdf5_are_cache_errors(tmp_path) -> None:
    path = tmp_path / "c.h5"
    embed(FakeModel(), make_records(5), cache=path)
    with h5py.File(path, "a") as f:
        del f[f"models/{FP_A}/keys"]
    with pytest.raises(CacheError, match="lacks a dataset") as err:
        EmbeddingCache(path)
    assert str(path) in str(err.value)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(CacheError, match="not a bioseq embedding cache"):
        EmbeddingCache(foreign)
    with pytest.raises(CacheError, match="no embedding cache"):
        EmbeddingCache(tmp_path / "absent.h5")


def test_corrupt_segment_is_cache_error_naming_the_segment(tmp_path) -> None:
    path = tmp_path / "c.h5"
    embed(FakeModel(), make_records(5), cache=path)
    parts_dir(path).mkdir()
    seg = parts_dir(path) / "00000000000000000001-bad.h5"
    seg.write_bytes(b"not hdf5 at all")
    with pytest.raises(CacheError) as err:
        EmbeddingCache(path)
    assert str(seg) in str(err.value)


# ----------------------------------------------------------------------------- journal folding


def test_crash_after_fold_before_segment_deletion_leaves_no_duplicates(tmp_path) -> None:
    path = tmp_path / "c.h5"
    recs = make_records(60)
    model = FakeModel()
    with bioseq.embed.CacheWriter(path, model_attrs(model), segment_rows=10) as w:
        keys = bioseq.embed.sequence_keys(FP_A, [s for _, s in recs])
        w.write(EmbeddingBatch([r for r, _ in recs], keys, expected(recs)))
        w.flush()
        saved = tmp_path / "saved"
        shutil.copytree(parts_dir(path), saved)
    assert path.exists() and not parts_dir(path).exists()  # folded at close
    shutil.copytree(saved, parts_dir(path))  # as if killed between os.replace and the unlinks
    (parts_dir(path) / ".x.h5.tmp").write_bytes(b"half-written")  # and a stale temp file
    with EmbeddingCache(path) as cache:
        assert len(cache) == 60
        np.testing.assert_array_equal(cache.to_numpy(), expected(recs))
    out = embed(model, recs, cache=path)
    assert model.calls == 0
    np.testing.assert_array_equal(out, expected(recs))
    assert not parts_dir(path).exists()


def test_errors_are_bioseq_errors() -> None:
    assert issubclass(CacheError, BioseqError)


def test_key_index_handles_keys_sharing_their_first_eight_bytes() -> None:
    from bioseq.embed.cache_view import _KeyIndex

    keys = np.frombuffer(b"A" * 8 + b"B" * 8 + b"A" * 8 + b"C" * 8 + b"A" * 8 + b"D" * 8, dtype="S16")
    index = _KeyIndex()
    for i in range(3):
        index.add(keys[i:i + 1], np.array([i]))
    np.testing.assert_array_equal(index.lookup(keys[::-1]), [2, 1, 0])
    np.testing.assert_array_equal(index.lookup(np.frombuffer(b"A" * 8 + b"E" * 8, dtype="S16")), [-1])
    many = np.frombuffer(np.random.default_rng(0).bytes(16 * 3000), dtype="S16")
    for lo in range(0, 3000, 100):
        index.add(many[lo:lo + 100], np.arange(lo, lo + 100) + 3)
    np.testing.assert_array_equal(index.lookup(many), np.arange(3000) + 3)


def test_fold_removes_stale_temps_but_not_other_files_temps(tmp_path) -> None:
    path = tmp_path / "c.h5"
    from bioseq.io.atomic import _HOST

    stale = tmp_path / f".c.h5.{_HOST}~{os.getpid()}~abc123xy.tmp"  # a fold's temp (we hold the lock: stale)
    other = tmp_path / f".c.h5.out.h5.{_HOST}~1~abc123xy.tmp"  # the temp of an export named c.h5.out.h5
    stale.write_bytes(b"x")
    other.write_bytes(b"x")
    embed(FakeModel(), make_records(5), cache=path)
    assert not stale.exists() and other.exists()


def test_cache_writer_abort_keeps_main_file_and_writes_new_rows_as_a_segment(tmp_path) -> None:
    from bioseq.embed import CacheWriter
    from bioseq.embed.cache_format import _list_segments

    path = tmp_path / "c.h5"
    recs = make_records(30)
    embed(FakeModel(), recs[:10], cache=path)
    before = path.read_bytes()
    keys = bioseq.embed.sequence_keys(FP_A, [s for _, s in recs])
    with pytest.raises(RuntimeError, match="boom"), CacheWriter(path, model_attrs(FakeModel())) as w:
        w.write(EmbeddingBatch([r for r, _ in recs], keys, expected(recs)))  # 10 keys already held
        raise RuntimeError("boom")
    assert path.read_bytes() == before, "abort leaves the main file as it was"
    (segment,) = _list_segments(path)
    with h5py.File(segment) as f:
        assert f[f"models/{FP_A}/ids"].asstr()[()].tolist() == [r for r, _ in recs[10:]]
    with EmbeddingCache(path) as cache:
        np.testing.assert_array_equal(cache.get_many([r for r, _ in recs]), expected(recs))
    with CacheWriter(path, model_attrs(FakeModel())) as w, pytest.raises(CacheError, match="does not fit"):
        w.write(EmbeddingBatch(["x"], keys[:1], np.zeros((1, DIM + 1), np.float32)))
    assert not parts_dir(path).exists(), "the next writer folds the segment"

"""Crash safety and parallel writers: kill -9 mid-run, concurrent shards + merge, shared caches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from test_embed_cache import DIM, FP_A, FakeModel, expected, make_records

from bioseq.cli import main as cli_main
from bioseq.embed import EmbeddingCache, embed, embed_to_file, merge_caches
from bioseq.embed.cache_format import _list_segments, parts_dir
from bioseq.errors import CacheError

TESTS = Path(__file__).resolve().parent
N = 240

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_embed_cache import FakeModel, make_records
    from bioseq.embed import iter_embed
    recs = make_records({n})[{lo}:{hi}] + make_records({n})[{extra_lo}:{extra_hi}]
    model = FakeModel(delay={delay})
    for _ in iter_embed(model, recs, {cache!r}, batch_size={batch}, segment_rows={batch}):
        pass
    print(len(model.seen))
    """
)


def writer(cache: Path, lo: int, hi: int, delay: float = 0.0, batch: int = 8,
           extra: tuple[int, int] = (0, 0)) -> subprocess.Popen:
    """Start a process embedding records[lo:hi] (+ records[extra]) into ``cache``."""
    code = WRITER.format(tests=str(TESTS), n=N, lo=lo, hi=hi, extra_lo=extra[0], extra_hi=extra[1],
                         delay=delay, cache=str(cache), batch=batch)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def finish(proc: subprocess.Popen) -> int:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return int(out.strip())


def cache_content(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    with EmbeddingCache(path) as cache:
        return cache.ids, cache.keys, cache.to_numpy()


@pytest.mark.parametrize("segments_before_kill", [1, 6])
def test_killed_writer_leaves_complete_rows_and_rerun_finishes(tmp_path, segments_before_kill) -> None:
    cache = tmp_path / "c.h5"
    recs = make_records(N)
    proc = writer(cache, 0, N, delay=0.03, batch=8)
    deadline = time.monotonic() + 60
    while len(_list_segments(cache)) < segments_before_kill:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # whatever instant the kill hit, the cache opens and every row it claims is complete and right
    by_id = dict(zip([r for r, _ in recs], expected(recs), strict=True))
    ids, _, emb = cache_content(cache)
    assert segments_before_kill * 8 <= len(ids) < N
    np.testing.assert_array_equal(emb, np.stack([by_id[i] for i in ids]))
    model = FakeModel()
    out = embed(model, recs, cache=cache, batch_size=8)
    assert sorted(model.seen) == sorted(s for r, s in recs if r not in set(ids)), "only missing rows computed"
    np.testing.assert_array_equal(out, expected(recs))
    clean = tmp_path / "clean.h5"
    embed(FakeModel(), recs, cache=clean)
    with EmbeddingCache(cache) as a, EmbeddingCache(clean) as b:
        assert len(a) == len(b) == N
        np.testing.assert_array_equal(a.get_many(b.ids), b.to_numpy())
    assert not parts_dir(cache).exists(), "the rerun folds the journal"


def test_two_concurrent_shard_writers_plus_merge_equal_single_process(tmp_path) -> None:
    # shard 2 also repeats 20 sequences of shard 1 (a duplicate across shards)
    p1 = writer(tmp_path / "s1.h5", 0, 120, delay=0.01)
    p2 = writer(tmp_path / "s2.h5", 120, N, delay=0.01, extra=(0, 20))
    assert finish(p1) == 120 and finish(p2) == 140
    recs = make_records(N)
    single = tmp_path / "single.h5"
    embed(FakeModel(), recs[:120] + recs[120:] + recs[:20], cache=single)
    assert cli_main(["cache", "merge", str(tmp_path / "merged.h5"), str(tmp_path / "s1.h5"),
                     str(tmp_path / "s2.h5")]) == 0
    m_ids, m_keys, m_emb = cache_content(tmp_path / "merged.h5")
    s_ids, s_keys, s_emb = cache_content(single)
    assert m_ids == s_ids and len(m_ids) == N
    np.testing.assert_array_equal(m_keys, s_keys)
    np.testing.assert_array_equal(m_emb, s_emb)


def test_two_concurrent_writers_on_one_cache(tmp_path) -> None:
    cache = tmp_path / "shared.h5"
    p1 = writer(cache, 0, 150, delay=0.01)
    p2 = writer(cache, 90, N, delay=0.01)
    finish(p1)
    finish(p2)
    recs = make_records(N)
    ids, keys, emb = cache_content(cache)
    assert sorted(ids) == sorted(r for r, _ in recs)  # every sequence once (the overlap deduplicated)
    assert len(set(keys.tolist())) == N
    by_id = dict(zip([r for r, _ in recs], expected(recs), strict=True))
    np.testing.assert_array_equal(emb, np.stack([by_id[i] for i in ids]))
    assert not _list_segments(cache), "the last writer to finish folds every segment"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.h5"]


def test_merge_dedupes_keeps_existing_output_and_accepts_exports(tmp_path) -> None:
    recs = make_records(60)
    embed(FakeModel(), recs[:40], cache=tmp_path / "out.h5")
    embed_to_file(FakeModel(), recs[20:] + recs[:5], tmp_path / "export.h5")
    counts = merge_caches(tmp_path / "out.h5", [tmp_path / "export.h5"])
    assert counts == {FP_A: 60}
    ids, _, emb = cache_content(tmp_path / "out.h5")
    assert ids == [r for r, _ in recs]
    np.testing.assert_array_equal(emb, expected(recs))


def test_merge_refuses_incompatible_groups_and_leaves_output_untouched(tmp_path) -> None:
    embed(FakeModel(), make_records(10), cache=tmp_path / "a.h5")
    embed(FakeModel(dim=DIM * 2), make_records(10), cache=tmp_path / "b.h5")
    embed(FakeModel(), make_records(10), cache=tmp_path / "out.h5")
    before = (tmp_path / "out.h5").read_bytes()
    with pytest.raises(CacheError, match="embedding_dim") as err:
        merge_caches(tmp_path / "out.h5", [tmp_path / "a.h5", tmp_path / "b.h5"])
    assert str(tmp_path / "b.h5") in str(err.value)
    assert (tmp_path / "out.h5").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_merge_keeps_models_in_separate_groups(tmp_path) -> None:
    embed(FakeModel(), make_records(10), cache=tmp_path / "a.h5")
    embed(FakeModel("b" * 64), make_records(10), cache=tmp_path / "b.h5")
    counts = merge_caches(tmp_path / "m.h5", [tmp_path / "a.h5", tmp_path / "b.h5"])
    assert counts == {FP_A: 10, "b" * 64: 10}
    with EmbeddingCache(tmp_path / "m.h5", "b" * 64) as cache:
        assert len(cache) == 10

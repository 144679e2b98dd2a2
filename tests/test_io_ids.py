"""Duplicate-id detection in bounded memory (bioseq/io/ids.py)."""

import pytest

from bioseq.errors import DuplicateIdError
from bioseq.io import readers
from bioseq.io.ids import SeenIds


def test_chunks_of_new_ids_are_added_and_repeats_refused():
    seen = SeenIds(recent=4)  # fold into hash runs early
    assert seen.add_chunk(["a", "b", "c"])
    assert seen.add_chunk(["d", "e"])  # folds: a..e are now hashes
    assert len(seen) == 5
    assert not seen.add_chunk(["f", "a"])  # an old id (hash hit)
    assert not seen.add_chunk(["g", "g"])  # a repeat within the chunk
    assert len(seen) == 5  # a refused chunk adds nothing
    assert seen.maybe("a") and not seen.certain("a") and not seen.maybe("zz")


def test_many_folds_keep_every_id():
    seen = SeenIds(recent=8)
    for start in range(0, 1000, 10):
        assert seen.add_chunk([f"id{i}" for i in range(start, start + 10)])
    assert all(seen.maybe(f"id{i}") for i in range(1000))
    assert not seen.add_chunk(["id500"])


def test_duplicate_across_a_fold_is_reported_with_its_first_line(tmp_path, monkeypatch):
    monkeypatch.setattr("bioseq.io.ids._RECENT", 2)
    path = tmp_path / "d.fa"
    path.write_text("".join(f">r{i}\nACGT\n" for i in range(6)) + ">r1\nACGT\n")
    with pytest.raises(DuplicateIdError, match=r"record 'r1'.*first seen at .*d.fa:3"):
        list(readers.iter_sequences(path))


def test_a_hash_collision_is_not_a_duplicate(tmp_path, monkeypatch):
    # Every id hashes alike: each old-id match is a candidate that re-reading must clear.
    monkeypatch.setattr("bioseq.io.ids._RECENT", 2)
    monkeypatch.setattr("bioseq.io.ids.hash", lambda _s: 7, raising=False)
    path = tmp_path / "c.fa"
    path.write_text("".join(f">r{i}\nACGT\n" for i in range(7)))
    assert [it.id for it in readers.iter_sequences(path)] == [f"r{i}" for i in range(7)]

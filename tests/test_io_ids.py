"""Duplicate-id detection in bounded memory (bioseq/io/ids.py)."""

import pytest

from bioseq.errors import DuplicateIdError
from bioseq.io import readers
from bioseq.io.ids import SeenIds


def test_chunks_of_new_ids_are_added_and_repeats_refused():
    seen = SeenIds()
    assert seen.add_chunk(["a", "b", "c"])
    assert seen.add_chunk(["d", "e"])
    assert len(seen) == 5
    assert not seen.add_chunk(["f", "a"])  # an earlier id
    assert not seen.add_chunk(["g", "g"])  # a repeat within the chunk
    assert len(seen) == 5  # a refused chunk adds nothing
    assert seen.earlier(["zz", "a", "e", "g"]).tolist() == [False, True, True, False]
    seen.commit(["g", "h"])
    assert seen.earlier(["g", "h", "i"]).tolist() == [True, True, False]
    assert seen.earlier([]).tolist() == []


def test_many_merges_keep_every_id():
    seen = SeenIds()
    for start in range(0, 1000, 10):
        assert seen.add_chunk([f"id{i}" for i in range(start, start + 10)])
    assert len(seen._runs) <= 10  # runs of similar size are merged: O(log n) of them
    assert seen.earlier([f"id{i}" for i in range(1000)]).all()
    assert not seen.earlier([f"id{i}" for i in range(1000, 2000)]).any()
    assert not seen.add_chunk(["id500"])


@pytest.mark.parametrize(
    "setting, name, text, record, first_line",
    [
        (("_CHUNK", 16), "d.fa", "".join(f">r{i}\nACGT\n" for i in range(6)) + ">r1\nACGT\n", "r1", 3),
        # plugin readers (here FASTQ) are checked in batches: a repeat across batches
        (("_GENERIC_CHUNK", 3), "d.fq", "".join(f"@r{i}\nAC\n+\nII\n" for i in range(7)) + "@r2\nAC\n+\nII\n", "r2", 9),
    ],
)
def test_duplicate_in_a_later_chunk_is_reported_with_its_first_line(
    tmp_path, monkeypatch, setting, name, text, record, first_line
):
    monkeypatch.setattr(readers, *setting)
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DuplicateIdError, match=rf"record '{record}'.*first seen at .*{name}:{first_line}"):
        list(readers.iter_sequences(path))


@pytest.mark.parametrize("chunk", [16, 1 << 20])
def test_a_hash_collision_is_not_a_duplicate(tmp_path, monkeypatch, chunk):
    # Every id hashes alike: each match is a candidate that re-reading must clear,
    # whether the two ids share a chunk or not.
    monkeypatch.setattr(readers, "_CHUNK", chunk)
    monkeypatch.setattr("bioseq.io.ids.hash", lambda _s: 7, raising=False)
    path = tmp_path / "c.fa"
    path.write_text("".join(f">r{i}\nACGT\n" for i in range(7)))
    assert [it.id for it in readers.iter_sequences(path)] == [f"r{i}" for i in range(7)]
    path.write_text("".join(f">r{i}\nACGT\n" for i in range(7)) + ">r3\nAC\n")
    with pytest.raises(DuplicateIdError, match=r"record 'r3'.*first seen at .*c.fa:7"):
        list(readers.iter_sequences(path))

"""Readers: every format and compression, stdin, the bad inputs, the fast path vs the slow path."""

import bz2
import gzip
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bioseq.errors import (
    AlphabetError,
    BioseqError,
    DuplicateIdError,
    EmptyInputError,
    InputFormatError,
    LabelError,
    PluginError,
)
from bioseq.io import reader_plugins, readers
from bioseq.io.readers import (
    READERS,
    EmblReader,
    FastaReader,
    FastqReader,
    GenBankReader,
    RawRecord,
    SequenceItem,
    check_reader,
    iter_batches,
    iter_records,
    iter_sequences,
    read,
)

DATA = Path(__file__).parent / "data" / "io"


def reference() -> list[SequenceItem]:
    """The fixture's records parsed independently of bioseq."""
    items, rid, desc, seq = [], None, "", []
    for line in (DATA / "dna.fa").read_text().splitlines():
        if line.startswith(">"):
            if rid is not None:
                items.append(SequenceItem(rid, "".join(seq), (desc.split("=")[1],)))
            rid, _, desc = line[1:].partition(" ")
            seq = []
        else:
            seq.append(line)
    items.append(SequenceItem(rid, "".join(seq), (desc.split("=")[1],)))
    return items


REF = reference()


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "w":
        path.write_text(text)
    else:
        path.write_bytes(text)
    return path


# --------------------------------------------------------------------------- good inputs


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_fasta_plain_gzip_bzip2(suffix):
    assert list(iter_sequences(DATA / f"dna.fa{suffix}")) == REF


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_fastq(suffix):
    assert list(iter_sequences(DATA / f"dna.fq{suffix}")) == REF[:4]


@pytest.mark.parametrize("fmt", ["gb", "embl"])
@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_genbank_and_embl(fmt, suffix):
    items = list(iter_sequences(DATA / f"dna.{fmt}{suffix}"))
    # ids were truncated to 16 characters for the LOCUS line; sequences and labels survive
    assert [(i.id, i.seq, i.labels) for i in items] == [(r.id[:16], r.seq, r.labels) for r in REF[:3]]


def test_protein_fasta_with_alphabet():
    items = list(iter_sequences(DATA / "amp.faa", alphabet="protein"))
    assert [i.labels for i in items] == [("AMP",)] * 3 and items[0].seq == "GLRRLFADQLVGRRNI"


def test_format_override_and_sniffing(tmp_path):
    odd = write(tmp_path, "reads.txt", (DATA / "dna.fq").read_text())
    assert list(iter_sequences(odd)) == REF[:4]  # sniffed from '@'
    assert list(iter_sequences(odd, format="fastq")) == REF[:4]
    with pytest.raises(InputFormatError, match="pass format='fastq'"):
        list(iter_sequences(odd, format="fasta"))
    junk = write(tmp_path, "junk.dat", "hello\n")
    with pytest.raises(InputFormatError, match="format="):
        list(iter_sequences(junk))


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, bz2.compress])
@pytest.mark.parametrize("name", ["dna.fa", "dna.fq", "dna.gb"])
def test_stdin(monkeypatch, compress, name):
    raw = (DATA / name).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(compress(raw)))))
    items = list(iter_sequences("-"))
    assert [i.seq for i in items] == [r.seq for r in REF[: len(items)]] and len(items) >= 3


def test_read_returns_seqrecords_with_labels():
    recs = list(read(DATA / "dna.fa.gz", alphabet="dna"))
    assert [r.id for r in recs] == [r.id for r in REF]
    assert recs[0].annotations["labels"] == ("EI",)
    assert recs[0].description == "ATRINS-DONOR-905 label=EI" and recs[0].name == recs[0].id
    assert str(recs[-1].seq) == REF[-1].seq


def test_read_fastq_qualities_and_genbank_annotations():
    fq = next(read(DATA / "dna.fq"))
    assert fq.letter_annotations["phred_quality"][:3] == [30, 31, 32]
    gb = next(read(DATA / "dna.gb"))
    assert gb.annotations["molecule_type"] == "DNA" and gb.annotations["labels"] == ("EI",)


def test_unlabelled_input_has_none_labels(tmp_path):
    path = write(tmp_path, "u.fa", ">a some text\nACGT\n>b\nGGCC\n")
    assert [i.labels for i in iter_sequences(path)] == [None, None]
    assert "labels" not in next(read(path)).annotations


def test_lowercase_crlf_blank_lines_and_spaces(tmp_path):
    path = write(tmp_path, "m.fa", b"\r\n\r\n>a label=x\r\nacgt\r\n\r\nNNac gt\r\n>b\tlabel=y\r\nTTTT", mode="b")
    items = list(iter_sequences(path, alphabet="dna"))
    assert items == [SequenceItem("a", "ACGTNNACGT", ("x",)), SequenceItem("b", "TTTT", ("y",))]


def test_header_with_gt_inside_and_multilabel(tmp_path):
    path = write(tmp_path, "g.fa", ">a x>y label=p,q\nAC\nGT\n>b label=q\nAA\n")
    assert list(iter_sequences(path)) == [SequenceItem("a", "ACGT", ("p", "q")), SequenceItem("b", "AA", ("q",))]


def test_single_record_file(tmp_path):
    # selene PR#93: a single-record FASTA gave empty output
    path = write(tmp_path, "one.fa", ">only\nACGT")
    assert list(iter_sequences(path)) == [SequenceItem("only", "ACGT", None)]


def test_chained_files_and_batches():
    items = list(iter_sequences([DATA / "EI.fa", DATA / "N.fa"], labels="filename"))
    assert [i.labels for i in items] == [("EI",), ("EI",), ("N",), ("N",)]
    batches = list(iter_batches(DATA / "dna.fa", 2))
    assert [len(b) for b in batches] == [2, 2, 1] and [i for b in batches for i in b] == REF


def test_iteration_is_lazy(tmp_path, monkeypatch):
    """The first record comes before the file is read to the end (constant memory)."""
    monkeypatch.setattr(readers, "_CHUNK", 4096)
    path = write(tmp_path, "big.fa", "".join(f">r{i}\n{'ACGT' * 50}\n" for i in range(5000)))
    handles = []
    real_open = reader_plugins.open_binary

    def spy(p):
        handles.append(real_open(p))
        return handles[-1]

    monkeypatch.setattr(reader_plugins, "open_binary", spy)
    it = iter_sequences(path)
    assert next(it).id == "r0"
    assert handles[0].tell() < path.stat().st_size / 10
    assert sum(1 for _ in it) == 4999


# --------------------------------------------------------------------------- bad inputs


def assert_names(err, path, record=None, line=None):
    text = str(err.value)
    assert str(path) in text
    if record is not None:
        assert repr(record) in text and err.value.record == record
    if line is not None:
        assert err.value.line == line and f":{line}" in text


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
@pytest.mark.parametrize("name", ["e.fa", "e.fq", "e.gb", "e.fa.gz"])
def test_empty_input(tmp_path, name, content):
    data = gzip.compress(content) if name.endswith(".gz") else content
    path = write(tmp_path, name, data, mode="b")
    with pytest.raises(EmptyInputError) as err:
        list(iter_sequences(path))
    assert_names(err, path)
    assert list(iter_sequences(path, allow_empty=True)) == []


def test_fasta_without_header(tmp_path):
    path = write(tmp_path, "bad.fa", "\nACGT\n>a\nAC\n")
    with pytest.raises(InputFormatError) as err:
        list(iter_sequences(path))
    assert_names(err, path, line=2)


def test_fasta_empty_header_and_empty_sequence(tmp_path):
    path = write(tmp_path, "h.fa", ">a\nAC\n>\nACGT\n")
    with pytest.raises(InputFormatError, match="empty '>' header") as err:
        list(iter_sequences(path))
    assert_names(err, path, line=3)
    path = write(tmp_path, "s.fa", ">a\nAC\n>b desc\n>c\nGG\n")
    with pytest.raises(InputFormatError, match="empty sequence") as err:
        list(iter_sequences(path))
    assert_names(err, path, record="b", line=3)


def test_fastq_quality_length_mismatch(tmp_path):
    path = write(tmp_path, "q.fq", "@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIII\n")
    with pytest.raises(InputFormatError, match="quality") as err:
        list(iter_sequences(path))
    assert_names(err, path, record="r2")


def test_fastq_missing_plus_and_bad_header(tmp_path):
    path = write(tmp_path, "q.fq", "@r1\nACGT\n")
    with pytest.raises(InputFormatError, match="no '\\+' line") as err:
        list(iter_sequences(path))
    assert_names(err, path, record="r1")
    path = write(tmp_path, "h.fq", "@r1\nAC\n+\nII\nr2\nAC\n+\nII\n")
    with pytest.raises(InputFormatError) as err:
        list(iter_sequences(path))
    assert_names(err, path, line=5)


def test_truncated_genbank(tmp_path):
    text = (DATA / "dna.gb").read_text()
    path = write(tmp_path, "t.gb", text[: text.index("ORIGIN") + 30])
    with pytest.raises(InputFormatError) as err:
        list(iter_sequences(path))
    assert_names(err, path)
    assert err.value.line is not None


def test_duplicate_id_names_both_lines(tmp_path):
    path = write(tmp_path, "d.fa", ">a\nAC\n>b\nGG\n>a dup\nTT\n")
    with pytest.raises(DuplicateIdError) as err:
        list(iter_sequences(path))
    assert_names(err, path, record="a", line=5)
    assert f"{path}:1" in str(err.value)


@pytest.mark.parametrize("chunk", [8, 64, 1 << 20])
def test_duplicate_id_in_a_later_chunk(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(readers, "_CHUNK", chunk)
    body = "".join(f">r{i}\nACGT\n" for i in range(40))
    path = write(tmp_path, "d.fa", body + ">r{0}\nAC\n>r7\nGG\n>r41\nTT\n")
    with pytest.raises(DuplicateIdError) as err:
        list(iter_sequences(path))
    assert_names(err, path, record="r7", line=83)
    assert f"{path}:15" in str(err.value)


def test_duplicate_id_across_chained_files(tmp_path):
    first = write(tmp_path, "one.fa", ">x\nAC\n>a\nGG\n")
    second = write(tmp_path, "two.fq", "@b\nAC\n+\nII\n@a\nAC\n+\nII\n")
    with pytest.raises(DuplicateIdError) as err:
        list(iter_sequences([first, second]))
    assert_names(err, second, record="a", line=5)
    assert f"{first}:3" in str(err.value)


@pytest.mark.parametrize("name, text", [("one.fa", ">x\nAC\n>a\nGG\n"), ("one.fq", "@x\nAC\n+\nII\n@a\nGG\n+\nII\n")])
def test_the_same_file_given_twice_is_a_duplicate_id(tmp_path, name, text):
    path = write(tmp_path, name, text)
    with pytest.raises(DuplicateIdError) as err:
        list(iter_sequences([path, path]))
    assert_names(err, path, record="x", line=1)
    assert f"{path}:1" in str(err.value)


def test_alphabet_error_names_file_record_line_and_letters(tmp_path):
    path = write(tmp_path, "a.fa", ">ok\nACGT\n>bad label=x\nACGTACGT\nACGJ\nAC\n")
    with pytest.raises(AlphabetError) as err:
        list(iter_sequences(path, alphabet="dna"))
    assert_names(err, path, record="bad", line=5)
    assert "'J'" in str(err.value) and "unknown='map'" in str(err.value)


def test_iupac_policy(tmp_path):
    path = write(tmp_path, "n.fa", ">a\nACNT\n>b\nRYAC\n")
    assert [i.seq for i in iter_sequences(path, alphabet="dna")] == ["ACNT", "RYAC"]
    with pytest.raises(AlphabetError, match="unknown='map'") as err:
        list(iter_sequences(path, alphabet="dna", unknown="reject"))
    assert_names(err, path, record="a", line=2)
    assert "'N'" in str(err.value)


def test_protein_in_dna_and_garbage_without_alphabet(tmp_path):
    with pytest.raises(AlphabetError, match="not in the dna alphabet"):
        list(iter_sequences(DATA / "amp.faa", alphabet="dna"))
    path = write(tmp_path, "g.fa", ">a\nAC9T\n")
    with pytest.raises(AlphabetError, match="'9'") as err:
        list(iter_sequences(path))
    assert_names(err, path, record="a", line=2)


def test_missing_label_in_table_names_file_and_record(tmp_path):
    table = write(tmp_path, "t.tsv", "ATRINS-DONOR-905\tEI\n")
    with pytest.raises(LabelError) as err:
        list(iter_sequences(DATA / "dna.fa", labels=table))
    assert_names(err, DATA / "dna.fa", record="GIBHBGGL-DONOR-7198", line=3)
    assert str(table) in str(err.value)


def test_not_utf8_header(tmp_path):
    path = write(tmp_path, "u.fa", b">a\xff\nACGT\n", mode="b")
    with pytest.raises(InputFormatError, match="UTF-8") as err:
        list(iter_sequences(path))
    assert_names(err, path, line=1)


def test_corrupt_gzip(tmp_path):
    data = gzip.compress((DATA / "dna.fa").read_bytes() * 50)
    path = write(tmp_path, "c.fa.gz", data[: len(data) // 2], mode="b")
    with pytest.raises(InputFormatError, match="compressed"):
        list(iter_sequences(path))


# --------------------------------------------------------------------------- fast path == slow path


def fasta_text(records, width):
    out = []
    for rid, desc, seq in records:
        lines = [seq[i : i + width] for i in range(0, len(seq), width)] if width else [seq]
        out.append(f">{rid}{' ' + desc if desc else ''}\n" + "\n".join(lines) + "\n")
    return "".join(out)


record = st.tuples(
    st.text("ABCxyz019_-.|:", min_size=1, max_size=12),
    st.sampled_from(["", "label=a", "label=b,c", "some text", "x\ty label=a"]),
    st.text("ACGTNacgtn", min_size=1, max_size=150),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(record, min_size=1, max_size=25, unique_by=lambda r: r[0]),
    width=st.sampled_from([0, 7, 60]),
    chunk=st.sampled_from([16, 64, 1 << 20]),
)
def test_fasta_round_trip_property(tmp_path, monkeypatch, records, width, chunk):
    """Random records written as FASTA read back identically, whatever the chunking,
    through the column-wise fast path and the per-record slow path alike."""
    path = tmp_path / "p.fa"
    path.write_text(fasta_text(records, width))
    expected = [
        SequenceItem(rid, seq.upper(), None) for rid, desc, seq in records
    ]
    monkeypatch.setattr(readers, "_CHUNK", chunk)
    got = list(iter_sequences(path, labels={r[0]: "k" for r in records}))
    assert [(i.id, i.seq) for i in got] == [(e.id, e.seq) for e in expected]
    assert all(i.labels == ("k",) for i in got)
    with monkeypatch.context() as m:
        m.setattr(readers._Scan, "_fasta_fast", lambda self, data, path: None)
        slow = list(iter_sequences(path, labels={r[0]: "k" for r in records}))
    assert slow == got
    titles = [t for _, t, _, _ in iter_records(path, labels="filename")]
    assert titles == [f"{rid} {desc}".strip() for rid, desc, _ in records]
    raw = list(FastaReader().records(open(path, "rb"), str(path)))
    assert [r.id for r in raw] == [r[0] for r in records]


def test_fast_and_slow_paths_raise_the_same_errors(tmp_path, monkeypatch):
    cases = {
        "dup.fa": ">a\nAC\n>b\nAC\n>a\nAC\n",
        "alpha.fa": ">a\nAC\n>b\nAXC\n",
        "label.fa": ">a label=x\nAC\n>b\nAC\n",
    }
    for name, text in cases.items():
        path = write(tmp_path, name, text)
        with pytest.raises(Exception) as fast:
            list(iter_sequences(path, alphabet="dna"))
        with monkeypatch.context() as m:
            m.setattr(readers._Scan, "_fasta_fast", lambda self, data, path: None)
            with pytest.raises(Exception) as slow:
                list(iter_sequences(path, alphabet="dna"))
        assert type(fast.value) is type(slow.value) and str(fast.value) == str(slow.value)


def test_chunk_fields_pair_headers_with_sequences():
    from bioseq.io.fasta import _chunk_fields

    assert _chunk_fields(b">a x\nAC\nGT\n\n>b>c\nT\n") == ["a x", "ACGT", "b>c", "T"]
    assert _chunk_fields(b">a\n>b\nT") is None  # a record without sequence lines
    assert _chunk_fields(b">a\nAC\n>b") is None  # ... at the end
    assert _chunk_fields(b">a\x01\nAC") is None  # the separator itself
    assert _chunk_fields(b">a\xff\nAC") is None  # not UTF-8


def test_few_long_records_are_split_record_by_record():
    from bioseq.io.fasta import _few_records, _sparse_records

    short = b"".join(b">r%d\nACGT\n" % i for i in range(100))[:-1]
    assert not _few_records(short) and _few_records(short[:100]) and _few_records(b">a\nAC")
    assert _sparse_records(b">a x\nAC\nGT\n>b\nT") == (["a x", "b"], [b"ACGT", b"T"])
    assert _sparse_records(b">a\xff\nAC") is None


def test_soft_masked_long_records_read_like_the_slow_path(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGTNacgtn", np.uint8)
    text = "".join(
        f">chr{i} soft-masked\n" + "\n".join(
            seq[j : j + 60] for j in range(0, len(seq), 60)
        ) + "\n"
        for i in range(3)
        for seq in [letters[rng.integers(0, 10, 50_000)].tobytes().decode()]
    )
    path = write(tmp_path, "genome.fa", text)
    fast = list(iter_sequences(path, alphabet="dna"))
    assert [len(it.seq) for it in fast] == [50_000] * 3 and all(it.seq.isupper() for it in fast)
    monkeypatch.setattr(readers._Scan, "_fasta_fast", lambda self, data, path: None)
    assert list(iter_sequences(path, alphabet="dna")) == fast


# Pieces that each break some shortcut of the fast path: whitespace of every kind in
# headers (tabs, NBSP, the \x1c-\x1f separators str.split() cuts at), a header with
# no id, ">" inside headers and sequence lines, \x01 (the fast path's separator),
# blank lines, CRLF, lowercase, spaces in sequences, records without sequence lines.
_header = st.tuples(
    st.sampled_from([""] * 12 + [" ", "\t", None]),  # before the id (None: a header without id)
    st.lists(
        st.sampled_from(["a", "_2", " ", " ", " ", "\t", "\xa0", "\x1c", "\x0b", ">", "label=x", "label=x",
                         "label=y,z", "é", "\x01"]),
        max_size=4,
    ).map("".join),
)
_seq_line = st.lists(
    st.sampled_from(["ACGT"] * 40 + ["acgt", "acgt", "N", "A C", "\t", ">", "X", "\x01", ""]), min_size=1, max_size=4
).map("".join)
_seq_lines = st.tuples(st.lists(_seq_line, min_size=1, max_size=3), st.sampled_from([False] * 20 + [True])).map(
    lambda lines_none: [] if lines_none[1] else lines_none[0]  # rarely a record without sequence lines
)
_raw_record = st.tuples(_header, _seq_lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(_raw_record, min_size=1, max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    chunk=st.sampled_from([8, 1 << 20]),
    labels=st.sampled_from([None, False]),
    sparse=st.booleans(),
)
def test_fast_and_slow_paths_agree_on_any_text(tmp_path, monkeypatch, records, newline, chunk, labels, sparse):
    """Whatever the text, the column-wise fast path (either way of taking a chunk
    apart) returns what the record-by-record slow path returns, or raises the same error."""
    text = "".join(
        (f">{before}r{i}{after}" if before is not None else ">" + after.lstrip("_2a"))
        + newline
        + "".join(line + newline for line in lines)
        for i, ((before, after), lines) in enumerate(records)
    )
    path = tmp_path / "fuzz.fa"
    path.write_bytes(text.encode())
    monkeypatch.setattr(readers, "_CHUNK", chunk)
    monkeypatch.setattr(readers, "_few_records", lambda data: sparse)

    def outcome():
        try:
            return [tuple(item) for item in iter_sequences(path, labels=labels)]
        except BioseqError as exc:
            return type(exc), str(exc)

    fast = outcome()
    with monkeypatch.context() as m:  # undone before hypothesis's next example
        m.setattr(readers._Scan, "_fasta_fast", lambda self, data, path: None)
        assert fast == outcome()


# --------------------------------------------------------------------------- plugins


def test_builtin_readers_come_from_entry_points():
    for name, cls in [("fasta", FastaReader), ("fastq", FastqReader), ("genbank", GenBankReader),
                      ("embl", EmblReader)]:
        assert READERS.get(name) is cls


@pytest.mark.parametrize(
    "cls, sample", [(FastaReader, "dna.fa"), (FastqReader, "dna.fq"), (GenBankReader, "dna.gb"),
                    (EmblReader, "dna.embl.gz")],
)
def test_check_reader_accepts_builtins(cls, sample):
    check_reader(cls, DATA / sample)


class TsvReader:
    """A toy third-party reader: ``id<TAB>sequence`` lines."""

    name = "tsvseq"
    extensions = (".tsvseq",)

    def records(self, handle, path):
        for n, line in enumerate(handle, start=1):
            rid, seq = line.rstrip("\n").split("\t")
            yield RawRecord(rid, "", seq, n)


def test_third_party_reader_plugs_in(tmp_path, monkeypatch):
    monkeypatch.setitem(READERS._items, "tsvseq", TsvReader)
    monkeypatch.setattr(READERS, "_discover", lambda: {})
    path = write(tmp_path, "x.tsvseq", "a\tacgt\nb\tGGNN\n")
    check_reader(TsvReader, path)
    assert list(iter_sequences(path)) == [SequenceItem("a", "ACGT", None), SequenceItem("b", "GGNN", None)]
    assert list(iter_sequences(path, format=TsvReader))[0].id == "a"


def test_check_reader_rejects_broken_plugins(tmp_path):
    class NoName:
        extensions = (".x",)

        def records(self, handle, path):
            return iter(())

    with pytest.raises(PluginError, match="name"):
        check_reader(NoName)

    class Bad(TsvReader):
        def records(self, handle, path):
            yield ("a", "ACGT")

    path = write(tmp_path, "x.tsvseq", "a\tACGT\n")
    with pytest.raises(PluginError, match="RawRecord"):
        check_reader(Bad, path)


def test_iter_columns_matches_iter_sequences_in_chunks(tmp_path):
    from bioseq.io.readers import iter_columns

    recs = "".join(f">r{i} label=x{i % 3}\n{'ACGT' * (i % 5 + 1)}\n" for i in range(23))
    path = tmp_path / "cols.fa"
    path.write_text(recs)
    chunks = list(iter_columns(path, 5))
    assert [len(ids) for ids, _ in chunks] == [5, 5, 5, 5, 3]
    items = list(iter_sequences(path))
    assert [i for ids, _ in chunks for i in ids] == [it.id for it in items]
    assert [s for _, seqs in chunks for s in seqs] == [it.seq for it in items]


def test_iter_columns_still_reports_duplicates_and_bad_letters(tmp_path):
    from bioseq.io.readers import iter_columns

    dup = tmp_path / "dup.fa"
    dup.write_text(">a\nACGT\n>b\nACGT\n>a\nACGT\n")
    with pytest.raises(DuplicateIdError, match="'a'"):
        list(iter_columns(dup, 10))
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGT\n>p1\nMKVLE\n")
    with pytest.raises(AlphabetError, match="p1"):
        list(iter_columns(bad, 10, alphabet="dna"))


def test_labels_false_ignores_labels(tmp_path):
    path = tmp_path / "mixed.fa"
    path.write_text(">a label=x\nACGT\n>b\nACGT\n")  # mixing labelled and unlabelled is an error...
    assert [it.labels for it in iter_sequences(path, labels=False)] == [None, None]  # ...unless ignored

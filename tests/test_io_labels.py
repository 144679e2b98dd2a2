"""Label sources: label= tokens, id/label tables, dicts, one file per class."""

import gzip
from pathlib import Path

import pytest

from bioseq.errors import LabelError
from bioseq.io.labels import (
    class_from_filename,
    label_source,
    label_token,
    read_label_table,
    split_labels,
)
from bioseq.io.readers import iter_sequences

DATA = Path(__file__).parent / "data" / "io"
IDS = ["ATRINS-DONOR-905", "GIBHBGGL-DONOR-7198", "BABT1GL-NEG-61", "GIBHBGGL-NEG-7861", "CHR12_125402847_125403047"]
LABELS = [("EI",), ("EI",), ("N",), ("N",), ("enhancer",)]


@pytest.mark.parametrize(
    "description, value",
    [("label=EI", "EI"), ("x label=a,b y=1", "a,b"), ("x\tlabel='q'", "q"), ('label="r"', "r"),
     ("mylabel=no", None), ("nothing here", None), ("a label= b", "")],
)
def test_label_token(description, value):
    assert label_token(description) == value


def test_split_labels():
    assert split_labels("a,b") == ("a", "b") and split_labels(" a ") == ("a",)
    with pytest.raises(LabelError, match="empty label"):
        split_labels("a,,b", path="t.tsv", record="r1", line=3)


def test_tokens_are_the_default_source():
    assert [i.labels for i in iter_sequences(DATA / "dna.fa")] == LABELS


@pytest.mark.parametrize("table", ["labels.tsv", "labels.csv"])
def test_table_sources_with_and_without_header(table):
    assert [i.labels for i in iter_sequences(DATA / "dna.fa", labels=DATA / table)] == LABELS
    assert [i.labels for i in iter_sequences(DATA / "dna.fq", labels=str(DATA / table))] == LABELS[:4]


def test_gzipped_csv_table_with_quoted_multilabel(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b'seq_id,labels\nATRINS-DONOR-905,"EI,N"\n'))
    assert read_label_table(path) == {"ATRINS-DONOR-905": ("EI", "N")}


def test_table_errors_name_file_line_and_record(tmp_path):
    dup = tmp_path / "dup.tsv"
    dup.write_text("a\tx\nb\ty\na\tz\n")
    with pytest.raises(LabelError, match="first on line 1") as err:
        read_label_table(dup)
    assert err.value.line == 3 and err.value.record == "a" and str(dup) in str(err.value)
    short = tmp_path / "short.tsv"
    short.write_text("id\tlabel\na\n")
    with pytest.raises(LabelError, match="two columns") as err:
        read_label_table(short)
    assert err.value.line == 2
    empty = tmp_path / "empty.tsv"
    empty.write_text("id\tlabel\n")
    with pytest.raises(LabelError, match="no rows"):
        read_label_table(empty)


def test_dict_source_and_missing_ids():
    labels = {IDS[0]: "EI", IDS[1]: ["EI", "x"], IDS[2]: "N", IDS[3]: "N", IDS[4]: "a,b"}
    got = [i.labels for i in iter_sequences(DATA / "dna.fa", labels=labels)]
    assert got == [("EI",), ("EI", "x"), ("N",), ("N",), ("a", "b")]
    del labels[IDS[3]]
    with pytest.raises(LabelError, match="labels dict") as err:
        list(iter_sequences(DATA / "dna.fa", labels=labels))
    assert err.value.record == IDS[3] and err.value.line == 7 and "dna.fa" in str(err.value)
    with pytest.raises(LabelError):
        label_source({"a": 3})


def test_filename_source():
    assert class_from_filename("data/promoter.fa.gz") == "promoter"
    assert class_from_filename("non_promoter.fasta") == "non_promoter"
    items = list(iter_sequences([DATA / "N.fa", DATA / "EI.fa"], labels="filename"))
    assert [i.labels for i in items] == [("N",), ("N",), ("EI",), ("EI",)]


def test_labelled_and_unlabelled_records_do_not_mix(tmp_path):
    path = tmp_path / "m.fa"
    path.write_text(">a label=x\nAC\n>b\nAC\n")
    with pytest.raises(LabelError, match="label every record") as err:
        list(iter_sequences(path))
    assert err.value.record == "b" and err.value.line == 3
    path.write_text(">a\nAC\n>b label=x\nAC\n")
    with pytest.raises(LabelError, match="first record had none") as err:
        list(iter_sequences(path))
    assert err.value.record == "b"


def test_bad_spec():
    with pytest.raises(LabelError):
        label_source(42)

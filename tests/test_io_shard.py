"""Sharding for the workflow: contiguous shards in order, gather restores input order."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from bioseq.cli import main
from bioseq.errors import ConfigError, EmptyInputError, InputFormatError
from bioseq.io.readers import iter_sequences, read
from bioseq.io.shard import gather_tables, shard_file, shard_sizes
from bioseq.io.writers import PredictionBatch, PredictionWriter, read_predictions

DATA = Path(__file__).parent / "data" / "io"
REAL = Path(__file__).parents[1] / "data" / "splice_uci" / "valid.fa.gz"


def test_shard_sizes():
    assert shard_sizes(10, 3) == [4, 3, 3]
    assert shard_sizes(2, 4) == [1, 1, 0, 0]
    with pytest.raises(ConfigError):
        shard_sizes(5, 0)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_shard_round_trip_preserves_order_and_labels(tmp_path, n):
    outs = [tmp_path / f"s{i}.fa" for i in range(n)]
    sizes = shard_file(REAL, outs)
    original = list(iter_sequences(REAL))
    assert sum(sizes) == len(original) and max(sizes) - min(sizes) <= 1
    assert list(iter_sequences(outs)) == original
    assert [sum(1 for _ in iter_sequences(o)) for o in outs] == sizes


def test_more_shards_than_records_gives_empty_files(tmp_path):
    outs = [tmp_path / f"s{i}.fa.gz" for i in range(7)]
    assert shard_file(DATA / "dna.fa", outs) == [1, 1, 1, 1, 1, 0, 0]
    assert gzip.decompress(outs[-1].read_bytes()) == b""
    with pytest.raises(EmptyInputError):
        list(iter_sequences(outs[-1]))
    assert list(iter_sequences(outs, allow_empty=True)) == list(iter_sequences(DATA / "dna.fa"))


def test_shard_other_formats_to_fasta_keeps_headers(tmp_path):
    outs = [tmp_path / "a.fa", tmp_path / "b.fa"]
    shard_file(DATA / "dna.gb.bz2", outs)
    recs = list(read(outs))
    assert [r.annotations["labels"] for r in recs] == [("EI",), ("EI",), ("N",)]
    text = outs[0].read_text()
    assert text.startswith(">ATRINS-DONOR-905 label=EI\nAGACCC")
    assert ">GIBHBGGL-DONOR-7 GIBHBGGL-DONOR-7198 label=EI\n" in text  # id kept before the description


def test_shard_refuses_stdin_and_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="stdin"):
        shard_file("-", [tmp_path / "a.fa"])
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nAC\n>a\nGG\n")
    with pytest.raises(Exception, match="duplicate"):
        shard_file(bad, [tmp_path / "x.fa"])
    assert not (tmp_path / "x.fa").exists()


def fake_predictions(shard: Path, out: Path) -> None:
    items = list(iter_sequences(shard, allow_empty=True))
    probs = np.array([[len(i.seq) % 7 / 10, 1 - len(i.seq) % 7 / 10] for i in items]).reshape(-1, 2)
    with PredictionWriter(out, ["p", "q"]) as w:
        w.write(PredictionBatch([i.id for i in items], probs.argmax(1) if len(items) else [], probs))


def test_shard_predict_gather_round_trip_keeps_input_order(tmp_path):
    shards = [tmp_path / f"s{i}.fa" for i in range(4)]
    shard_file(REAL, shards)
    tables = [tmp_path / f"p{i}.tsv" for i in range(4)]
    for s, t in zip(shards, tables, strict=True):
        fake_predictions(s, t)
    rows = gather_tables(tables, tmp_path / "all.tsv")
    table = read_predictions(tmp_path / "all.tsv")
    assert rows == len(table.ids) and table.ids == [i.id for i in iter_sequences(REAL)]


def test_gather_rejects_mismatched_headers_and_empty_files(tmp_path):
    a, b, c = tmp_path / "a.tsv", tmp_path / "b.tsv", tmp_path / "c.tsv"
    with PredictionWriter(a, ["x", "y"]) as w:
        w.write(PredictionBatch(["r1"], ["x"], [[1, 0]]))
    with PredictionWriter(b, ["y", "x"]) as w:
        w.write(PredictionBatch(["r2"], ["x"], [[0, 1]]))
    c.write_text("")
    out = tmp_path / "out.tsv"
    with pytest.raises(InputFormatError, match="header differs") as err:
        gather_tables([a, b], out)
    assert str(b) in str(err.value)
    with pytest.raises(EmptyInputError):
        gather_tables([a, c], out)
    assert not out.exists()
    with pytest.raises(ConfigError):
        gather_tables([], out)


def test_cli_shard_and_gather(tmp_path, capsys):
    outs = [str(tmp_path / f"s{i}.fa") for i in range(2)]
    assert main(["shard", str(DATA / "dna.fa.gz"), "-o", *outs]) == 0
    assert "5 records into 2 shards" in capsys.readouterr().out
    tables = []
    for i, s in enumerate(outs):
        tables.append(tmp_path / f"p{i}.tsv")
        fake_predictions(Path(s), tables[-1])
    assert main(["gather", *map(str, tables), "-o", str(tmp_path / "all.tsv")]) == 0
    assert read_predictions(tmp_path / "all.tsv").ids == [i.id for i in iter_sequences(DATA / "dna.fa")]
    assert main(["gather", str(DATA / "dna.fa"), "-o", str(tmp_path / "x.tsv")]) == 1
    assert "not a prediction table" in capsys.readouterr().err


def test_gather_any_table_or_headerless_lines(tmp_path, capsys):
    """--kind tsv: one header (checked equal), any columns; --kind lines: no header, empty parts
    allowed (a chromosome without windows), a last line without newline completed."""
    a, b, c = tmp_path / "a.tsv", tmp_path / "b.tsv", tmp_path / "c.tsv"
    a.write_text("chrom\tpos\tdelta_x\nchr1\t5\t0.1\n")
    b.write_text("chrom\tpos\tdelta_x\n")
    c.write_text("chrom\tpos\tdelta_x\nchr2\t7\t-0.2")
    out = tmp_path / "all.tsv"
    assert gather_tables([a, b, c], out, kind="tsv") == 2
    assert out.read_text() == "chrom\tpos\tdelta_x\nchr1\t5\t0.1\nchr2\t7\t-0.2\n"
    other = tmp_path / "other.tsv"
    other.write_text("chrom\tpos\tdelta_y\n")
    with pytest.raises(InputFormatError, match="header differs") as err:
        gather_tables([a, other], tmp_path / "x.tsv", kind="tsv")
    assert str(other) in str(err.value)
    empty = tmp_path / "empty.bedGraph"
    empty.write_text("")
    with pytest.raises(EmptyInputError, match="no header"):
        gather_tables([a, empty], tmp_path / "x.tsv", kind="tsv")
    t1, t2 = tmp_path / "1.bedGraph", tmp_path / "2.bedGraph"
    t1.write_text("chr1\t0\t10\t0.5\n")
    t2.write_text("chr2\t0\t10\t0.25")
    lines = tmp_path / "all.bedGraph"
    assert main(["gather", "--kind", "lines", str(t1), str(empty), str(t2), "-o", str(lines)]) == 0
    assert lines.read_text() == "chr1\t0\t10\t0.5\nchr2\t0\t10\t0.25\n"
    with pytest.raises(ConfigError, match="unknown kind"):
        gather_tables([t1], tmp_path / "x", kind="bed")
    assert main(["gather", "--kind", "lines", str(tmp_path / "missing"), "-o", str(tmp_path / "x")]) == 1
    assert "missing" in capsys.readouterr().err and not (tmp_path / "x").exists()

"""Format detection by extension/content and transparent gzip/bzip2/stdin opening."""

import bz2
import gzip
import io
import sys
from pathlib import Path

import pytest

from bioseq.errors import InputFormatError
from bioseq.io.formats import detect_format, format_extension, open_binary, open_text, sniff_format

DATA = Path(__file__).parent / "data" / "io"


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("x.fa", "fasta"), ("x.fasta", "fasta"), ("x.fna", "fasta"), ("x.ffn", "fasta"), ("x.faa", "fasta"),
        ("x.fas", "fasta"), ("x.FA.GZ", "fasta"), ("dir.v2/x.fa.bz2", "fasta"),
        ("x.fq", "fastq"), ("x.fastq.gz", "fastq"),
        ("x.gb", "genbank"), ("x.gbk", "genbank"), ("x.gbff.gz", "genbank"), ("x.genbank", "genbank"),
        ("x.embl", "embl"), ("x.em.bz2", "embl"),
    ],
)
def test_detect_format_by_extension(name, fmt):
    assert detect_format(name) == fmt


def test_unknown_extension_names_file_and_suggests_format():
    with pytest.raises(InputFormatError) as err:
        detect_format("reads.txt.gz")
    assert "reads.txt.gz" in str(err.value) and "format=" in str(err.value) and "'.txt'" in str(err.value)
    with pytest.raises(InputFormatError):
        detect_format("-")


def test_format_extension_strips_compression_only():
    assert format_extension("a.b.fa.gz") == ".fa"
    assert format_extension("noext") == ""


@pytest.mark.parametrize(
    "head, fmt",
    [(b"\n\n>id\nACGT", "fasta"), (b"@r1\nACGT\n+\nIIII", "fastq"), (b"LOCUS  x", "genbank"),
     (b"ID   x; SV 1", "embl"), (b"hello", None), (b"", None)],
)
def test_sniff_format(head, fmt):
    assert sniff_format(head) == fmt


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_open_binary_decompresses_by_magic_bytes(tmp_path, suffix):
    plain = (DATA / "dna.fa").read_bytes()
    with open_binary(DATA / f"dna.fa{suffix}") as fh:
        assert fh.read() == plain
    # a misleading name does not matter: the content decides
    misnamed = tmp_path / "looks_plain.fa"
    misnamed.write_bytes((DATA / f"dna.fa{suffix}").read_bytes())
    with open_text(misnamed) as fh:
        assert fh.read() == plain.decode()


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputFormatError, match="no such file"):
        open_binary(tmp_path / "absent.fa")


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, bz2.compress])
def test_stdin_plain_and_compressed(monkeypatch, compress):
    plain = (DATA / "dna.fa").read_bytes()
    fake = io.TextIOWrapper(io.BufferedReader(io.BytesIO(compress(plain))))
    monkeypatch.setattr(sys, "stdin", fake)
    fh = open_binary("-")
    assert fh.read() == plain
    fh.close()
    assert not fake.buffer.closed  # closing our handle leaves stdin open

import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from Bio.SeqIO.FastaIO import SimpleFastaParser

from bioseq.cli import main
from bioseq.tokenize.kmer import KmerTokenizer

ROOT = Path(__file__).resolve().parents[1]
SPLICE = ROOT / "data" / "splice_uci" / "valid.fa.gz"
PROMOTERS = ROOT / "data" / "gb_nontata_promoters_testsplit" / "test.fa.gz"


def run_json(capsys, *argv):
    assert main(["tokenize", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _independent_summary(path, k, canonical=False):
    """The same figures computed with Biopython + single encodes."""
    tok = KmerTokenizer(k=k, canonical=canonical)
    lengths, labels, tokens, unknown = [], Counter(), 0, 0
    with gzip.open(path, "rt") as fh:
        for title, seq in SimpleFastaParser(fh):
            lengths.append(len(seq))
            labels[title.split("label=")[1].split()[0]] += 1
            ids = tok.encode(seq)
            tokens += len(ids)
            unknown += int((ids == tok.UNK).sum())
    lengths.sort()
    return lengths, labels, tokens, unknown


@pytest.mark.parametrize("path, k, canonical", [(SPLICE, 3, False), (PROMOTERS, 6, True)])
def test_summary_of_real_data_matches_an_independent_count(capsys, path, k, canonical):
    args = [path, "--kmer", k, "--batch-size", 100] + (["--canonical"] if canonical else [])
    s = run_json(capsys, *args)
    lengths, labels, tokens, unknown = _independent_summary(path, k, canonical)
    assert s["records"] == len(lengths)
    assert s["bases"] == sum(lengths)
    assert (s["length_min"], s["length_max"]) == (lengths[0], lengths[-1])
    assert s["tokens"] == tokens
    assert s["unknown_tokens"] == unknown and s["unknown_rate"] == pytest.approx(unknown / tokens)
    assert s["label_counts"] == dict(labels)
    assert s["vocab_size"] == KmerTokenizer(k=k, canonical=canonical).vocab_size
    assert s["tokenizer"]["name"] == "kmer" and s["tokenizer"]["canonical"] is canonical


def test_promoters_have_unknown_tokens(capsys):
    assert run_json(capsys, PROMOTERS, "--kmer", 6)["unknown_tokens"] > 0  # the test split holds a few N


@pytest.fixture
def small_fasta(tmp_path):
    path = tmp_path / "small.fa"
    path.write_text(">a label=x\nACGTNACGT\n>b label=y\nacgtac\ngtac\n>c label=x\nACGTA\n")
    return path


def test_small_file(capsys, small_fasta):
    s = run_json(capsys, small_fasta, "--kmer", "3", "--stride", "2")
    assert s["records"] == 3 and s["bases"] == 9 + 10 + 5
    assert (s["length_min"], s["length_median"], s["length_max"]) == (5, 9.0, 10)
    assert s["tokens"] == 4 + 4 + 2
    assert s["unknown_tokens"] == 2  # GTN and NAC
    assert s["label_counts"] == {"x": 2, "y": 1} and s["unlabelled_records"] == 0


def test_text_output(capsys, small_fasta):
    assert main(["tokenize", str(small_fasta), "--kmer", "2"]) == 0
    out = capsys.readouterr().out
    assert "records          3" in out
    assert "min 5  median 9  max 10" in out
    assert "vocab size       20" in out
    assert "labels           x 2, y 1" in out


def test_unknown_reject_names_the_record(capsys, small_fasta):
    assert main(["tokenize", str(small_fasta), "--kmer", "3", "--unknown", "reject"]) == 1
    err = capsys.readouterr().err
    assert "record 'a'" in err and "'N'" in err


def test_too_short_fails_or_is_counted(capsys, small_fasta):
    assert main(["tokenize", str(small_fasta), "--kmer", "6"]) == 1
    assert "record 'c'" in capsys.readouterr().err
    s = run_json(capsys, small_fasta, "--kmer", "6", "--short", "empty")
    assert s["records_without_tokens"] == 1 and s["tokens"] == 4 + 5 + 0


def test_protein_and_wrong_alphabet(capsys, tmp_path):
    path = tmp_path / "p.fa"
    path.write_text(">p1\nMKVLAAGIX\n>p2\nMKKLLPLLV*\n")
    s = run_json(capsys, path, "--kmer", "1", "--alphabet", "protein")
    assert s["tokens"] == 19 and s["unknown_tokens"] == 2
    assert s["label_counts"] == {} and s["unlabelled_records"] == 2
    assert main(["tokenize", str(path), "--kmer", "1"]) == 1  # protein read as DNA
    assert "'p1'" in capsys.readouterr().err
    assert main(["tokenize", str(path), "--kmer", "2", "--alphabet", "protein", "--canonical"]) == 1
    assert "complement" in capsys.readouterr().err


def test_several_inputs_are_chained(capsys, small_fasta, tmp_path):
    other = tmp_path / "other.fa"
    other.write_text(">d label=y\nTTTTT\n")
    s = run_json(capsys, small_fasta, other, "--kmer", "1")
    assert s["records"] == 4 and s["label_counts"] == {"x": 2, "y": 2}


def test_stdin_through_the_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "bioseq", "tokenize", "-", "--kmer", "2", "--json"],
        input=">s1\nACGTACGT\n>s2\nGGGG\n", capture_output=True, text=True, check=True,
    )
    s = json.loads(proc.stdout)
    assert s["records"] == 2 and s["tokens"] == 7 + 3
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal


def test_short_sequence_error_names_file_and_record(tmp_path, capsys):
    from bioseq.cli import main

    path = tmp_path / "short.fa"
    path.write_text(">ok\nACGTACGT\n>tiny\nAC\n")
    assert main(["tokenize", str(path), "--kmer", "3"]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "'tiny'" in err and "shorter than k=3" in err

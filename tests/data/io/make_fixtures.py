"""Regenerate the tiny reader fixtures in this folder from the real datasets in data/.

    python tests/data/io/make_fixtures.py

Sequences and ids are real (first records of splice_uci and ampscanner_v2_amp
valid splits); FASTQ qualities are synthetic (a fixed pattern: no real reads
ship with the project); GenBank/EMBL files are written by Biopython from the
same records.
"""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqIO.FastaIO import SimpleFastaParser
from Bio.SeqRecord import SeqRecord

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2] / "data"


def first(path: Path, n: int, label: str | None = None) -> list[tuple[str, str, str]]:
    out = []
    with gzip.open(path, "rt") as fh:
        for title, seq in SimpleFastaParser(fh):
            rid, _, desc = title.partition(" ")
            if label is None or desc == f"label={label}":
                out.append((rid, desc, seq))
            if len(out) == n:
                break
    return out


def wrap(seq: str, width: int = 60) -> str:
    return "\n".join(seq[i : i + width] for i in range(0, len(seq), width))


def main() -> None:
    dna = first(DATA / "splice_uci" / "valid.fa.gz", 2, "EI") + first(DATA / "splice_uci" / "valid.fa.gz", 2, "N")
    dna += first(DATA / "ienhancer2l_enhancer" / "valid.fa.gz", 1)  # 200 bp: wrapped over 4 lines
    fasta = "".join(f">{rid} {desc}\n{wrap(seq)}\n" for rid, desc, seq in dna)
    (HERE / "dna.fa").write_text(fasta)
    (HERE / "dna.fa.gz").write_bytes(gzip.compress(fasta.encode(), mtime=0))
    (HERE / "dna.fa.bz2").write_bytes(bz2.compress(fasta.encode()))

    protein = first(DATA / "ampscanner_v2_amp" / "valid.fa.gz", 3)
    (HERE / "amp.faa").write_text("".join(f">{rid} {desc}\n{wrap(seq)}\n" for rid, desc, seq in protein))

    # FASTQ: real sequences, synthetic Phred+33 qualities
    fq = "".join(
        f"@{rid} {desc}\n{seq}\n+\n{''.join(chr(33 + 30 + (i % 10)) for i in range(len(seq)))}\n"
        for rid, desc, seq in dna[:4]
    )
    (HERE / "dna.fq").write_text(fq)
    (HERE / "dna.fq.gz").write_bytes(gzip.compress(fq.encode(), mtime=0))
    (HERE / "dna.fq.bz2").write_bytes(bz2.compress(fq.encode()))

    records = []
    for rid, desc, seq in dna[:3]:
        rec = SeqRecord(Seq(seq), id=rid[:16], name=rid[:16], description=f"{rid} {desc}")
        rec.annotations["molecule_type"] = "DNA"
        records.append(rec)
    for fmt, ext in (("genbank", "gb"), ("embl", "embl")):
        path = HERE / f"dna.{ext}"
        SeqIO.write(records, path, fmt)
        text = path.read_bytes()
        (HERE / f"dna.{ext}.gz").write_bytes(gzip.compress(text, mtime=0))
        (HERE / f"dna.{ext}.bz2").write_bytes(bz2.compress(text))

    # label sources for the same ids
    (HERE / "labels.tsv").write_text("id\tlabel\n" + "".join(f"{r}\t{d[6:]}\n" for r, d, _ in dna))
    (HERE / "labels.csv").write_text("".join(f"{r},{d[6:]}\n" for r, d, _ in dna))
    for label in ("EI", "N"):
        (HERE / f"{label}.fa").write_text(
            "".join(f">{rid}\n{wrap(seq)}\n" for rid, desc, seq in dna if desc == f"label={label}")
        )


if __name__ == "__main__":
    main()

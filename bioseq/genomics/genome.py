"""Random access to a reference genome in constant memory.

:class:`Genome` wraps ``pysam.FastaFile`` (htslib's faidx, the code behind
``samtools faidx``): a plain FASTA with its ``.fai``, or a bgzip-compressed one
with ``.fai`` and ``.gzi``. Only the bytes of the requested interval are read,
so whole chromosomes are never loaded. A missing index is built beside the
FASTA when that directory is writable; otherwise the error names the file and
the command that builds it. A FASTA compressed with plain gzip (not bgzip)
cannot be indexed: the error says to recompress it with ``bgzip``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bioseq.errors import ConfigError, GenomeError
from bioseq.io.atomic import atomic_open

EXTRA_HINT = "install the genomics extra: pip install 'bioseq[genomics]'"


def require_pysam() -> Any:
    """The ``pysam`` module, or a :class:`~bioseq.errors.ConfigError` naming the extra."""
    try:
        import pysam
    except ImportError:
        raise ConfigError(f"reference genomes, BED regions and VCF files need pysam: {EXTRA_HINT}") from None
    return pysam


def compression(path: str | os.PathLike[str]) -> str:
    """``"plain"``, ``"bgzip"`` or ``"gzip"`` (plain gzip: not randomly accessible), by magic bytes."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    # BGZF: gzip with FEXTRA whose subfield is 'BC' (SAM specification, section 4.1).
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzip"
    return "gzip"


def index_files(path: str | os.PathLike[str], kind: str) -> list[Path]:
    """The index files htslib needs beside ``path``: ``.fai`` (and ``.gzi`` for bgzip)."""
    p = Path(path)
    names = [p.with_name(p.name + ".fai")]
    if kind == "bgzip":
        names.append(p.with_name(p.name + ".gzi"))
    return names


class Genome:
    """A FASTA reference opened for random access (a context manager; :meth:`close` when done).

    Args:
        path: ``genome.fa`` or ``genome.fa.gz`` (bgzip) with its index beside it, or in a
            writable directory (the index is then built).

    Attributes:
        path: the FASTA.
        lengths: ``{chromosome: length}`` in the order of the ``.fai``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        pysam = require_pysam()
        self.path = Path(path)
        if not self.path.is_file():
            raise GenomeError("no such genome FASTA", path=self.path)
        kind = compression(self.path)
        if kind == "gzip":
            raise GenomeError(
                "compressed with plain gzip, which cannot be read at random: recompress it with "
                "'gunzip -c FILE | bgzip > FILE' (bgzip comes with htslib/samtools) or decompress it",
                path=self.path,
            )
        missing = [f for f in index_files(self.path, kind) if not f.exists()]
        if missing and not os.access(self.path.parent, os.W_OK):
            raise GenomeError(
                f"index {missing[0].name} is missing and {self.path.parent} is not writable: build it with "
                f"'samtools faidx {self.path}' where you can write, or copy the FASTA to a writable directory",
                path=self.path,
            )
        try:
            self._fasta = pysam.FastaFile(os.fspath(self.path))
        except (OSError, ValueError) as exc:
            raise GenomeError(f"cannot open or index the genome FASTA ({exc})", path=self.path) from None
        self.lengths: dict[str, int] = dict(zip(self._fasta.references, self._fasta.lengths, strict=True))

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._fasta.close()

    def length(self, chrom: str) -> int:
        """Length of ``chrom``; :class:`~bioseq.errors.GenomeError` when the genome has no such chromosome."""
        try:
            return self.lengths[chrom]
        except KeyError:
            shown = ", ".join(list(self.lengths)[:10]) + (", ..." if len(self.lengths) > 10 else "")
            raise GenomeError(f"unknown chromosome {chrom!r} (the genome has {shown})", path=self.path) from None

    def fetch(self, chrom: str, start: int, end: int, *, pad: bool = False) -> str:
        """Upper-case letters of ``chrom[start:end]`` (0-based, half-open).

        An interval reaching before 0 or past the chromosome's end is a
        :class:`~bioseq.errors.GenomeError`, unless ``pad``: the missing part is ``N``.
        """
        size = self.length(chrom)
        if start > end:
            raise GenomeError(f"{chrom}:{start}-{end}: start after end", path=self.path)
        if start < 0 or end > size:
            if not pad:
                raise GenomeError(
                    f"{chrom}:{start}-{end} reaches past the chromosome ({chrom} is {size} bp; "
                    f"--pad fills the outside with N)", path=self.path,
                )
            lo, hi = min(max(start, 0), size), max(min(end, size), 0)
            inner = self._fasta.fetch(chrom, lo, hi).upper() if hi > lo else ""
            left = max(0, min(lo - start, end - start))
            return "N" * left + inner + "N" * (end - start - left - len(inner))
        return self._fasta.fetch(chrom, start, end).upper()


def write_chrom_sizes(genome_path: str | os.PathLike[str], output: str | os.PathLike[str]) -> dict[str, int]:
    """Write ``chrom<TAB>length`` per chromosome of the genome, in ``.fai`` order (UCSC's
    ``chrom.sizes``), building the index beside the FASTA when missing; return the lengths.

    The workflow shards scans and variant scoring by these chromosomes: one job builds the index
    before the shards read it, and the list is read from a file rather than from bioseq.
    """
    with Genome(genome_path) as genome:
        lengths = dict(genome.lengths)
    with atomic_open(output, "w") as fh:
        fh.writelines(f"{chrom}\t{size}\n" for chrom, size in lengths.items())
    return lengths


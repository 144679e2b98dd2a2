"""BED regions on a reference genome, turned into the ``(id, sequence)`` records bioseq consumes.

BED coordinates are 0-based and half-open: ``chr1 10 20`` is the ten letters
``chr1[10:20]``, i.e. 1-based positions 11..20. A region on strand ``-`` reads
the reverse complement; ``.`` or no strand column reads the forward strand.
``width`` resizes every region around its centre first: the new start is
``start + (end - start - width) // 2`` (so ``[100, 200)`` at width 50 is
``[125, 175)``). A region reaching past a chromosome's end, or on a chromosome the
genome lacks, is a :class:`~bioseq.errors.GenomeError` naming the BED line, or,
with ``pad``, is filled with ``N`` outside the chromosome.

Record ids: the BED name (column 4) when it is given and not ``.``, else
``chrom:start-end(strand)`` with the coordinates actually read (after resizing).
Labels (training): the value of ``label_column`` (1-based; default 4, the name).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import NamedTuple

from bioseq.alphabets import DNA
from bioseq.errors import ConfigError, GenomeError, InputFormatError
from bioseq.genomics.genome import Genome
from bioseq.io.formats import decoding_errors_named, open_text
from bioseq.io.readers import SequenceItem

STRANDS = ("+", "-", ".")
REGION_COLUMNS = ("chrom", "start", "end", "strand")
NAME_COLUMN = 4


class Region(NamedTuple):
    """One BED interval (0-based, half-open) and where it came from."""

    chrom: str
    start: int
    end: int
    strand: str = "."
    name: str | None = None
    label: str | None = None
    line: int | None = None

    def id(self) -> str:
        """The record id: the name, or ``chrom:start-end(strand)``."""
        if self.name and self.name != ".":
            return self.name
        return f"{self.chrom}:{self.start}-{self.end}({self.strand})"


def _skip(line: str) -> bool:
    return not line.strip() or line.startswith(("#", "track", "browser"))


def read_bed(path: str | os.PathLike[str], label_column: int | None = None) -> Iterator[Region]:
    """The regions of a BED file (plain or gzip/bzip2), streamed, in file order.

    ``label_column``: 1-based column holding each region's label (4: the name column);
    a line without it is an :class:`~bioseq.errors.InputFormatError`.
    """
    if label_column is not None and label_column < 4:
        raise ConfigError(f"the label column must be 4 (the name) or later, got {label_column}")
    n = 0
    with open_text(path) as fh, decoding_errors_named(path, "a BED file (plain text, .gz or .bz2)"):
        for lineno, line in enumerate(fh, start=1):
            if _skip(line):
                continue
            yield _parse_line(line, path, lineno, label_column)
            n += 1
    if n == 0:
        from bioseq.errors import EmptyInputError

        raise EmptyInputError("BED file holds no regions", path=path)


def _parse_line(line: str, path: str | os.PathLike[str], lineno: int, label_column: int | None) -> Region:
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < 3:
        fields = line.split()
    if len(fields) < 3:
        raise InputFormatError("a BED line needs chrom, start and end (tab-separated)", path=path, line=lineno)
    try:
        start, end = int(fields[1]), int(fields[2])
    except ValueError:
        raise InputFormatError(
            f"start and end must be integers, found {fields[1]!r} and {fields[2]!r}", path=path, line=lineno
        ) from None
    if start < 0 or end < start:
        raise InputFormatError(f"need 0 <= start <= end, found {start} and {end}", path=path, line=lineno)
    strand = fields[5] if len(fields) > 5 else "."
    if strand not in STRANDS:
        raise InputFormatError(f"strand must be +, - or ., found {strand!r}", path=path, line=lineno)
    label = None
    if label_column is not None:
        if len(fields) < label_column or not fields[label_column - 1].strip():
            raise InputFormatError(f"no label in column {label_column}", path=path, line=lineno)
        label = fields[label_column - 1].strip()
    name = fields[3] if len(fields) > 3 else None
    return Region(fields[0], start, end, strand, name, label, lineno)


def resize(region: Region, width: int | None) -> Region:
    """``region`` resized to ``width`` around its centre (``None``: unchanged)."""
    if width is None:
        return region
    if width < 1:
        raise ConfigError(f"--width must be >= 1, got {width}")
    start = region.start + (region.end - region.start - width) // 2
    return region._replace(start=start, end=start + width)


def region_sequence(genome: Genome, region: Region, *, pad: bool = False, where: str | None = None) -> str:
    """The letters of ``region`` (reverse complement on ``-``); errors name the BED line."""
    if region.end == region.start:
        raise GenomeError("empty region (start == end): give --width to widen it", path=where, line=region.line)
    try:
        seq = genome.fetch(region.chrom, region.start, region.end, pad=pad)
    except GenomeError as exc:
        raise GenomeError(f"{exc.message} (genome {genome.path})", path=where, line=region.line) from None
    return DNA.reverse_complement(seq) if region.strand == "-" else seq


def region_records(
    genome: Genome,
    regions: Iterable[Region],
    *,
    width: int | None = None,
    pad: bool = False,
    id_from_name: bool = True,
    where: str | None = None,
) -> Iterator[tuple[Region, SequenceItem]]:
    """``(resized region, SequenceItem(id, seq, labels))`` per region, streamed.

    ``id_from_name=False`` always uses ``chrom:start-end(strand)`` (training, where the
    name column holds the labels). ``labels`` is ``(region.label,)`` when the region has one.
    """
    for region in regions:
        r = resize(region, width)
        rid = r.id() if id_from_name else r._replace(name=None).id()
        labels = None if r.label is None else (r.label,)
        yield r, SequenceItem(rid, region_sequence(genome, r, pad=pad, where=where), labels)


def iter_region_chunks(
    genome: Genome, regions: Iterable[Region], chunk_size: int, **options
) -> Iterator[tuple[list[Region], list[str], list[str]]]:
    """``(regions, ids, seqs)`` chunks of :func:`region_records` (options: the same)."""
    records = region_records(genome, regions, **options)
    while chunk := list(islice(records, chunk_size)):
        yield [r for r, _ in chunk], [item.id for _, item in chunk], [item.seq for _, item in chunk]


def region_columns(regions: list[Region]) -> list[list[object]]:
    """The ``chrom, start, end, strand`` columns of a region prediction table."""
    return [[r.chrom for r in regions], [r.start for r in regions], [r.end for r in regions],
            [r.strand for r in regions]]

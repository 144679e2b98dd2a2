"""Genome scans: a model's probability of one class in sliding windows, as a bedGraph track.

Windows of ``window`` letters start every ``stride`` letters from the start of each
chromosome (or of each ``--regions`` interval, after sorting and merging them; strand
ignored) while they fit inside it. A window's value goes to its central
``stride``-wide bin, ``[start + (window - stride) // 2, + stride)``, so consecutive
windows' bins tile the track without overlap (the first and last
``(window - stride) // 2`` letters of a span get no value). N rule: a window with more
than ``max_n`` (a fraction, default 0.1) of letters other than A, C, G, T is skipped and
leaves a gap. Lines are sorted: chromosomes in the genome's ``.fai`` order, then by start.

Streaming: windows are cut from one block of the genome at a time (``chunk`` windows,
a few MB of letters) and scored through ``model.predict_proba_sequences``, so memory is
flat in the chromosome's length. ``peaks``: BED6 of merged runs of adjacent bins whose
value is at least ``threshold`` (name ``chrom:start-end``, the same in a scan of one
chromosome as in the whole genome's; score ``round(1000 * max value)``). ``chroms`` restricts a
scan to some chromosomes: a workflow's shard, the concatenation of which in ``.fai`` order is
the whole scan.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bioseq.errors import ConfigError
from bioseq.genomics.genome import Genome
from bioseq.genomics.model_info import class_index, model_length
from bioseq.genomics.regions import Region, read_bed
from bioseq.io.atomic import AtomicTextWriter

MAX_LETTERS_PER_CHUNK = 8_000_000
_ACGT = np.zeros(256, bool)
_ACGT[np.frombuffer(b"ACGT", np.uint8)] = True


@dataclass
class ScanStats:
    windows: int = 0
    skipped_n: int = 0
    short_spans: int = 0
    peaks: int = 0
    chromosomes: list[str] = field(default_factory=list)


class BedGraphWriter(AtomicTextWriter):
    """bedGraph lines ``chrom start end value``; ``write((chrom, starts, ends, values))``."""

    def write(self, batch: tuple[str, np.ndarray, np.ndarray, np.ndarray]) -> None:
        chrom, starts, ends, values = batch
        line = f"{chrom}\t%d\t%d\t%.6g\n"
        rows = zip(starts.tolist(), ends.tolist(), values.tolist(), strict=True)
        self._handle().write("".join(line % row for row in rows))


class PeakWriter(AtomicTextWriter):
    """Merges adjacent bins at or above ``threshold`` into BED6 peaks; ``write`` takes what
    :class:`BedGraphWriter` takes (one chromosome's bins, in order)."""

    def __init__(self, path: str | os.PathLike[str], threshold: float) -> None:
        super().__init__(path)
        self.threshold = threshold
        self.count = 0
        self._run: list[Any] | None = None  # [chrom, start, end, max]

    def write(self, batch: tuple[str, np.ndarray, np.ndarray, np.ndarray]) -> None:
        chrom, starts, ends, values = batch
        for s, e, v in zip(starts.tolist(), ends.tolist(), values.tolist(), strict=True):
            run = self._run
            if run is not None and (run[0] != chrom or run[2] != s or v < self.threshold):
                self._flush()
                run = None
            if v >= self.threshold:
                if run is None:
                    self._run = [chrom, s, e, v]
                else:
                    run[2], run[3] = e, max(run[3], v)

    def _flush(self) -> None:
        if self._run is not None:
            chrom, s, e, v = self._run
            self.count += 1
            self._handle().write(f"{chrom}\t{s}\t{e}\t{chrom}:{s}-{e}\t{round(1000 * v)}\t.\n")
            self._run = None

    def _commit(self) -> None:
        self._flush()
        super()._commit()


def scan_spans(genome: Genome, regions: Iterable[Region] | None) -> list[tuple[str, int, int]]:
    """``(chrom, start, end)`` to scan: whole chromosomes, or the regions sorted in genome
    order and merged where they overlap or touch (unknown chromosomes and ends checked)."""
    if regions is None:
        return [(c, 0, n) for c, n in genome.lengths.items()]
    order = {c: i for i, c in enumerate(genome.lengths)}
    spans = []
    for r in regions:
        genome.length(r.chrom)
        if r.end > genome.lengths[r.chrom]:
            genome.fetch(r.chrom, r.start, r.end)  # raises the named error
        spans.append((order[r.chrom], r.start, r.end, r.chrom))
    merged: list[list[Any]] = []
    for _order, s, e, c in sorted(spans):
        if merged and merged[-1][0] == c and s <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], e)
        else:
            merged.append([c, s, e])
    return [tuple(m) for m in merged]  # type: ignore[misc]


def iter_window_blocks(
    genome: Genome, chrom: str, start: int, end: int, window: int, stride: int, chunk: int, max_n: float
) -> Iterator[tuple[np.ndarray, list[str], int]]:
    """``(window starts kept, their sequences, windows skipped for N)`` per block of ``chunk`` windows."""
    if end - start < window:
        return
    all_starts = np.arange(start, end - window + 1, stride, dtype=np.int64)
    limit = int(max_n * window)
    for i in range(0, len(all_starts), chunk):
        starts = all_starts[i : i + chunk]
        block_start = int(starts[0])
        seq = genome.fetch(chrom, block_start, int(starts[-1]) + window)
        bad = ~_ACGT[np.frombuffer(seq.encode("ascii"), np.uint8)]
        cum = np.concatenate([[0], np.cumsum(bad, dtype=np.int64)])
        offsets = starts - block_start
        keep = (cum[offsets + window] - cum[offsets]) <= limit
        kept = offsets[keep].tolist()
        yield starts[keep], [seq[o : o + window] for o in kept], int((~keep).sum())


def n_windows(length: int, window: int, stride: int) -> int:
    """Windows of a span of ``length`` letters (those that fit, starting every ``stride``)."""
    return (length - window) // stride + 1 if length >= window else 0


def select_chroms(genome: Genome, spans: list[tuple[str, int, int]], chroms: Sequence[str] | None
                  ) -> list[tuple[str, int, int]]:
    """The spans on ``chroms`` only (None: all): one shard of a workflow's scan. Each name must be
    one of the genome's chromosomes (a named error otherwise); the genome's order is kept."""
    if chroms is None:
        return spans
    wanted = set(chroms)
    for c in wanted:
        genome.length(c)
    return [span for span in spans if span[0] in wanted]


def scan_to_file(
    model: Any,
    genome_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    regions: str | os.PathLike[str] | None = None,
    chroms: Sequence[str] | None = None,
    window: int | None = None,
    stride: int | None = None,
    class_name: str | None = None,
    peaks: str | os.PathLike[str] | None = None,
    threshold: float = 0.5,
    max_n: float = 0.1,
    batch_size: int = 256,
    both_strands: bool = False,
    chunk: int = 4096,
    progress: Callable[[int, int], None] | None = None,
) -> ScanStats:
    """Scan ``genome_path`` (see the module doc) into the bedGraph ``output`` (and ``peaks``).

    ``chroms``: scan these chromosomes only (of the genome, or of the ``regions``): a workflow's
    shard, whose gathered output equals the unsharded scan. ``progress``: called as
    ``progress(windows done since the last call, windows in all)`` after each block.
    """
    window = model_length(model, window)
    stride = stride if stride is not None else max(1, window // 2)
    if not 1 <= stride <= window:
        raise ConfigError(f"--stride must be between 1 and the window ({window}), got {stride}")
    if not 0 <= max_n <= 1:
        raise ConfigError(f"--max-n is a fraction between 0 and 1, got {max_n}")
    col = class_index(model, class_name)
    chunk = max(1, min(chunk, MAX_LETTERS_PER_CHUNK // window))
    with Genome(genome_path) as genome:
        spans = scan_spans(genome, None if regions is None else read_bed(regions))
        spans = select_chroms(genome, spans, chroms)
        writers: list[AtomicTextWriter] = [BedGraphWriter(output)]
        if peaks is not None:
            writers.append(PeakWriter(peaks, threshold))
        geometry = _Geometry(window, stride, chunk, max_n, col)
        try:
            stats = _scan(model, genome, spans, writers, geometry, batch_size, both_strands, progress)
        except BaseException:
            for w in writers:
                w.abort()
            raise
        for w in writers:
            w.close()
    stats.chromosomes = [s[0] for s in spans]
    stats.peaks = writers[1].count if peaks is not None else 0  # type: ignore[attr-defined]
    return stats


@dataclass(frozen=True)
class _Geometry:
    """How windows are cut and read: ``window``/``stride`` letters, ``chunk`` windows per block,
    the N fraction ``max_n`` and the probability column ``col`` tracked."""

    window: int
    stride: int
    chunk: int
    max_n: float
    col: int


def _scan(
    model: Any,
    genome: Genome,
    spans: list[tuple[str, int, int]],
    writers: list[AtomicTextWriter],
    g: _Geometry,
    batch_size: int,
    both_strands: bool,
    progress: Callable[[int, int], None] | None,
) -> ScanStats:
    """Score every window of ``spans`` block by block; each block's probabilities ``(n, C)`` go,
    column ``g.col`` on the windows' central bins, to every writer."""
    stats = ScanStats()
    offset = (g.window - g.stride) // 2
    total = sum(n_windows(e - s, g.window, g.stride) for _, s, e in spans)
    for chrom, start, end in spans:
        stats.short_spans += end - start < g.window
        for starts, seqs, skipped in iter_window_blocks(genome, chrom, start, end, g.window, g.stride, g.chunk,
                                                        g.max_n):
            stats.skipped_n += skipped
            if seqs:
                probs = model.predict_proba_sequences(seqs, batch_size=batch_size, both_strands=both_strands)
                bins = starts + offset
                for w in writers:
                    w.write((chrom, bins, bins + g.stride, probs[:, g.col]))
                stats.windows += len(seqs)
            if progress is not None:
                progress(len(seqs) + skipped, total)
    return stats

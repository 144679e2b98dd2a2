"""Variant effects: a model's scores of reference and alternative windows centred on each variant.

VCF positions are 1-based: ``POS`` 11 is the letter at 0-based offset 10. For each
SNV or short indel (REF and ALT at most ``max_allele`` letters and shorter than the
window) each allele is centred in its own ``window``-letter window: the allele starts
``(window - len(allele)) // 2`` letters after the window's start, and the genome
supplies the flanks (the alternative window's right flank continues after REF), so
both windows are exactly ``window`` letters; flanks past a chromosome's end are N.
REF must match the genome (upper case compared): else a
:class:`~bioseq.errors.GenomeError` names the variant and both alleles, unless
``ref_mismatch`` is ``skip`` or ``warn`` (skipped, counted; ``warn`` logs each).
Multi-allelic records give one row per ALT; symbolic (``<DEL>``, breakends, ``*``,
``.``) and too-long alleles are skipped and counted.

Scores (every class ``c``): ``ref_c``, ``alt_c``, ``delta_c = alt_c - ref_c`` and
``log2fc_c = log2((alt_c + 1e-6) / (ref_c + 1e-6))``; with ``both_strands`` each
window's probability is the mean over both strands. Output: a TSV
``chrom pos id ref alt ref_<c>... alt_<c>... delta_<c>... log2fc_<c>...`` or, for a
``.vcf``/``.vcf.gz`` output, the input VCF with ``BIOSEQ_REF_<c>``, ``BIOSEQ_ALT_<c>``,
``BIOSEQ_DELTA_<c>``, ``BIOSEQ_LOG2FC_<c>`` INFO fields (``Number=A``; ``.`` for an
ALT not scored).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.errors import ConfigError, GenomeError, InputFormatError
from bioseq.genomics.genome import Genome, require_pysam
from bioseq.genomics.model_info import model_length
from bioseq.io.atomic import AtomicTextWriter, AtomicWriter, discard_temp, put_in_place, temp_beside

log = logging.getLogger(__name__)
MISMATCH_POLICIES = ("error", "skip", "warn")
EPS = 1e-6
STAT_NAMES = ("ref", "alt", "delta", "log2fc")
_SYMBOLIC = re.compile(r"[<>\[\]*.]")


@dataclass
class VariantStats:
    scored: int = 0
    records: int = 0
    symbolic: int = 0
    too_long: int = 0
    ref_mismatch: int = 0


@dataclass
class Allele:
    """One ALT of one record to score; ``index`` is its position among the record's ALTs."""

    record: Any
    index: int
    ref: str
    alt: str


def allele_windows(genome: Genome, chrom: str, pos: int, ref: str, alt: str, window: int) -> tuple[str, str]:
    """The reference and alternative windows of a variant at 1-based ``pos`` (module doc)."""
    p0 = pos - 1
    left_r = (window - len(ref)) // 2
    ref_win = genome.fetch(chrom, p0 - left_r, p0 - left_r + window, pad=True)
    left_a = (window - len(alt)) // 2
    right_a = window - left_a - len(alt)
    alt_win = (
        genome.fetch(chrom, p0 - left_a, p0, pad=True)
        + alt.upper()
        + genome.fetch(chrom, p0 + len(ref), p0 + len(ref) + right_a, pad=True)
    )
    return ref_win, alt_win


def _check_ref(genome: Genome, rec: Any, policy: str, stats: VariantStats, where: str) -> bool:
    ref = rec.ref.upper()
    try:
        size = genome.length(rec.chrom)
    except GenomeError as exc:
        raise GenomeError(f"variant {rec.chrom}:{rec.pos} {rec.id or '.'}: {exc.message} ({genome.path})",
                          path=where) from None
    if rec.pos < 1 or rec.pos - 1 + len(ref) > size:
        raise GenomeError(f"variant {rec.chrom}:{rec.pos} lies past the end of {rec.chrom} ({size} bp)", path=where)
    found = genome.fetch(rec.chrom, rec.pos - 1, rec.pos - 1 + len(ref))
    if found == ref:
        return True
    what = (f"variant {rec.chrom}:{rec.pos} {rec.id or '.'}: REF {rec.ref} does not match the genome's "
            f"{found} ({genome.path})")
    if policy == "error":
        raise GenomeError(what + "; wrong genome build? --ref-mismatch skip|warn scores the rest", path=where)
    stats.ref_mismatch += 1
    if policy == "warn":
        log.warning("%s: skipped", what)
    return False


def iter_alleles(
    vcf: Any, genome: Genome, window: int, max_allele: int, ref_mismatch: str, stats: VariantStats, where: str,
    chroms: set[str] | None = None,
) -> Iterator[tuple[Any, list[Allele]]]:
    """``(record, its scorable ALTs)`` per VCF record, in file order; with ``chroms``, the records on
    those chromosomes only (a workflow's shard). A record on a chromosome the genome lacks is an
    error in every shard, as it is without ``chroms``: no shard would otherwise report it."""
    limit = min(max_allele, window - 1)
    for rec in vcf:
        if chroms is not None and rec.chrom not in chroms and rec.chrom in genome.lengths:
            continue
        stats.records += 1
        keep: list[Allele] = []
        alts = rec.alts or ()
        if not rec.ref or _SYMBOLIC.search(rec.ref):
            stats.symbolic += len(alts)
        elif _check_ref(genome, rec, ref_mismatch, stats, where):
            for i, alt in enumerate(alts):
                if _SYMBOLIC.search(alt) or not alt:
                    stats.symbolic += 1
                elif max(len(rec.ref), len(alt)) > limit:
                    stats.too_long += 1
                else:
                    keep.append(Allele(rec, i, rec.ref.upper(), alt.upper()))
        yield rec, keep


def score_alleles(
    model: Any, genome: Genome, alleles: list[Allele], window: int, batch_size: int, both_strands: bool
) -> np.ndarray:
    """float64 ``(n, 4, C)``: ref, alt, delta and log2fc per allele and class."""
    wins = [allele_windows(genome, a.record.chrom, a.record.pos, a.ref, a.alt, window) for a in alleles]
    seqs = [w[0] for w in wins] + [w[1] for w in wins]
    probs = model.predict_proba_sequences(seqs, batch_size=batch_size, both_strands=both_strands).astype(np.float64)
    ref, alt = probs[: len(alleles)], probs[len(alleles) :]
    return np.stack([ref, alt, alt - ref, np.log2((alt + EPS) / (ref + EPS))], axis=1)


class EffectTableWriter(AtomicTextWriter):
    """TSV ``chrom pos id ref alt ref_<c>... alt_<c>... delta_<c>... log2fc_<c>...``;
    ``write((alleles, scores (n, 4, C)))``."""

    def __init__(self, path: str | os.PathLike[str], labels: list[str]) -> None:
        super().__init__(path)
        cols = ["chrom", "pos", "id", "ref", "alt"] + [f"{s}_{c}" for s in STAT_NAMES for c in labels]
        self._fh.write("\t".join(cols) + "\n")

    def write(self, batch: tuple[list[tuple[Any, list[Allele]]], dict[int, np.ndarray]]) -> None:
        records, scores = batch
        fh = self._handle()
        for _rec, alleles in records:
            for a in alleles:
                values = "\t".join(f"{v:.6g}" for v in scores[id(a)].ravel().tolist())
                rec = a.record
                fh.write(f"{rec.chrom}\t{rec.pos}\t{rec.id or '.'}\t{a.ref}\t{a.alt}\t{values}\n")


def info_key(stat: str, label: str) -> str:
    """INFO key of one score: ``BIOSEQ_<STAT>_<label>`` with characters VCF refuses replaced by ``_``."""
    return f"BIOSEQ_{stat.upper()}_" + re.sub(r"[^0-9A-Za-z_.]", "_", label)


class EffectVcfWriter(AtomicWriter):
    """The input VCF written back with the scores in INFO (pysam; ``.vcf.gz`` is bgzip-compressed)."""

    def __init__(self, path: str | os.PathLike[str], header: Any, labels: list[str]) -> None:
        pysam = require_pysam()
        self.path = Path(path)
        self.labels = labels
        self.header = header.copy()
        for stat in STAT_NAMES:
            for label in labels:
                self.header.info.add(info_key(stat, label), "A", "Float", f"bioseq {stat} score of class {label}")
        self._tmp = temp_beside(self.path)
        mode = "wz" if self.path.name.endswith(".gz") else "w"
        self._out = pysam.VariantFile(os.fspath(self._tmp), mode, header=self.header)

    def write(self, batch: tuple[list[tuple[Any, list[Allele]]], dict[int, np.ndarray]]) -> None:
        records, scores = batch
        for rec, alleles in records:
            rec.translate(self._out.header)  # the file holds its own copy of the header
            n_alt = len(rec.alts or ())
            if alleles:
                for s, stat in enumerate(STAT_NAMES):
                    for c, label in enumerate(self.labels):
                        values: list[float | None] = [None] * n_alt
                        for a in alleles:
                            values[a.index] = float(scores[id(a)][s, c])
                        rec.info[info_key(stat, label)] = tuple(values)
            self._out.write(rec)

    def _commit(self) -> None:
        self._out.close()
        put_in_place(self._tmp, self.path)

    def _discard(self) -> None:
        self._out.close()
        discard_temp(self._tmp)


def is_vcf_output(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).endswith((".vcf", ".vcf.gz"))


def variant_effects_to_file(
    model: Any,
    vcf_path: str | os.PathLike[str],
    genome_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    chroms: Sequence[str] | None = None,
    window: int | None = None,
    both_strands: bool = False,
    ref_mismatch: str = "error",
    max_allele: int = 50,
    batch_size: int = 256,
    chunk: int = 1024,
    progress: Callable[[int, None], None] | None = None,
) -> VariantStats:
    """Score every SNV/short indel of ``vcf_path`` (module doc) into ``output`` (TSV or VCF).

    ``chroms``: the records on these chromosomes only (each must be one of the genome's), in file
    order: a workflow's shard. ``progress``: called as ``progress(records read since the last
    call, None)`` after each block of ``chunk`` records (the VCF is streamed: no total).
    """
    pysam = require_pysam()
    if ref_mismatch not in MISMATCH_POLICIES:
        raise ConfigError(f"--ref-mismatch must be one of {', '.join(MISMATCH_POLICIES)}, got {ref_mismatch!r}")
    window = model_length(model, window)
    labels = [str(lab) for lab in model.labels]
    stats = VariantStats()
    where = os.fspath(vcf_path)
    vcf = _open_vcf(pysam, where)
    with vcf, Genome(genome_path) as genome:
        for c in chroms or ():
            genome.length(c)
        writer: AtomicWriter = (
            EffectVcfWriter(output, vcf.header, labels) if is_vcf_output(output) else EffectTableWriter(output, labels)
        )
        with writer:
            wanted = None if chroms is None else set(chroms)
            records = iter_alleles(vcf, genome, window, max_allele, ref_mismatch, stats, where, wanted)
            while block := list(islice(records, chunk)):
                alleles = [a for _, group in block for a in group]
                scores: dict[int, np.ndarray] = {}
                if alleles:
                    values = score_alleles(model, genome, alleles, window, batch_size, both_strands)
                    scores = {id(a): values[i] for i, a in enumerate(alleles)}
                    stats.scored += len(alleles)
                writer.write((block, scores))
                if progress is not None:
                    progress(len(block), None)
    return stats


def _open_vcf(pysam: Any, where: str) -> Any:
    """``pysam.VariantFile`` of ``where`` (read in order: no index needed), or a named error."""
    try:
        verbosity = pysam.set_verbosity(0)  # no "could not retrieve index" noise: the VCF is read in order
        try:
            return pysam.VariantFile(where)
        finally:
            pysam.set_verbosity(verbosity)
    except (OSError, ValueError) as exc:
        raise InputFormatError(f"cannot read the VCF ({exc})", path=where) from None

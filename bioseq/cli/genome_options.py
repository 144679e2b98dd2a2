"""The option group shared by ``predict``, ``embed`` and ``train`` for BED regions on a genome
(not a command: no parser of its own)."""

from __future__ import annotations

import argparse
from typing import Any

REGION_READS = ("regions", "genome")


def add_region_arguments(p: argparse.ArgumentParser, *, labels: bool = False) -> None:
    g = p.add_argument_group(
        "regions on a reference genome (instead of INPUT; needs the genomics extra)",
        "BED is 0-based, half-open; strand - reads the reverse complement. Record ids: the BED name "
        "(column 4), or chrom:start-end(strand) when there is none.",
    )
    g.add_argument("--regions", metavar="REGIONS.bed", help="BED file of regions (plain, .gz or .bz2)")
    g.add_argument("--genome", metavar="GENOME.fa", help="reference FASTA, plain or bgzip, indexed (.fai, .gzi) "
                   "or in a writable directory (the index is built)")
    g.add_argument("--width", type=int, metavar="W", help="resize every region to W letters around its centre")
    g.add_argument("--pad", action="store_true", help="fill the part of a region outside its chromosome with N "
                   "(default: such a region is an error naming the BED line)")
    if labels:
        g.add_argument("--label-column", type=int, default=4, metavar="N",
                       help="1-based BED column holding each region's label (default 4: the name column; the "
                       "record ids are then chrom:start-end(strand))")


def region_source(args: argparse.Namespace, inputs: Any) -> Any:
    """The :class:`~bioseq.genomics.region_predict.RegionSource` of ``args``, or None without --regions.
    INPUT files and --regions are exclusive; one of them is needed."""
    from bioseq.errors import ConfigError

    if args.regions is None:
        if args.genome is not None or args.width is not None or args.pad:
            raise ConfigError("--genome, --width and --pad go with --regions")
        if not inputs:
            raise ConfigError("give INPUT sequence file(s), or --regions REGIONS.bed --genome GENOME.fa")
        return None
    if inputs:
        raise ConfigError("give INPUT files or --regions, not both")
    if args.genome is None:
        raise ConfigError("--regions needs --genome GENOME.fa")
    from bioseq.genomics.region_predict import RegionSource

    return RegionSource(args.regions, args.genome, args.width, args.pad, getattr(args, "label_column", None))

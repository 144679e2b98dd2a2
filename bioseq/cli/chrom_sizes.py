"""``bioseq chrom-sizes``: index a reference genome and list its chromosomes (UCSC chrom.sizes)."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "chrom-sizes",
        help="list a genome's chromosomes and lengths (building its .fai when missing)",
        description=(
            "Write chrom<TAB>length for every chromosome of GENOME in the order of its .fai (the chrom.sizes "
            "format of UCSC tools such as bedGraphToBigWig). The index (.fai, and .gzi for bgzip) is built "
            "beside the FASTA when missing and the directory is writable. Needs the genomics extra."
        ),
    )
    p.add_argument("genome", metavar="GENOME.fa", help="reference FASTA (plain or bgzip)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.chrom.sizes", help="table to write")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("genome",), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.genomics.genome import write_chrom_sizes

    lengths = write_chrom_sizes(args.genome, args.output)
    print(f"bioseq chrom-sizes: {len(lengths)} chromosomes, {sum(lengths.values())} bp -> {args.output}",
          file=sys.stderr)
    return 0

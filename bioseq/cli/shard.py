"""``bioseq shard``: split a sequence file into contiguous FASTA shards (Snakemake scatter)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "shard",
        help="split a sequence file into N contiguous FASTA shards",
        description=(
            "Split INPUT (FASTA/FASTQ/GenBank/EMBL, plain or gzip/bzip2) into as many FASTA shards as "
            "outputs are given, in input order, with near-equal record counts (differing by at most one). "
            "Headers (ids, label= tokens) are kept; an output ending in .gz is gzip-compressed. With "
            "fewer records than outputs the last shards are empty files."
        ),
    )
    p.add_argument("input", metavar="INPUT", help="the sequence file to split (not stdin)")
    p.add_argument("-o", "--output", nargs="+", required=True, metavar="OUT", help="shard paths, in order")
    p.add_argument("--format", metavar="F", help="input format (default: from the extension or content)")
    p.add_argument("--width", type=int, default=60, metavar="W", help="line width, 0 = unwrapped (default 60)")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("input",), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.io.shard import shard_file

    sizes = shard_file(args.input, args.output, format=args.format, width=args.width)
    print(f"bioseq shard: {sum(sizes)} records into {len(sizes)} shards ({min(sizes)}-{max(sizes)} each)")
    return 0

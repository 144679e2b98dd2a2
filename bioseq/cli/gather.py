"""``bioseq gather``: concatenate per-shard prediction tables in order (Snakemake gather)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "gather",
        help="concatenate prediction tables (or other tables, bedGraph, BED) in the given order",
        description=(
            "Concatenate prediction tables (id, predicted, prob_<label>...) in the order given into OUT, "
            "written atomically. All inputs must have the same header, written once. --kind tsv: any table "
            "with a header line (variant effects); --kind lines: files without a header (bedGraph, BED)."
        ),
    )
    p.add_argument("--kind", choices=["predictions", "tsv", "lines"], default="predictions",
                   help="what the inputs are (default: prediction tables, whose header is checked)")
    p.add_argument("inputs", nargs="+", metavar="IN", help="prediction tables, in order")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the combined table")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("inputs",), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.io.shard import gather_tables

    rows = gather_tables(args.inputs, args.output, kind=args.kind)
    print(f"bioseq gather: {rows} rows from {len(args.inputs)} tables -> {args.output}")
    return 0

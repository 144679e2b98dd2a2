"""``bioseq top-effects``: the variants with the largest effects in a ``bioseq variant-effect`` table."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "top-effects",
        help="the variants with the largest |delta| of a variant-effect table (TSV and plot)",
        description=(
            "Rank the rows of a 'bioseq variant-effect' table by |delta| of --class (default: the positive "
            "class of a two-class model, else each variant's class with the largest |delta|) and write the "
            "-n largest, largest first: rank, chrom, pos, id, ref, alt, class, ref_prob, alt_prob, delta, "
            "log2fc. --plot draws their deltas as bars."
        ),
    )
    p.add_argument("effects", metavar="EFFECTS.tsv", help="table from bioseq variant-effect")
    p.add_argument("-o", "--output", required=True, metavar="TOP.tsv", help="table to write")
    p.add_argument("-n", type=int, default=20, metavar="N", help="number of variants (default 20)")
    p.add_argument("--class", dest="class_name", metavar="C", help="rank by this class's delta")
    p.add_argument("--plot", metavar="TOP.png", help="also plot the deltas (png, svg, pdf)")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("effects",), writes=("output", "plot"))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.errors import ConfigError
    from bioseq.genomics.plots import write_top_effects

    if args.n < 1:
        raise ConfigError(f"-n must be at least 1, got {args.n}")
    rows = write_top_effects(args.effects, args.output, n=args.n, class_name=args.class_name, plot=args.plot)
    print(f"bioseq top-effects: {rows} variants -> {args.output}", file=sys.stderr)
    return 0

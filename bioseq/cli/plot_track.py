"""``bioseq plot-track``: a figure of a ``bioseq scan`` track along the genome, with its peaks."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "plot-track",
        help="plot a scan's bedGraph along the genome (and its peaks)",
        description=(
            "Plot a bedGraph from 'bioseq scan' along the whole genome: chromosomes side by side in the order "
            "of --chrom-sizes (default: the track's), each point the largest value of the bins it covers "
            "(at most 2,000 points, so a genome-wide track stays readable); --peaks are marked above the "
            "track and --threshold drawn dashed. The format follows the suffix of -o (png, svg, pdf)."
        ),
    )
    p.add_argument("track", metavar="TRACK.bedGraph", help="bedGraph from bioseq scan")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="figure to write")
    p.add_argument("--peaks", metavar="PEAKS.bed", help="peaks from bioseq scan --peaks")
    p.add_argument("--chrom-sizes", metavar="CHROM.sizes", help="chrom<TAB>length (bioseq chrom-sizes): the x axis")
    p.add_argument("--threshold", type=float, metavar="T", help="draw the peak threshold")
    p.add_argument("--title", help="figure title (default: the track's file name)")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("track", "peaks", "chrom_sizes"), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.genomics.plots import plot_track

    summary = plot_track(args.track, args.output, peaks=args.peaks, chrom_sizes=args.chrom_sizes,
                         threshold=args.threshold, title=args.title)
    print(f"bioseq plot-track: {len(summary.sizes)} chromosomes, {summary.bucket} bp per point -> {args.output}",
          file=sys.stderr)
    return 0

"""``bioseq scan``: a model's class probability along a genome, as a bedGraph track (and peaks)."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "scan",
        help="slide a model along a genome: bedGraph of one class's probability (and peaks)",
        description=(
            "Score windows of W letters every S letters over every chromosome of GENOME (or the --regions, "
            "sorted and merged), streaming (memory flat in the chromosome's length). Each window's probability "
            "of --class goes to its central S-wide bin, so the bedGraph (0-based, half-open, sorted in the "
            "genome's .fai order) tiles without overlaps. Windows with more than --max-n of letters other "
            "than ACGT are skipped (a gap in the track). --peaks writes merged runs of adjacent bins at or "
            "above --threshold as BED6. Needs the genomics extra."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (.safetensors)")
    p.add_argument("--genome", required=True, metavar="GENOME.fa", help="reference FASTA (plain or bgzip)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.bedGraph", help="bedGraph track to write")
    p.add_argument("--regions", metavar="REGIONS.bed", help="scan these regions only (default: every chromosome)")
    p.add_argument("--chrom", action="append", metavar="NAME",
                   help="scan this chromosome only (repeat for several; with --regions: its regions only). "
                   "Concatenating the scans of a genome's chromosomes in .fai order gives the whole scan")
    p.add_argument("--window", type=int, metavar="W",
                   help="window length (default: the model's training length, the median of train_lengths in "
                   "'bioseq info'; a bundle without it needs --window)")
    p.add_argument("--stride", type=int, metavar="S", help="step between windows (default W/2)")
    p.add_argument("--class", dest="class_name", metavar="C",
                   help="class whose probability is tracked (default for a binary model: the positive, labels[1])")
    p.add_argument("--peaks", metavar="PEAKS.bed", help="also write runs of bins >= --threshold, merged")
    p.add_argument("--threshold", type=float, default=0.5, metavar="T", help="peak threshold (default 0.5)")
    p.add_argument("--max-n", type=float, default=0.1, metavar="F",
                   help="skip windows with more than this fraction of non-ACGT letters (default 0.1)")
    p.add_argument("--both-strands", action="store_true", help="average each window and its reverse complement")
    p.add_argument("--batch-size", type=int, default=256, metavar="B", help="windows per forward pass")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (shown when stderr is a terminal)")
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("model", "genome", "regions"), writes=("output", "peaks"))
    return p


def run(args: argparse.Namespace) -> int:
    import contextlib

    from bioseq.bundle import load
    from bioseq.device import set_threads
    from bioseq.genomics.scan import scan_to_file
    from bioseq.predict import ProgressBar

    set_threads(args.threads)
    model = load(args.model, device=args.device)
    shown = not args.no_progress and sys.stderr.isatty()
    with contextlib.closing(ProgressBar(shown, desc="scan", unit=" win")) as bar:
        stats = scan_to_file(
            model, args.genome, args.output, regions=args.regions, chroms=args.chrom, window=args.window,
            stride=args.stride, class_name=args.class_name, peaks=args.peaks, threshold=args.threshold,
            max_n=args.max_n, batch_size=args.batch_size, both_strands=args.both_strands, progress=bar.records,
        )
    peaks = f", {stats.peaks} peaks -> {args.peaks}" if args.peaks else ""
    print(f"bioseq scan: {stats.windows} windows over {len(stats.chromosomes)} spans ({stats.skipped_n} skipped "
          f"for N, {stats.short_spans} spans shorter than the window) -> {args.output}{peaks}", file=sys.stderr)
    return 0

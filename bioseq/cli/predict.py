"""``bioseq predict``: stream a model's predictions for a sequence file into a TSV table."""

from __future__ import annotations

import argparse
import sys

from bioseq.cli.genome_options import REGION_READS, add_region_arguments, region_source
from bioseq.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict",
        help="predict the class of every sequence in a file",
        description=(
            "Write one row per input record, in input order: id, predicted label, and one prob_<label> "
            "column per class (TSV). The table is written to a temporary file and renamed when complete, "
            "so an interrupted run leaves no partial table. Labels in the input are ignored. With --regions "
            "the table adds chrom, start, end, strand after the probabilities."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="model bundle (.safetensors) from 'bioseq train'; with --head "
                   "also a pretrained encoder: esm:PATH.pt or hf:DIR (as given to 'bioseq embed')")
    p.add_argument("input", nargs="*", metavar="INPUT", help="sequence file(s), or - for stdin (or --regions)")
    p.add_argument("-o", "--output", required=True, metavar="PREDICTIONS.tsv", help="table to write (- for stdout)")
    p.add_argument("--batch-size", type=int, default=256, metavar="B", help="sequences per forward pass")
    p.add_argument(
        "--both-strands",
        action="store_true",
        help="DNA/RNA: average the probabilities of each sequence and its reverse complement",
    )
    p.add_argument(
        "--head",
        metavar="HEAD",
        help="a linear head from 'bioseq fit-head': predict with it on MODEL's embeddings instead",
    )
    p.add_argument("--cache", metavar="CACHE.h5", help="with --head: embedding cache to read/extend")
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="an input without records gives a header-only table instead of an error "
        "(for a workflow's shards, which are empty when an input has fewer records than shards)",
    )
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (shown when stderr is a terminal)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available")
    add_region_arguments(p)
    # Checked by bioseq.cli.main before run(): no output may be one of the inputs.
    p.set_defaults(run=run, reads=("model", "input", "head", "cache", *REGION_READS), writes=("output",))
    return p


def run(args: argparse.Namespace) -> int:
    from bioseq.bundle import load
    from bioseq.device import set_threads
    from bioseq.models.external import is_encoder_spec, open_encoder
    from bioseq.predict import predict_to_file

    regions = region_source(args, args.input)
    set_threads(args.threads)
    if is_encoder_spec(args.model):
        if args.head is None or regions is not None:
            raise ConfigError(f"{args.model} is a pretrained encoder: it gives embeddings, not classes; predict "
                              "with a head fitted on them (--head HEAD from 'bioseq fit-head'), or train one "
                              "(bioseq train --arch esm-head)")
        model = open_encoder(args.model, device=args.device, threads=args.threads)
    else:
        model = load(args.model, device=args.device)
    source = args.input[0] if len(args.input) == 1 else args.input
    if regions is not None:
        if args.head is not None or args.cache is not None:
            raise ConfigError("--head/--cache are not available with --regions")
        from bioseq.genomics.region_predict import predict_regions_to_file

        n = predict_regions_to_file(model, regions, args.output, batch_size=args.batch_size,
                                    both_strands=args.both_strands)
    elif args.head is not None:
        if args.both_strands:
            raise ConfigError("--both-strands is not available with --head (the head reads embeddings)")
        from bioseq.embed.head import predict_with_head

        n = predict_with_head(
            model, args.head, source, args.output, args.cache, batch_size=args.batch_size,
            allow_empty=args.allow_empty,
        )
    else:
        if args.cache is not None:
            raise ConfigError("--cache is used with --head only")
        n = predict_to_file(
            model, source, args.output, batch_size=args.batch_size, both_strands=args.both_strands,
            allow_empty=args.allow_empty, progress=not args.no_progress and sys.stderr.isatty(),
        )
    if args.output != "-":
        print(f"bioseq predict: {n} records -> {args.output}", file=sys.stderr)
    return 0

"""``bioseq tokenize``: stream sequences through a k-mer tokenizer and summarise them.

Argument parsing only; the summary is :mod:`bioseq.tokenize.summary`. Nothing
is written; ``--json`` makes the summary machine-readable for pipelines and tests.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "tokenize",
        help="tokenize sequences into k-mers and print a summary",
        description=(
            "Read sequences (FASTA/FASTQ/GenBank/EMBL, plain or gzip/bzip2, '-' for stdin), encode them "
            "with a k-mer tokenizer in streaming batches and print records, bases, length "
            "min/median/max, tokens, label counts, the unknown-token rate and the vocabulary size."
        ),
    )
    p.add_argument("input", nargs="+", metavar="INPUT", help="sequence file(s), read one after the other")
    p.add_argument("--kmer", "-k", type=int, required=True, metavar="K", help="k-mer length")
    p.add_argument("--alphabet", default="dna", choices=["dna", "rna", "protein"], help="default: dna")
    p.add_argument("--stride", type=int, default=1, metavar="S", help="step between k-mer starts (default 1)")
    p.add_argument(
        "--canonical", action="store_true", help="merge each k-mer with its reverse complement (DNA/RNA)"
    )
    p.add_argument("--format", metavar="F", help="input format (default: from the extension or content)")
    p.add_argument("--labels", metavar="L", help="label source: id/label TSV/CSV table, or 'filename'")
    p.add_argument(
        "--unknown",
        default="map",
        choices=["map", "reject"],
        help="IUPAC ambiguity codes: map k-mers covering them to UNK (default) or reject the input",
    )
    p.add_argument(
        "--short",
        default="error",
        choices=["error", "empty"],
        help="a sequence shorter than K: fail (default) or count it as zero tokens",
    )
    p.add_argument(
        "--batch-size", type=int, default=8192, metavar="N", help="records per batch (default 8192)"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bioseq.tokenize.kmer import KmerTokenizer
    from bioseq.tokenize.summary import format_summary, summarize_inputs

    tokenizer = KmerTokenizer(
        k=args.kmer,
        alphabet=args.alphabet,
        stride=args.stride,
        canonical=args.canonical,
        unknown=args.unknown,
        short=args.short,
    )
    with tqdm(unit=" records", unit_scale=True, file=sys.stderr, disable=None, leave=False) as bar:
        summary = summarize_inputs(args.input, tokenizer, args.batch_size, args.format, args.labels, bar)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0

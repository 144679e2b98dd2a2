"""``bioseq tokenize``: stream sequences through a k-mer tokenizer and summarise them.

A quick look at a dataset before training: how many records, how long, how
many tokens a model will see, how often k-mers hit ambiguity codes (``UNK``),
and how the labels are balanced. Nothing is written; ``--json`` makes the
summary machine-readable for pipelines and tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any

from bioseq.errors import BioseqError


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


def summarize(batches: Any, tokenizer: Any, progress: Any = None) -> dict[str, Any]:
    """Encode every batch of ``SequenceItem`` and collect the summary statistics.

    Lengths are kept as one int64 per record (8 bytes), so the median is exact;
    tokens are counted and discarded batch by batch.
    """
    import numpy as np

    from bioseq.tokenize.kmer import UNK

    lengths: list[np.ndarray] = []
    n_tokens = n_unknown = n_empty = 0
    labels: Counter[str] = Counter()
    unlabelled = 0
    for batch in batches:
        tokens, token_lengths = tokenizer.encode_batch([it.seq for it in batch], ids=[it.id for it in batch])
        lengths.append(np.fromiter((len(it.seq) for it in batch), dtype=np.int64, count=len(batch)))
        n_tokens += int(token_lengths.sum())
        n_unknown += int(np.count_nonzero(tokens == UNK))
        n_empty += int(np.count_nonzero(token_lengths == 0))
        for it in batch:
            if it.labels is None:
                unlabelled += 1
            else:
                labels.update(it.labels)
        if progress is not None:
            progress.update(len(batch))
    all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    n = int(all_lengths.size)
    return {
        "records": n,
        "bases": int(all_lengths.sum()),
        "length_min": int(all_lengths.min()) if n else None,
        "length_median": float(np.median(all_lengths)) if n else None,
        "length_max": int(all_lengths.max()) if n else None,
        "tokens": n_tokens,
        "unknown_tokens": n_unknown,
        "unknown_rate": n_unknown / n_tokens if n_tokens else 0.0,
        "records_without_tokens": n_empty,
        "label_counts": dict(sorted(labels.items())),
        "unlabelled_records": unlabelled,
        "vocab_size": tokenizer.vocab_size,
        "tokenizer": tokenizer.config(),
    }


def _format_text(s: dict[str, Any]) -> str:
    tok = s["tokenizer"]
    labels = ", ".join(f"{k} {v:,}" for k, v in s["label_counts"].items()) or "none"
    lines = [
        f"input            {', '.join(s['input'])}",
        f"records          {s['records']:,}",
        f"bases            {s['bases']:,}",
        f"length           min {s['length_min']}  median {s['length_median']:g}  max {s['length_max']}",
        f"tokens           {s['tokens']:,}  (k={tok['k']}, stride {tok['stride']}"
        f"{', canonical' if tok['canonical'] else ''}, {tok['alphabet']})",
        f"unknown tokens   {s['unknown_tokens']:,}  ({100 * s['unknown_rate']:.3f}%)",
        f"vocab size       {s['vocab_size']:,}",
        f"labels           {labels}" + (f"  (+{s['unlabelled_records']:,} unlabelled)"
                                        if s["unlabelled_records"] and s["label_counts"] else ""),
    ]
    if s["records_without_tokens"]:
        lines.append(f"too short        {s['records_without_tokens']:,} records shorter than k (0 tokens)")
    rate = s["bases"] / 1e6 / max(s["seconds"], 1e-9)
    lines.append(f"time             {s['seconds']:.2f} s  ({rate:.1f} Mbases/s, reading included)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bioseq.io.readers import iter_batches
    from bioseq.tokenize.kmer import KmerTokenizer

    tokenizer = KmerTokenizer(
        k=args.kmer,
        alphabet=args.alphabet,
        stride=args.stride,
        canonical=args.canonical,
        unknown=args.unknown,
        short=args.short,
    )
    paths = args.input[0] if len(args.input) == 1 else args.input
    start = time.perf_counter()
    batches = iter_batches(
        paths, args.batch_size, format=args.format, labels=args.labels, alphabet=args.alphabet,
        unknown=args.unknown,
    )
    with tqdm(unit=" records", unit_scale=True, file=sys.stderr, disable=None, leave=False) as bar:
        try:
            summary = {"input": list(args.input), **summarize(batches, tokenizer, bar)}
        except BioseqError as exc:  # the tokenizer knows the record, not the file
            raise exc.located(", ".join(args.input)) from None
    summary["seconds"] = round(time.perf_counter() - start, 3)
    print(json.dumps(summary, indent=2) if args.json else _format_text(summary))
    return 0

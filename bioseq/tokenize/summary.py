"""What ``bioseq tokenize`` reports: a dataset seen through a tokenizer.

A quick look before training: how many records, how long, how many tokens a
model will see, how often k-mers hit ambiguity codes (``UNK``), and how the
labels are balanced. Streaming: lengths are kept as one int64 per record (so
the median is exact), tokens are counted and dropped batch by batch.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bioseq.errors import BioseqError
from bioseq.io.labels import LabelSpec
from bioseq.io.readers import SequenceItem, iter_batches
from bioseq.tokenize.kmer import UNK


def summarize(batches: Iterable[list[SequenceItem]], tokenizer: Any, progress: Any = None) -> dict[str, Any]:
    """Encode every batch of ``SequenceItem`` and collect the summary statistics.

    Args:
        batches: lists of records (what :func:`~bioseq.io.readers.iter_batches` yields).
        tokenizer: anything with ``encode_batch``, ``vocab_size`` and ``config()``.
        progress: an object with ``update(n)`` (a tqdm bar), told the records done.

    Returns:
        A JSON-ready dict: records, bases, length min/median/max (None when
        empty), tokens, unknown tokens and their rate, records without tokens,
        label counts, unlabelled records, vocab size and the tokenizer config.
    """
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


def summarize_inputs(
    inputs: Sequence[str | os.PathLike[str]],
    tokenizer: Any,
    batch_size: int,
    format: str | None = None,
    labels: LabelSpec = None,
    progress: Any = None,
) -> dict[str, Any]:
    """:func:`summarize` of sequence files read one after the other, with the inputs and
    the time taken (``seconds``, reading included).

    Records are checked against the tokenizer's alphabet and unknown-letter
    policy as they are read.

    Raises:
        BioseqError: from reading or tokenizing; a tokenizer error (which knows
            the record but not the file) is given the input names.
    """
    paths = inputs[0] if len(inputs) == 1 else list(inputs)
    start = time.perf_counter()
    batches = iter_batches(
        paths, batch_size, format=format, labels=labels, alphabet=tokenizer.alphabet, unknown=tokenizer.unknown
    )
    names = [os.fspath(p) for p in inputs]
    try:
        summary = {"input": names, **summarize(batches, tokenizer, progress)}
    except BioseqError as exc:  # the tokenizer knows the record, not the file
        raise exc.located(", ".join(names)) from None
    summary["seconds"] = round(time.perf_counter() - start, 3)
    return summary


def format_summary(s: dict[str, Any]) -> str:
    """The summary as aligned text lines (what ``bioseq tokenize`` prints without ``--json``)."""
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

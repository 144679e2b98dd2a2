"""Task inference from the training labels (label encoding lives in :mod:`bioseq.tasks`).

The task is inferred from the labels themselves, so a user never has to say
it: any record carrying more than one label makes the problem *multilabel*
(one sigmoid per label); otherwise two classes make it *binary* and more make
it *multiclass* (one softmax over the classes; a binary model also has two
outputs, so every task writes one ``prob_<label>`` column per label).
Label order is sorted, which makes it independent of record order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from bioseq.errors import LabelError


def infer_task(label_sets: Iterable[Sequence[str]]) -> tuple[str, list[str]]:
    """Infer ``(task, sorted labels)`` from per-record label tuples.

    Raises:
        LabelError: fewer than two distinct labels (nothing to classify).
    """
    seen: set[str] = set()
    multi = False
    for labs in label_sets:
        if len(labs) > 1:
            multi = True
        seen.update(labs)
    labels = sorted(seen)
    if multi:
        if not labels:
            raise LabelError("no labels found in the training data")
        return "multilabel", labels
    if len(labels) < 2:
        raise LabelError(
            f"the training data has {len(labels)} distinct label(s) ({', '.join(labels) or 'none'}); "
            "a classifier needs at least two"
        )
    return ("binary" if len(labels) == 2 else "multiclass"), labels


def label_counts(label_sets: Iterable[Sequence[str]]) -> dict[str, int]:
    """Number of records carrying each label (for the log and the bundle)."""
    c: Counter[str] = Counter()
    for labs in label_sets:
        c.update(labs)
    return dict(sorted(c.items()))


def length_summary(seqs: Sequence[str]) -> dict[str, int]:
    """``{"min", "median", "max"}`` letters of the training sequences (``seqs``: n strings), stored in
    the bundle as ``train_lengths``: what a genome scan or a variant window defaults to, for every
    architecture alike (kmer-linear, which takes any length, included)."""
    lengths = sorted(map(len, seqs))
    if not lengths:
        return {}
    return {"min": lengths[0], "median": lengths[(len(lengths) - 1) // 2], "max": lengths[-1]}


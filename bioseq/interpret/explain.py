"""``explain``: files or records in, per-base attributions out.

Records are read :data:`CHUNK` at a time; each chunk's target classes are the
model's predicted classes (the most probable label; for multilabel models
too) unless ``target`` names one; then the chosen method
(:mod:`bioseq.interpret.ism` or :mod:`bioseq.interpret.gradients`) gives one
``(L, A)`` matrix per record, written by
:class:`~bioseq.interpret.attributions.AttributionWriter` or returned.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from bioseq.alphabets import get_alphabet
from bioseq.errors import ConfigError
from bioseq.interpret.attributions import Attribution, AttributionWriter
from bioseq.interpret.gradients import METHODS as GRADIENT_METHODS
from bioseq.interpret.gradients import gradient_attributions
from bioseq.interpret.ism import VALUES, ism
from bioseq.io.sources import iter_source_columns

METHODS = ("ism", *GRADIENT_METHODS)
CHUNK = 256  # records per step


def resolve_target(labels: list[str], target: Any) -> int | None:
    """The class index of ``target`` (a label, or an int index), None for "the predicted class"."""
    if target is None:
        return None
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not 0 <= int(target) < len(labels):
            raise ConfigError(f"target index {target} is outside 0..{len(labels) - 1}")
        return int(target)
    if str(target) not in labels:
        raise ConfigError(f"unknown target class {target!r}; the model's classes are {', '.join(labels)}")
    return labels.index(str(target))


def iter_explain(
    model: Any,
    inputs: Any,
    *,
    method: str = "ism",
    target: Any = None,
    batch_size: int = 256,
    value: str = "logit",
    n_shuffles: int = 20,
    steps: int = 50,
    seed: int = 0,
    allow_empty: bool = False,
) -> Iterator[list[Attribution]]:
    """Attributions a chunk of records at a time, in input order (see :func:`explain`)."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if value not in VALUES:
        raise ConfigError(f"unknown value {value!r}; choose one of {', '.join(VALUES)}")
    if method != "ism" and value != "logit":
        raise ConfigError(f"{method} attributes logits; value={value!r} is for ism only")
    fixed = resolve_target(list(model.labels), target)
    for ids, seqs in iter_source_columns(inputs, CHUNK, model.alphabet, allow_empty=allow_empty):
        # One forward pass per record: the target (the predicted class, unless fixed) and its
        # probability, which the file keeps to rank records by confidence (a small cost next to
        # ISM's 3 L passes or a gradient's backward pass).
        probs = model.predict_proba_sequences(seqs, batch_size=batch_size, ids=ids)
        targets = [int(t) for t in np.argmax(probs, axis=1)] if fixed is None else [fixed] * len(seqs)
        if method == "ism":
            mats = ism(model, seqs, targets, batch_size=batch_size, value=value, ids=ids)
        else:
            mats = gradient_attributions(model, seqs, targets, method, batch_size=min(batch_size, 64),
                                         n_shuffles=n_shuffles, steps=steps, seed=seed, ids=ids)
        yield [
            Attribution(i, s, m, model.labels[t], float(p[t]))
            for i, s, m, t, p in zip(ids, seqs, mats, targets, probs, strict=True)
        ]


def most_confident(model: Any, inputs: Any, n: int, *, batch_size: int = 256) -> list[tuple[str, str]]:
    """The ``n`` records predicted with the highest probability, shared evenly among the predicted
    classes, as ``(id, sequence)`` pairs in input order.

    Why evenly: explaining only the top ``n`` overall would, on most data, explain one easy class
    (and find only its motifs). Classes are served in turns, each taking its next most probable
    record; a class with too few predicted records leaves its turns to the others. Memory: at most
    ``n`` candidates per class (heaps), not the whole input.
    """
    if n < 1:
        raise ConfigError(f"the number of records to select must be positive, got {n}")
    heaps: dict[int, list[tuple[float, int, str, str]]] = {}
    index = 0
    for ids, seqs in iter_source_columns(inputs, CHUNK, model.alphabet):
        probs = model.predict_proba_sequences(seqs, batch_size=batch_size, ids=ids)
        for rid, seq, row in zip(ids, seqs, probs, strict=True):
            cls = int(np.argmax(row))
            item = (float(row[cls]), -index, rid, seq)  # ties: the earlier record wins
            heap = heaps.setdefault(cls, [])
            (heapq.heappush if len(heap) < n else heapq.heappushpop)(heap, item)
            index += 1
    ranked = [sorted(heap, reverse=True) for _, heap in sorted(heaps.items())]
    chosen: list[tuple[float, int, str, str]] = []
    for turn in range(n):  # within a turn, the more probable first (the last turn may not fit whole)
        if len(chosen) >= n:
            break
        chosen += sorted((r[turn] for r in ranked if turn < len(r)), reverse=True)
    chosen = sorted(chosen[:n], key=lambda item: -item[1])
    return [(rid, seq) for _, _, rid, seq in chosen]


def explain(model: Any, inputs: Any, **options: Any) -> list[Attribution]:
    """Per-base attributions of every record of ``inputs`` (a path, paths, or records).

    Options: ``method`` (``ism`` | ``saliency`` | ``ig`` | ``deepliftshap``),
    ``target`` (a class label or index; default: each record's predicted class),
    ``batch_size``, ``value`` (ISM: ``logit`` | ``prob``), ``n_shuffles``
    (deepliftshap references), ``steps`` (ig), ``seed``, ``allow_empty``.
    """
    return [a for chunk in iter_explain(model, inputs, **options) for a in chunk]


def explain_to_file(model: Any, inputs: Any, output: str | os.PathLike[str], **options: Any) -> int:
    """Stream attributions into ``output`` (``.tsv`` or ``.h5``); returns the number of records."""
    letters = get_alphabet(model.alphabet).letters
    n = 0
    with AttributionWriter(output, letters=letters, method=options.get("method", "ism"),
                           value=options.get("value", "logit"), model=model) as writer:
        for chunk in iter_explain(model, inputs, **options):
            writer.write(chunk)
            n += len(chunk)
    return n

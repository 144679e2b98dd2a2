"""Training data: reading labelled records, alphabet inference, fingerprints, splits.

Training needs the whole labelled set in memory (it is shuffled every epoch),
so records are read once into a :class:`LabelledSet`; the sha256 fingerprint
(over ids, sequences and labels, in order) is updated while reading, without
building a copy of the data.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bioseq.errors import EmptyInputError, LabelError
from bioseq.io.sources import RECORDS, describe_source, iter_source

log = logging.getLogger("bioseq.training")

ALPHABET_SAMPLE = 1000  # records looked at to infer the alphabet


@dataclass
class LabelledSet:
    """Labelled records held in memory.

    Attributes:
        ids, seqs, labels: parallel lists (labels: tuples of str).
        source: where they came from (file name(s) or ``"<records>"``), for messages.
        fingerprint: sha256 hex over ``id\\tseq\\tlabel,label\\n`` per record, in order.
    """

    ids: list[str] = field(default_factory=list)
    seqs: list[str] = field(default_factory=list)
    labels: list[tuple[str, ...]] = field(default_factory=list)
    source: str = RECORDS
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: Sequence[int] | np.ndarray, source: str | None = None) -> LabelledSet:
        idx = [int(i) for i in index]
        sub = LabelledSet(
            [self.ids[i] for i in idx],
            [self.seqs[i] for i in idx],
            [self.labels[i] for i in idx],
            source or self.source,
        )
        sub.fingerprint = fingerprint_records(zip(sub.ids, sub.seqs, sub.labels, strict=True))
        return sub


def _describe(src: Any) -> str:
    return describe_source(src, sep=",") or RECORDS


def infer_alphabet(seqs: Iterable[str]) -> str:
    """``dna``/``rna`` for nucleotides plus IUPAC codes, else ``protein`` (:func:`bioseq.alphabets.infer_alphabet`)."""
    from bioseq.alphabets import infer_alphabet as infer

    return infer(seqs)


def fingerprint_records(records: Iterable[tuple[str, str, Sequence[str] | None]]) -> str:
    """sha256 hex over ``id\\tseq\\tlabels\\n`` per record (streaming)."""
    h = hashlib.sha256()
    for rid, seq, labs in records:
        h.update(f"{rid}\t{seq}\t{','.join(labs or ())}\n".encode())
    return h.hexdigest()


def resolve_alphabet(src: Any, alphabet: str | None, labels: Any = None) -> str:
    """The alphabet to train with: ``alphabet`` when given, else inferred from the first records."""
    if alphabet is not None:
        from bioseq.alphabets import get_alphabet

        return get_alphabet(alphabet).name
    first = next(iter_source(src, ALPHABET_SAMPLE, labels=labels), None)
    sample = first.seqs if first is not None else []
    name = infer_alphabet(sample)
    log.info(
        "alphabet not given: inferred %r from the letters of the first %d records of %s",
        name,
        len(sample),
        _describe(src),
    )
    return name


def load_labelled(src: Any, alphabet: str, labels: Any = None) -> LabelledSet:
    """Read all records of ``src`` (any input form of :func:`bioseq.io.sources.iter_source`),
    checking letters (as the readers do) and labels.

    Raises:
        LabelError: a record without a label (names file and record).
        EmptyInputError: no records.
    """
    source = _describe(src)
    out = LabelledSet(source=source)
    h = hashlib.sha256()
    for chunk in iter_source(src, alphabet=alphabet, labels=labels, unique_ids=True):
        for rid, seq, labs in zip(chunk.ids, chunk.seqs, chunk.labels or [None] * len(chunk.ids), strict=True):
            if not labs:
                raise LabelError(
                    "record has no label; give label=NAME in the FASTA header, a --labels table, "
                    "or (id, sequence, label) records",
                    path=None if source == RECORDS else source,
                    record=rid,
                )
            h.update(f"{rid}\t{seq}\t{','.join(labs)}\n".encode())
        out.ids += chunk.ids
        out.seqs += chunk.seqs
        out.labels += chunk.labels  # type: ignore[arg-type]
    if not out.ids:
        raise EmptyInputError("no training records", path=None if source == RECORDS else source)
    out.fingerprint = h.hexdigest()
    return out


def stratified_split(data: LabelledSet, fraction: float = 0.1, seed: int = 0) -> tuple[LabelledSet, LabelledSet]:
    """Hold out ``fraction`` of ``data`` for validation, stratified by label set when every
    stratum has at least two members (else a plain seeded shuffle).

    Returns:
        ``(train, valid)``, each in input order.
    """
    from sklearn.model_selection import train_test_split

    n = len(data)
    if n < 4:
        raise LabelError(
            f"{n} training records are too few to hold out a validation set; give --valid",
            path=None if data.source == RECORDS else data.source,
        )
    n_valid = max(1, int(round(fraction * n)))
    strata = [",".join(sorted(labs)) for labs in data.labels]
    counts: dict[str, int] = {}
    for s in strata:
        counts[s] = counts.get(s, 0) + 1
    stratify = strata if min(counts.values()) >= 2 and len(counts) <= n_valid else None
    tr, va = train_test_split(np.arange(n), test_size=n_valid, random_state=seed, shuffle=True, stratify=stratify)
    log.info(
        "no validation file: held out %d of %d training records (%s, seed %d)",
        len(va),
        n,
        "stratified by label" if stratify is not None else "random",
        seed,
    )
    return (data.subset(np.sort(tr), data.source), data.subset(np.sort(va), f"{data.source} (held out)"))

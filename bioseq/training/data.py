"""Training data: reading labelled records, alphabet inference, fingerprints, splits.

Training needs the whole labelled set in memory (it is shuffled every epoch),
so records are read once into a :class:`LabelledSet`; the sha256 fingerprint
(over ids, sequences and labels, in order) is updated while reading, without
building a copy of the data.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from bioseq.errors import EmptyInputError, LabelError

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
    source: str = "<records>"
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
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    if isinstance(src, (list, tuple)) and src and all(isinstance(s, (str, os.PathLike)) for s in src):
        return ",".join(os.fspath(s) for s in src)
    return "<records>"


def _is_paths(src: Any) -> bool:
    return _describe(src) != "<records>"


def _iter_items(src: Any, labels: Any = None, alphabet: str | None = None) -> Iterable[Any]:
    """SequenceItems from path(s) (via the reader) or from an in-memory iterable of records."""
    if _is_paths(src):
        from bioseq.io.readers import iter_sequences

        paths = [os.fspath(s) for s in src] if isinstance(src, (list, tuple)) else os.fspath(src)
        return iter_sequences(paths, labels=labels, alphabet=alphabet)
    return src


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
    sample = [it.seq for it in islice(_iter_items(src, labels=labels), ALPHABET_SAMPLE)]
    name = infer_alphabet(sample)
    log.info(
        "alphabet not given: inferred %r from the letters of the first %d records of %s",
        name,
        len(sample),
        _describe(src),
    )
    return name


def load_labelled(src: Any, alphabet: str, labels: Any = None) -> LabelledSet:
    """Read all records of ``src`` (path(s) or SequenceItems), checking letters and labels.

    Raises:
        LabelError: a record without a label (names file and record).
        EmptyInputError: no records.
    """
    from bioseq.alphabets import get_alphabet

    source = _describe(src)
    out = LabelledSet(source=source)
    h = hashlib.sha256()
    alpha = get_alphabet(alphabet)
    allowed = set(alpha.letters) | set(alpha.ambiguous)
    checked_here = not _is_paths(src)  # the reader checks letters of files itself
    for it in _iter_items(src, labels=labels, alphabet=alphabet):
        rid, seq = str(it.id), str(it.seq).upper()
        labs = getattr(it, "labels", None)
        if labs is None and hasattr(it, "annotations"):  # a Biopython SeqRecord
            labs = it.annotations.get("labels")
        if not labs:
            raise LabelError(
                "record has no label; give label=NAME in the FASTA header or a --labels table",
                path=None if source == "<records>" else source,
                record=rid,
            )
        if checked_here and not set(seq) <= allowed:
            from bioseq.errors import AlphabetError

            bad = "".join(sorted(set(seq) - allowed))
            raise AlphabetError(f"letters {bad!r} are not in alphabet {alpha.name!r}", record=rid)
        labs = tuple(labs)
        out.ids.append(rid)
        out.seqs.append(seq)
        out.labels.append(labs)
        h.update(f"{rid}\t{seq}\t{','.join(labs)}\n".encode())
    if not out.ids:
        raise EmptyInputError("no training records", path=None if source == "<records>" else source)
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
            path=None if data.source == "<records>" else data.source,
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

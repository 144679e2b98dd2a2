"""One way to turn "what the user passed" into ``(ids, seqs)`` columns.

Prediction and embedding accept a path, a list of paths, ``"-"`` (stdin), or an
iterable of records (``SequenceItem``, Biopython ``SeqRecord`` or ``(id, seq)``
tuples). Both consume chunks of ids and sequences, never one record at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

_WHITESPACE = {ord(c): None for c in " \t\r\n\v\f"}


def is_path_like(source: Any) -> bool:
    """True for a path, ``"-"`` or a non-empty list/tuple of paths."""
    if isinstance(source, (str, os.PathLike)):
        return True
    return (
        isinstance(source, (list, tuple))
        and bool(source)
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    )


def normalise_sequence(seq: str) -> str:
    """Upper-case ``seq`` without whitespace (what readers yield, and what caches hash)."""
    return seq.translate(_WHITESPACE).upper()


def _record_columns(records: Iterable[Any]) -> tuple[list[str], list[str]]:
    ids, seqs = [], []
    for rec in records:
        if isinstance(rec, tuple) and not hasattr(rec, "seq"):
            rid, seq = rec[0], rec[1]
        else:
            rid, seq = rec.id, rec.seq
        ids.append(str(rid))
        seqs.append(normalise_sequence(str(seq)))
    return ids, seqs


def iter_source_columns(
    source: Any, chunk_size: int, alphabet: Any = None, *, allow_empty: bool = False
) -> Iterator[tuple[list[str], list[str]]]:
    """``(ids, seqs)`` chunks of up to ``chunk_size`` records, in input order.

    Files are read with :func:`bioseq.io.readers.iter_columns` (validated
    against ``alphabet``; labels are not read); an empty file is an
    :class:`~bioseq.errors.EmptyInputError` unless ``allow_empty``.
    """
    if is_path_like(source):
        from bioseq.io.readers import iter_columns

        src = [os.fspath(s) for s in source] if isinstance(source, (list, tuple)) else os.fspath(source)
        yield from iter_columns(src, chunk_size, alphabet=alphabet, allow_empty=allow_empty)
        return
    records = iter(source)
    while chunk := list(islice(records, chunk_size)):
        yield _record_columns(chunk)

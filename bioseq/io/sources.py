"""One way to turn "what the user passed" into the stream the readers give.

Training, prediction and embedding all accept the same inputs, and all go
through :func:`iter_source`:

* files: a path (``str`` or ``os.PathLike``), ``"-"`` (stdin) or a list/tuple
  of paths (read one after the other; ids unique across them);
* one sequence as a string: ``model.predict("ACGT...")`` (id ``seq0``);
* a list (tuple, NumPy array, pandas Series) of sequence strings: ids
  ``seq0``, ``seq1``, ... in input order;
* an iterable of records: anything with ``.id`` and ``.seq`` (``SequenceItem``,
  Biopython ``SeqRecord``; labels from ``.labels`` or
  ``.annotations["labels"]``), ``(id, sequence)`` pairs, ``(id, sequence,
  label)`` triples, or bare sequence strings (ids ``seq<position>``);
* a pandas ``DataFrame`` with a ``sequence`` column, and optionally ``id``
  (else ``seq0``, ``seq1``...) and ``label`` (or ``labels``) columns. pandas is
  never imported here: a frame is recognised only when pandas is loaded already.

A string (or the first string of a list) that is an existing file or ``"-"``
is a path; otherwise it must be a sequence of the alphabet, or it is an
:class:`~bioseq.errors.InputFormatError` saying it is neither
(``'foo.fa' is neither an existing file nor a DNA sequence``).

In-memory records are checked as the readers check files: letters against the
alphabet (upper-cased, whitespace removed; an :class:`~bioseq.errors.AlphabetError`
names the record), empty sequences, and (with ``unique_ids``, as training asks)
duplicate ids. Labels are
``tuple[str, ...]``: a string label is split at commas (multi-label), other
scalars (an int class) become their ``str``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, NamedTuple

from bioseq.alphabets import ALPHABETS
from bioseq.errors import ConfigError, DuplicateIdError, InputFormatError
from bioseq.io.labels import split_labels
from bioseq.io.letters import clean_letters, letter_policy, normalise_record
from bioseq.io.records import RawRecord

__all__ = [
    "CHUNK_SIZE",
    "RECORDS",
    "SourceChunk",
    "describe_source",
    "is_path_like",
    "iter_source",
    "iter_source_columns",
    "normalise_sequence",
    "rereadable",
]

CHUNK_SIZE = 4096
RECORDS = "<records>"  # what messages call an in-memory input
_WHITESPACE = {ord(c): None for c in " \t\r\n\v\f"}
_SEP = "\x00"  # joins a chunk of in-memory sequences for the one-pass letter check
# without an alphabet, a string is taken for a sequence when it could be DNA, RNA or protein
_ANY_SEQUENCE = frozenset("".join(a.letters + a.ambiguous for a in ALPHABETS.values()))


class SourceChunk(NamedTuple):
    """Up to ``chunk_size`` records: parallel ``ids``, ``seqs`` (upper-case, no whitespace) and
    ``labels`` (tuples of str, or None for a record without; the list is None when labels are not read)."""

    ids: list[str]
    seqs: list[str]
    labels: list[tuple[str, ...] | None] | None


def normalise_sequence(seq: str) -> str:
    """Upper-case ``seq`` without whitespace (what readers yield, and what caches hash)."""
    return seq.translate(_WHITESPACE).upper()


def _is_frame(obj: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)


def _as_list(obj: Any) -> Any:
    """A NumPy array (1-D, or one column) or a pandas Series of strings as a list; anything else as is."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, pd.Series):
        return obj.tolist()
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        if obj.ndim == 2 and obj.shape[1] == 1:
            obj = obj[:, 0]
        if obj.ndim != 1:
            raise ConfigError(f"an array of sequences must be 1-D (or one column), got shape {obj.shape}")
        return obj.tolist()
    return obj


def _is_file(s: Any) -> bool:
    if isinstance(s, str):
        return s == "-" or os.path.exists(s)
    return isinstance(s, os.PathLike)


def _what(alphabet: Any) -> str:
    if alphabet is None:
        return "a sequence"
    name = getattr(alphabet, "name", alphabet).lower()
    return "a protein sequence" if name == "protein" else f"a {name.upper()} sequence"


def _looks_like_sequence(s: str, alphabet: Any) -> bool:
    seq = normalise_sequence(s)
    if not seq:
        return False
    if alphabet is None:
        return set(seq) <= _ANY_SEQUENCE
    allowed, _ = letter_policy(alphabet, "map")
    return seq.isascii() and not seq.encode("ascii").translate(None, allowed)


def _neither(s: Any, alphabet: Any, labelled: bool) -> InputFormatError:
    shown = repr(s if len(s) <= 60 else s[:57] + "...")
    if labelled:
        return InputFormatError(
            f"{shown} is not an existing file (a bare sequence string has no label: pass "
            "(id, sequence, label) records or a DataFrame with a label column)"
        )
    return InputFormatError(f"{shown} is neither an existing file nor {_what(alphabet)}")


def _check_string(s: str, alphabet: Any, labelled: bool) -> str:
    """``"path"`` or ``"sequence"`` for a lone string (or the first of a list), else the error."""
    if _is_file(s):
        return "path"
    if not labelled and _looks_like_sequence(s, alphabet):
        return "sequence"
    raise _neither(s, alphabet, labelled)


def _classify(source: Any, alphabet: Any = None, labelled: bool = False) -> tuple[str, Any]:
    """``(kind, value)``: ``("paths", path or list of paths)``, ``("strings", list of str)``,
    ``("frame", DataFrame)`` or ``("records", iterable)``."""
    if isinstance(source, os.PathLike):
        return "paths", os.fspath(source)
    if isinstance(source, str):
        kind = _check_string(source, alphabet, labelled)
        return ("paths", source) if kind == "path" else ("strings", [source])
    if _is_frame(source):
        return "frame", source
    source = _as_list(source)
    if isinstance(source, (list, tuple)) and source and isinstance(source[0], (str, os.PathLike)):
        first = source[0]
        if isinstance(first, os.PathLike) or _check_string(first, alphabet, labelled) == "path":
            for s in source:
                if not _is_file(s):
                    raise (_neither(s, alphabet, labelled) if isinstance(s, str) else
                           ConfigError(f"a list of paths holds {type(s).__name__} {s!r}"))
            return "paths", [os.fspath(s) for s in source]
        if all(isinstance(s, str) for s in source):
            return "strings", list(source)
    return "records", source


def is_path_like(source: Any) -> bool:
    """True for an existing file, ``"-"``, an ``os.PathLike`` or a list of them (what the readers read)."""
    if isinstance(source, os.PathLike):
        return True
    if isinstance(source, str):
        return _is_file(source)
    return isinstance(source, (list, tuple)) and bool(source) and all(map(_is_file, source))


def describe_source(source: Any, sep: str = ", ") -> str | None:
    """The file name(s) of a path input, joined by ``sep``, for messages; None for in-memory input."""
    if not is_path_like(source):
        return None
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else sep.join(map(os.fspath, source))


def rereadable(source: Any) -> Any:
    """``source`` when it can be read twice (paths, lists, frames...), else its records in a list
    (a generator: training reads its input twice, once to infer the alphabet)."""
    if isinstance(source, (str, os.PathLike)) or _is_frame(source):
        return source
    try:
        once = iter(source) is source
    except TypeError:
        return source
    return list(source) if once else source


def _labels_of(value: Any, rid: str) -> tuple[str, ...] | None:
    """A record's labels as a tuple of str (None when it has none)."""
    if value is None or (isinstance(value, float) and value != value):  # None, NaN (a missing cell)
        return None
    if isinstance(value, str):
        return split_labels(value, record=rid) if value else None
    if isinstance(value, bytes):
        return split_labels(value.decode(), record=rid)
    if isinstance(value, Iterable):
        labs = tuple(str(v) for v in value)
        return labs or None
    return (str(value.item() if hasattr(value, "item") else value),)


def _record_triple(rec: Any, position: int) -> tuple[str, Any, Any]:
    """``(id, seq, raw labels)`` of one element of an iterable of records."""
    if isinstance(rec, str):
        return f"seq{position}", rec, None
    if hasattr(rec, "seq") and hasattr(rec, "id"):
        labs = getattr(rec, "labels", None)
        if labs is None:
            annotations = getattr(rec, "annotations", None) or {}
            labs = annotations.get("labels", annotations.get("label"))
        return str(rec.id), rec.seq, labs
    if isinstance(rec, (tuple, list)) and len(rec) in (2, 3):
        return str(rec[0]), rec[1], rec[2] if len(rec) == 3 else None
    raise ConfigError(
        f"record #{position} is a {type(rec).__name__}: expected a sequence string, an (id, sequence[, label]) "
        "tuple, or an object with .id and .seq"
    )


def _frame_triples(frame: Any) -> Iterator[tuple[str, Any, Any]]:
    columns = [str(c) for c in frame.columns]
    seq_col = next((c for c in ("sequence", "seq") if c in columns), None)
    if seq_col is None:
        raise ConfigError(f"a DataFrame needs a 'sequence' column (and optionally 'id', 'label'); it has {columns}")
    seqs = frame[seq_col].tolist()
    ids = frame["id"].tolist() if "id" in columns else [f"seq{i}" for i in range(len(seqs))]
    lab_col = next((c for c in ("label", "labels") if c in columns), None)
    labs = frame[lab_col].tolist() if lab_col else [None] * len(seqs)
    return zip(map(str, ids), seqs, labs, strict=True)


def _triples(kind: str, value: Any) -> Iterator[tuple[str, Any, Any]]:
    if kind == "strings":
        return ((f"seq{i}", s, None) for i, s in enumerate(value))
    if kind == "frame":
        return _frame_triples(value)
    return (_record_triple(rec, i) for i, rec in enumerate(value))


def _clean_seqs(ids: list[str], raw: list[Any], alphabet: Any, unknown: str) -> list[str]:
    """The sequences upper-cased without whitespace, letters checked as the readers check a file:
    one pass over the whole chunk, and record by record (for the precise error) only when it fails."""
    allowed, alpha = letter_policy(alphabet, unknown)
    seqs = [s if isinstance(s, str) else (s.decode("ascii") if isinstance(s, bytes) else str(s)) for s in raw]
    joined = _SEP.join(seqs)
    if joined.isascii():
        clean = clean_letters(joined.encode("ascii"), allowed + _SEP.encode())
        if clean is not None:
            out = clean.decode("ascii").split(_SEP)
            if len(out) == len(seqs) and all(out):
                return out
    return [normalise_record(RawRecord(rid, rid, s, None), allowed, alpha, unknown, None)  # type: ignore[arg-type]
            for rid, s in zip(ids, seqs, strict=True)]


def _memory_chunks(
    kind: str, value: Any, chunk_size: int, alphabet: Any, labels: Any, unknown: str, unique_ids: bool
) -> Iterator[SourceChunk]:
    triples = _triples(kind, value)
    mapping = labels if isinstance(labels, Mapping) else None
    if labels not in (None, False) and mapping is None:
        raise ConfigError("labels= names a table or file names, which apply to files; in-memory records carry "
                          "their own labels (a label field or column), or pass a dict")
    seen: set[str] = set()
    while chunk := list(islice(triples, chunk_size)):
        ids = [t[0] for t in chunk]
        if unique_ids and kind != "strings":
            _check_dups(ids, seen)
        seqs = _clean_seqs(ids, [t[1] for t in chunk], alphabet, unknown)
        labs = None
        if labels is not False:
            labs = [_labels_of(t[2], t[0]) for t in chunk]
            if mapping is not None:
                pairs = zip(ids, labs, strict=True)
                labs = [lab if lab is not None else _labels_of(mapping.get(rid), rid) for rid, lab in pairs]
        yield SourceChunk(ids, seqs, labs)


def _check_dups(ids: list[str], seen: set[str]) -> None:
    """Add ``ids`` to ``seen``; :class:`DuplicateIdError` naming the first one seen before
    (in an earlier chunk or earlier in ``ids``)."""
    if seen.isdisjoint(ids):
        n = len(seen)
        seen.update(ids)
        if len(seen) - n == len(ids):
            return
        seen.difference_update(ids)
    here: set[str] = set()
    for rid in ids:
        if rid in here or rid in seen:
            raise DuplicateIdError("the id occurs twice in the input records", record=rid)
        here.add(rid)


def _file_chunks(
    paths: Any, chunk_size: int, alphabet: Any, labels: Any, unknown: str, allow_empty: bool
) -> Iterator[SourceChunk]:
    from bioseq.io.readers import iter_columns, iter_sequences

    if labels is False:
        for ids, seqs in iter_columns(paths, chunk_size, alphabet=alphabet, unknown=unknown, allow_empty=allow_empty):
            yield SourceChunk(ids, seqs, None)
        return
    items = iter_sequences(paths, labels=labels, alphabet=alphabet, unknown=unknown, allow_empty=allow_empty)
    while chunk := list(islice(items, chunk_size)):
        yield SourceChunk([it.id for it in chunk], [it.seq for it in chunk], [it.labels for it in chunk])


def iter_source(
    source: Any,
    chunk_size: int = CHUNK_SIZE,
    *,
    alphabet: Any = None,
    labels: Any = False,
    unknown: str = "map",
    allow_empty: bool = False,
    unique_ids: bool = False,
) -> Iterator[SourceChunk]:
    """:class:`SourceChunk` s of up to ``chunk_size`` records of any input form (module docstring), in order.

    Args:
        alphabet: checks the letters (None: any letters, as the readers do without one).
        labels: ``False`` does not read labels (prediction, embedding); otherwise the readers'
            label source for files (None: ``label=`` tokens), and for in-memory records None
            (their own labels) or a dict id -> label filling in records without one.
        allow_empty: a file without records yields nothing instead of raising
            :class:`~bioseq.errors.EmptyInputError`; an empty in-memory input always yields nothing.
        unique_ids: refuse a repeated id among in-memory records too (files always do). Off
            for prediction and embedding, which accept a record given twice (the embedding
            cache computes it once); training sets it.

    Raises:
        InputFormatError: a string that is neither an existing file nor a sequence; file errors.
        AlphabetError, DuplicateIdError: as for files, naming the record.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    kind, value = _classify(source, alphabet, labelled=labels is not False)
    if kind == "paths":
        yield from _file_chunks(value, chunk_size, alphabet, labels, unknown, allow_empty)
    else:
        yield from _memory_chunks(kind, value, chunk_size, alphabet, labels, unknown, unique_ids)


def iter_source_columns(
    source: Any, chunk_size: int, alphabet: Any = None, *, allow_empty: bool = False
) -> Iterator[tuple[list[str], list[str]]]:
    """``(ids, seqs)`` chunks of :func:`iter_source` without labels: what predict and embed consume."""
    for chunk in iter_source(source, chunk_size, alphabet=alphabet, allow_empty=allow_empty):
        yield chunk.ids, chunk.seqs


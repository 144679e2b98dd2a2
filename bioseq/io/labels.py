"""Where a record's class labels come from.

A label source turns (file, record id, description) into a tuple of labels
(``("EI",)``; several for a multi-label record) or ``None`` (unlabelled). The
readers accept, as ``labels=``:

* ``None``: ``label=VALUE`` tokens in the FASTA description (``>id label=EI``),
  the layout of every dataset bioseq ships. A description is split on
  whitespace into ``key=value`` tokens; only ``label`` is used; a value may be
  quoted (``label="a b"`` is *not* supported: no whitespace inside values).
  The first record decides: if it carries a ``label=`` token every record must
  (:class:`LabelError` naming the first one that does not), otherwise the whole
  input is unlabelled and labels are ``None``.
* a path to a table (``.tsv``/``.csv``/``.txt``, optionally gzipped): two
  columns, id then label. The delimiter is a tab if the first line holds one,
  else a comma (CSV quoting honoured, so ``"a,b"`` is one multi-label cell). A
  header row is auto-detected: the first row is a header when its first cell is
  ``id`` (any case; also ``seq_id``, ``sequence_id``, ``name``, ``#id``) or
  starts with ``#``. Extra ids in the table are fine (one table may cover every
  split); a record missing from it is a :class:`LabelError`. The table is held in
  memory (one dict entry per row).
* a ``dict`` id -> label (a str, or a sequence of str for multi-label).
* ``"filename"``: one file per class, the layout genomic-benchmarks ships
  (``positive.fa.gz``, ``negative.fa.gz``): the class is the file name without
  its compression suffix and its last extension (``promoter.fa.gz`` ->
  ``promoter``). A label table literally named ``filename`` must be passed as a
  :class:`~pathlib.Path`.

Multi-label values are comma-separated everywhere: ``label=a,b`` -> ``("a", "b")``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from bioseq.errors import InputFormatError, LabelError
from bioseq.io.formats import decoding_errors_named, open_text, strip_compression

Labels = tuple[str, ...]
LabelSpec = str | os.PathLike | Mapping[str, object] | bool | None

FILENAME = "filename"
_TAIL_CACHE = 4096  # distinct descriptions remembered by TokenLabels.bulk
_HEADER_WORDS = {"id", "seq_id", "sequence_id", "name", "#id", "identifier", "record"}


def split_labels(value: str, *, path=None, record=None, line=None) -> Labels:
    """``"a,b"`` -> ``("a", "b")``; empty parts are an error (``"a,,b"``, ``""``)."""
    parts = tuple(p.strip() for p in value.split(","))
    if not all(parts):
        raise LabelError(f"empty label in {value!r}", path=path, record=record, line=line)
    return parts


def label_token(description: str) -> str | None:
    """The value of the first whitespace-separated ``label=VALUE`` token, or None.

    Cheap on the hot path: one substring search when there is no token. Matching
    quotes around the value are removed.
    """
    pos = description.find("label=")
    while pos >= 0:
        if pos == 0 or description[pos - 1].isspace():
            rest = description[pos + 6 :]
            value = "" if not rest or rest[0].isspace() else rest.split(None, 1)[0]
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value
        pos = description.find("label=", pos + 1)
    return None


def class_from_filename(path: str | os.PathLike) -> str:
    """``"data/promoter.fa.gz"`` -> ``"promoter"`` (compression suffix, then last extension)."""
    name = strip_compression(Path(path).name)
    stem = Path(name).stem
    return stem or name


class LabelSource:
    """Resolves the labels of one record; build one with :func:`label_source`.

    ``lookup(path, record_id, description, line)`` returns a tuple of labels or
    None, raising :class:`LabelError` when a required label is missing;
    ``description`` is the header text after the id (GenBank/EMBL: the
    DEFINITION/DE line).
    """

    #: True when every record must end up with labels
    required = True
    #: whether :meth:`bulk` needs the descriptions (False: the FASTA fast path skips them)
    reads_descriptions = True

    def lookup(self, path: str, record_id: str, description: str, line: int | None) -> Labels | None:
        raise NotImplementedError

    def bulk(self, path: str, ids: list[str], descriptions: list[str] | None) -> list[Labels | None] | None:
        """Labels of many records at once (the readers' fast path).

        ``descriptions`` are the header text after each id (None when
        :attr:`reads_descriptions` is False). Returns None (or raises) when any
        record is a problem; the caller then calls :meth:`lookup` record by
        record, which raises the precise error.
        """
        assert descriptions is not None
        return [self.lookup(path, i, d, None) for i, d in zip(ids, descriptions, strict=True)]


class TokenLabels(LabelSource):
    """``label=VALUE`` tokens in descriptions; the first record decides whether labels exist."""

    def __init__(self) -> None:
        self.required = None  # type: ignore[assignment]  # decided by the first record
        self._cache: dict[str, Labels] = {}  # value -> tuple: few distinct labels, many records
        self._tails: dict[str, Labels | None] = {}  # description -> labels

    def lookup(self, path, record_id, description, line):
        value = label_token(description) if "label=" in description else None
        if value is None:
            if self.required is None:
                self.required = False
            elif self.required:
                raise LabelError(
                    "record has no label=VALUE token in its description, but earlier records do "
                    "(label every record, or none)",
                    path=path, record=record_id, line=line,
                )
            return None
        labels = self._cache.get(value)
        if labels is None:
            if self.required is None:
                self.required = True
            elif not self.required:
                raise LabelError(
                    "record has a label= token but the first record had none (label every record, or none)",
                    path=path, record=record_id, line=line,
                )
            labels = split_labels(value, path=path, record=record_id, line=line)
            if len(self._cache) < 100_000:
                self._cache[value] = labels
        return labels

    def bulk(self, path, ids, descriptions):
        # The first record decides whether the input is labelled.
        if self.required is None and ids:
            self.lookup(path, ids[0], descriptions[0], None)
        if not self.required and "label=" not in "\n".join(descriptions):
            return [None] * len(ids)
        # Descriptions (" label=EI") repeat across records: resolve each distinct one once.
        tails = self._tails
        new = set(descriptions).difference(tails)
        if len(tails) + len(new) > _TAIL_CACHE:  # (nearly) unique descriptions: record by record
            return [self.lookup(path, i, d, None) for i, d in zip(ids, descriptions, strict=True)]
        for key in new:
            tails[key] = self.lookup(path, ids[descriptions.index(key)], key, None)
        return list(map(tails.__getitem__, descriptions))


class MappingLabels(LabelSource):
    """Labels from a dict (or a loaded table): every record id must be present."""

    def __init__(self, mapping: Mapping[str, Labels], origin: str) -> None:
        self.mapping = mapping
        self.origin = origin

    def lookup(self, path, record_id, description, line):
        try:
            return self.mapping[record_id]
        except KeyError:
            raise LabelError(
                f"record has no label in {self.origin}", path=path, record=record_id, line=line
            ) from None


    reads_descriptions = False

    def bulk(self, path, ids, descriptions):
        labels = list(map(self.mapping.get, ids))
        return None if None in labels else labels


class NoLabels(LabelSource):
    """``labels=False``: labels are not read at all.

    Prediction and embedding ignore labels, so they skip parsing descriptions
    (about a fifth of the FASTA fast path's time on short records).
    """

    required = False
    reads_descriptions = False

    def lookup(self, path, record_id, description, line):
        return None

    def bulk(self, path, ids, descriptions):
        return [None] * len(ids)


class FilenameLabels(LabelSource):
    """One file per class: the label is derived from the file the record came from."""

    reads_descriptions = False

    def __init__(self) -> None:
        self._cache: dict[str, Labels] = {}

    def lookup(self, path, record_id, description, line):
        labels = self._cache.get(path)
        if labels is None:
            if path == "-":
                raise LabelError("labels='filename' cannot name the class of stdin", path=path)
            labels = self._cache[path] = (class_from_filename(path),)
        return labels

    def bulk(self, path, ids, descriptions):
        return [self.lookup(path, "", "", None)] * len(ids)


def _normalise_value(value: object, origin: str, key: str) -> Labels:
    if isinstance(value, str):
        return split_labels(value, path=origin, record=key)
    if isinstance(value, (list, tuple, set, frozenset)) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise LabelError(f"label must be a str or a sequence of str, got {value!r}", path=origin, record=key)


def _table_rows(path: str | os.PathLike) -> Iterator[tuple[int, list[str]]]:
    if os.path.isdir(path):
        raise InputFormatError("is a directory, not a label table", path=path)
    with open_text(path) as fh, decoding_errors_named(path, "a text label table (TSV/CSV)"):
        first = fh.readline()
        delimiter = "\t" if "\t" in first else ","
        text = io.StringIO(first)
        for n, row in enumerate(csv.reader(text, delimiter=delimiter), start=1):
            yield n, row
        for n, row in enumerate(csv.reader(fh, delimiter=delimiter), start=2):
            yield n, row


def read_label_table(path: str | os.PathLike) -> dict[str, Labels]:
    """Load an ``id<TAB>label`` (or CSV) table; see the module docstring for the rules.

    Raises:
        LabelError: a row without two cells, an empty label, a duplicated id.
        EmptyInputError/InputFormatError: missing or empty file.
    """
    table: dict[str, Labels] = {}
    lines: dict[str, int] = {}
    origin = os.fspath(path)
    for n, row in _table_rows(path):
        if not row or all(not c.strip() for c in row):
            continue
        if n == 1 and (row[0].strip().lower() in _HEADER_WORDS or row[0].startswith("#")):
            continue
        if len(row) < 2:
            raise LabelError(
                f"expected two columns (id, label), found {len(row)}: {row!r}",
                path=origin, line=n, record=row[0].strip() if row else None,
            )
        key = row[0].strip()
        if key in table:
            raise LabelError(f"id listed twice (first on line {lines[key]})", path=origin, record=key, line=n)
        table[key] = split_labels(row[1], path=origin, record=key, line=n)
        lines[key] = n
    if not table:
        raise LabelError("label table has no rows", path=origin)
    return table


def label_source(spec: LabelSpec) -> LabelSource:
    """Build the label source for a readers' ``labels=`` argument (see the module docstring)."""
    if spec is None:
        return TokenLabels()
    if spec is False:
        return NoLabels()
    if isinstance(spec, LabelSource):
        return spec
    if isinstance(spec, str) and spec == FILENAME:
        return FilenameLabels()
    if isinstance(spec, Mapping):
        mapping = {str(k): _normalise_value(v, "labels dict", str(k)) for k, v in spec.items()}
        return MappingLabels(mapping, "the labels dict")
    if isinstance(spec, (str, os.PathLike)):
        return MappingLabels(read_label_table(spec), f"label table {os.fspath(spec)}")
    raise LabelError(
        f"labels= must be None, False, a table path, a dict or 'filename'; got {type(spec).__name__}"
    )

"""Exception classes raised by bioseq.

Every error a user can cause with their input is a :class:`BioseqError`, so a
pipeline can catch one type. Each carries the file, the record id and (where
known) the line number, and its message names them, so the user can go straight
to the offending record.
"""

from __future__ import annotations

import os


class BioseqError(Exception):
    """Base class of all errors bioseq raises about user input or files.

    Args:
        message: what is wrong, ideally with the fix.
        path: the file the problem was found in (``"-"`` for stdin).
        record: the id of the offending record, where there is one.
        line: the 1-based line number in the file, where known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        record: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.record = record
        self.line = line
        super().__init__(self._format())

    def located(self, path: str | os.PathLike[str]) -> BioseqError:
        """This error with ``path`` filled in where it had none: for errors raised
        by code that sees sequences but not files (the tokenizer)."""
        if self.path is not None:
            return self
        err = type(self)(self.message, path=path, record=self.record, line=self.line)
        err.__cause__ = self
        return err

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path) if self.line is None else f"{self.path}:{self.line}")
        if self.record is not None:
            where.append(f"record {self.record!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class InputFormatError(BioseqError):
    """A file could not be parsed: malformed record, unknown format, bad header."""


class EmptyInputError(BioseqError):
    """A file (or stdin) holds no records."""


class DuplicateIdError(BioseqError):
    """Two records in one input share an id."""


class AlphabetError(BioseqError):
    """A sequence holds letters outside the chosen alphabet (or rejected IUPAC codes)."""


class LabelError(BioseqError):
    """Labels are missing, unknown to a model, or a label table is inconsistent."""


class SequenceTooShortError(BioseqError):
    """A sequence is shorter than the tokenizer's k."""


class BundleError(BioseqError):
    """A model bundle is corrupt, truncated, of an unknown format or mismatched."""


class CacheError(BioseqError):
    """An embedding cache is corrupt, truncated or belongs to another model."""


class DamagedCacheError(CacheError):
    """A cache file fails its checksums or its HDF5 structure cannot be read: damaged on disk."""


class ConfigError(BioseqError):
    """A configuration value (CLI option, YAML key, plugin) is invalid."""


class PluginError(BioseqError):
    """A plugin registered through an entry point is missing or does not conform."""


class GenomeError(BioseqError):
    """A reference genome cannot be read or indexed, or a region/variant does not fit on it
    (unknown chromosome, past a chromosome's end, REF allele unlike the genome)."""

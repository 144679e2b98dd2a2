"""What a reader plugin yields (:class:`RawRecord`), shared by the built-in readers and the validating core.

The built-in readers live in :mod:`bioseq.io.fasta` and :mod:`bioseq.io.record_readers`;
:mod:`bioseq.io.readers` validates and normalises their records.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bioseq.errors import InputFormatError

__all__ = ["RawRecord"]


class RawRecord(NamedTuple):
    """What a reader plugin yields; bioseq validates and normalises it.

    Attributes:
        id: record id (no whitespace).
        description: the full description (for FASTA the whole title line
            without ``>``, as in Biopython); ``label=`` tokens are read from it.
        seq: the sequence as str or ASCII bytes, any case, may contain
            whitespace and newlines (removed centrally).
        line: 1-based line of the record's first line, or None if unknown.
        quality: FASTQ quality string (Phred+33), else None.
        record: the ``SeqRecord`` the reader parsed anyway (GenBank/EMBL), which
            :func:`bioseq.io.readers.read` returns with its features; else None.
    """

    id: str
    description: str
    seq: str | bytes
    line: int | None
    quality: str | None = None
    record: Any = None


def _decompress_error(path: str, exc: Exception, line: int | None) -> InputFormatError:
    return InputFormatError(f"corrupt or truncated compressed data ({exc})", path=path, line=line)


"""Record-by-record readers: FASTQ (parsed here) and GenBank/EMBL (parsed by Biopython).

FASTA has its own chunked fast path (:mod:`bioseq.io.fasta`); these formats are
read one record at a time and validated by :mod:`bioseq.io.readers` in chunks
of 1,024 records.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import IO

from bioseq.errors import BioseqError, InputFormatError
from bioseq.io.formats import EXTENSIONS
from bioseq.io.records import RawRecord, _decompress_error

__all__ = ["EmblReader", "FastqReader", "GenBankReader"]


class FastqReader:
    """FASTQ (Sanger, Phred+33), including multi-line sequence/quality.

    Checks the ``@`` header, the ``+`` separator (which may repeat the title),
    and that the quality string is as long as the sequence.
    """

    name = "fastq"
    extensions = tuple(e for e, f in EXTENSIONS.items() if f == "fastq")
    binary = True

    def records(self, handle: IO[bytes], path: str) -> Iterator[RawRecord]:
        n = 0
        it = iter(handle)
        try:
            for raw in it:
                n += 1
                if not raw.strip():
                    continue
                if raw[:1] != b"@":
                    hint = " (this looks like FASTA: pass format='fasta')" if raw[:1] == b">" else ""
                    raise InputFormatError(f"expected a '@' header line{hint}", path=path, line=n)
                head_line = n
                title = raw[1:].strip().decode(errors="replace")
                if not title:
                    raise InputFormatError("empty '@' header: a record needs an id", path=path, line=n)
                rid = title.split(None, 1)[0]
                seq_parts = []
                for raw in it:
                    n += 1
                    if raw[:1] == b"+":
                        break
                    seq_parts.append(raw.rstrip(b"\r\n"))
                else:
                    raise InputFormatError("truncated record: no '+' line", path=path, record=rid, line=n)
                plus = raw[1:].strip().decode(errors="replace")
                if plus and plus != title:
                    raise InputFormatError(
                        f"'+' line repeats a different title ({plus!r})", path=path, record=rid, line=n
                    )
                seq = b"".join(seq_parts)
                qual_parts = []
                qlen = 0
                while qlen < len(seq):
                    raw = next(it, None)
                    if raw is None:
                        break
                    n += 1
                    q = raw.rstrip(b"\r\n")
                    qual_parts.append(q)
                    qlen += len(q)
                if qlen != len(seq):
                    raise InputFormatError(
                        f"quality string has {qlen} characters but the sequence has {len(seq)}",
                        path=path, record=rid, line=n,
                    )
                yield RawRecord(rid, title, seq, head_line, b"".join(qual_parts).decode("latin-1"))
        except (OSError, EOFError) as exc:
            raise _decompress_error(path, exc, n) from exc


class _LineCounter(io.TextIOBase):
    """Counts lines Biopython's scanners read, remembering where the last record began."""

    def __init__(self, inner: IO[str], marker: str) -> None:
        super().__init__()
        self._inner = inner
        self._marker = marker
        self.n = 0
        self.start = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        return self._inner.read(size)

    def readline(self, size: int = -1) -> str:  # type: ignore[override]
        line = self._inner.readline(size)
        if line:
            self.n += 1
            if line.startswith(self._marker):
                self.start = self.n
        return line

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __iter__(self):
        return self


class _BiopythonReader:
    """GenBank/EMBL through ``Bio.SeqIO``; the parsed ``SeqRecord`` is kept for :func:`read`."""

    name = ""
    extensions: tuple[str, ...] = ()
    binary = False
    _biopython_format = ""
    _marker = ""

    def records(self, handle: IO[str], path: str) -> Iterator[RawRecord]:
        from Bio import SeqIO
        from Bio.Seq import UndefinedSequenceError

        counter = _LineCounter(handle, self._marker)
        parser = SeqIO.parse(counter, self._biopython_format)
        while True:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    rec = next(parser)
                for w in caught:  # Biopython only warns about truncated records: make it an error
                    text = str(w.message)
                    if "Premature end" in text or "Expected sequence length" in text:
                        raise InputFormatError(
                            f"truncated or malformed {self.name} record: {text}", path=path, line=counter.n
                        )
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            except StopIteration:
                return
            except BioseqError:
                raise
            except (OSError, EOFError) as exc:
                raise _decompress_error(path, exc, counter.n) from exc
            except Exception as exc:  # Biopython raises ValueError and friends
                raise InputFormatError(
                    f"malformed {self.name} record: {exc}", path=path, line=counter.n
                ) from exc
            try:
                seq = str(rec.seq)
            except UndefinedSequenceError:
                raise InputFormatError(
                    "record has no sequence data", path=path, record=rec.id, line=counter.start
                ) from None
            yield RawRecord(rec.id, rec.description, seq, counter.start, None, rec)


class GenBankReader(_BiopythonReader):
    """GenBank flat files (``LOCUS`` ... ``//``), parsed by Biopython."""

    name = "genbank"
    extensions = tuple(e for e, f in EXTENSIONS.items() if f == "genbank")
    _biopython_format = "genbank"
    _marker = "LOCUS"


class EmblReader(_BiopythonReader):
    """EMBL flat files (``ID`` ... ``//``), parsed by Biopython."""

    name = "embl"
    extensions = tuple(e for e, f in EXTENSIONS.items() if f == "embl")
    _biopython_format = "embl"
    _marker = "ID "


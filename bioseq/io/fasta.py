"""FASTA, the fast path: binary chunks split at line-initial ``>`` into whole records.

:func:`_fasta_blocks` reads ~1 MiB at a time and hands complete records on,
chunk by chunk, so that :mod:`bioseq.io.readers` can validate each chunk
column-wise with C-level ``map`` calls; :class:`FastaReader` is the same parse
as a reader plugin yielding :class:`~bioseq.io.records.RawRecord`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice, repeat
from typing import IO

from bioseq.errors import InputFormatError
from bioseq.io.formats import EXTENSIONS
from bioseq.io.records import RawRecord, _decompress_error

__all__ = ["FastaReader"]

_CHUNK = 1 << 20


_RECORD_START = re.compile(rb"(?:\A|(?<=\n))>")  # a ">" that starts a line


def _split_records(data: bytes) -> list[bytes]:
    """Split at every ``>`` that starts a line; pieces keep their trailing newline.

    A plain ``split(b">")`` (memchr speed) is right when no ``>`` occurs inside a
    line, i.e. every piece but the last ends with a newline (checked in C);
    otherwise a regular expression splits only at line-initial ``>``.
    """
    pieces = data.split(b">")
    if all(map(bytes.endswith, islice(pieces, 1, len(pieces) - 1), repeat(b"\n"))) and (
        data[0] == 62 or len(pieces) == 1 or pieces[0].endswith(b"\n")
    ):
        return pieces
    return _RECORD_START.split(data)


def _fasta_blocks(
    handle: IO[bytes], path: str, chunk_size: int | None = None
) -> Iterator[tuple[int, list[bytes], bool]]:
    """Split a FASTA byte stream into complete records, one ~1 MiB chunk at a time.

    Yields ``(line, records, plain)``. A record is the bytes after a line-initial
    ``>`` up to and including the newline before the next one (header line,
    sequence lines, blank lines); only the file's last record may lack the final
    newline. ``line`` is the 1-based line of the first record's header; the next
    record's is ``line + rec.count(b"\\n")``. ``plain`` is True when the chunk
    holds no whitespace but spaces and newlines (no tabs: ids can be split at
    spaces). Chunks are extended to a line boundary; a record longer than a
    chunk is assembled from parts without quadratic copying. ``chunk_size``:
    bytes per read, default ``_CHUNK`` (:mod:`bioseq.io.readers` passes its own).
    """
    size = _CHUNK if chunk_size is None else chunk_size
    read = handle.read
    readline = handle.readline
    chunk_line = 1  # line of the first line of the current chunk
    tail: list[bytes] | None = None  # parts of the record still being read
    tail_line = 1  # its header's line
    while True:
        try:
            data = read(size)
            if data and data[-1] != 10:
                data += readline()  # end chunks at a line boundary
        except (OSError, EOFError) as exc:
            raise _decompress_error(path, exc, chunk_line) from exc
        if not data:
            break
        if b"\r" in data:  # CRLF (Windows) files: same newline count, simpler records
            data = data.replace(b"\r\n", b"\n")
        if tail is None:  # before the first record: skip blank lines, expect ">"
            stripped = data.lstrip()
            chunk_line += data.count(b"\n", 0, len(data) - len(stripped))
            if not stripped:
                continue
            if stripped[0] != 62:  # b">"
                hint = " (this looks like FASTQ: pass format='fastq')" if stripped[:1] == b"@" else ""
                raise InputFormatError(f"expected a '>' header line{hint}", path=path, line=chunk_line)
            data = stripped
            tail, tail_line = [], chunk_line
        pieces = _split_records(data)
        if pieces[0]:
            tail.append(pieces[0])  # the end of the record begun in an earlier chunk
        n_lines = data.count(b"\n")
        if len(pieces) == 1:
            chunk_line += n_lines
            continue
        out = [b"".join(tail)] if tail else []
        first_line = tail_line
        last = pieces.pop()
        out += pieces[1:]
        tail, tail_line = [last], chunk_line + n_lines - last.count(b"\n")
        chunk_line += n_lines
        if out:
            yield first_line, out, not (b"\t" in data or b"\r" in data or b"\v" in data or b"\f" in data)
    if tail:
        yield tail_line, [b"".join(tail)], False


def _split_header(rec: bytes, line: int, path: str) -> tuple[str, str, bytes]:
    """(id, title, body) of one FASTA record from :func:`_fasta_blocks`."""
    nl = rec.find(b"\n")
    head, body = (rec, b"") if nl < 0 else (rec[:nl], rec[nl + 1 :])
    try:
        title = head.decode().strip()
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"header is not valid UTF-8 ({exc})", path=path, line=line) from None
    if not title:
        raise InputFormatError("empty '>' header: a record needs an id", path=path, line=line)
    return title.split(None, 1)[0], title, body


class FastaReader:
    """FASTA: ``>id description`` then sequence lines (any width, blank lines ignored).

    Chunked binary parsing (:func:`_fasta_blocks`); the description is decoded as
    UTF-8. Text before the first ``>`` (other than blank lines) is an
    :class:`InputFormatError`. :func:`iter_sequences` uses a fused copy of this
    loop (:func:`_fasta_items`) that skips the :class:`RawRecord` step.
    """

    name = "fasta"
    extensions = tuple(e for e, f in EXTENSIONS.items() if f == "fasta")
    binary = True

    def records(self, handle: IO[bytes], path: str) -> Iterator[RawRecord]:
        for line, recs, _ in _fasta_blocks(handle, path):
            for rec in recs:
                rid, title, body = _split_header(rec, line, path)
                yield RawRecord(rid, title, body, line)
                line += rec.count(b"\n")


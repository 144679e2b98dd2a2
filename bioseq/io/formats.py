"""Sequence file formats and transparent decompression.

Two jobs, both needed before any record is parsed:

* :func:`detect_format` maps a file name to a format name (``"fasta"``,
  ``"fastq"``, ``"genbank"``, ``"embl"``) by its extension, after stripping a
  ``.gz``/``.bz2`` suffix; :func:`sniff_format` guesses it from the first bytes
  (used for stdin and unknown extensions).
* :func:`open_binary` / :func:`open_text` open a path, ``"-"`` (stdin) or an
  already open binary file and decompress gzip (also BGZF, multi-member) and
  bzip2 *by magic bytes*, not by name, so a mis-named ``reads.fq`` that is really
  gzipped still reads. gzip goes through ``isal.igzip`` when it is importable
  (~2.7x faster than :mod:`gzip` here), else :mod:`gzip`.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from bioseq.errors import InputFormatError

try:  # PyPI `isal`: the same API as gzip, ISA-L's inflate
    from isal import igzip as _gzip_impl
except ImportError:  # pragma: no cover - isal is a declared dependency
    _gzip_impl = gzip

PathLike = str | os.PathLike

STDIN = "-"

#: extension (lower-case, with the dot) -> format name
EXTENSIONS: dict[str, str] = {
    **dict.fromkeys((".fa", ".fasta", ".fna", ".ffn", ".faa", ".fas", ".frn", ".mpfa"), "fasta"),
    **dict.fromkeys((".fq", ".fastq"), "fastq"),
    **dict.fromkeys((".gb", ".gbk", ".gbff", ".genbank"), "genbank"),
    **dict.fromkeys((".embl", ".em"), "embl"),
}
COMPRESSION_SUFFIXES = (".gz", ".bgz", ".bz2")
FORMATS = ("fasta", "fastq", "genbank", "embl")

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"


def strip_compression(name: str) -> str:
    """``"x.fa.gz"`` -> ``"x.fa"``; names without a compression suffix are returned as is."""
    lower = name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def format_extension(path: PathLike) -> str:
    """The lower-case extension that names the format: ``"reads.FQ.gz"`` -> ``".fq"``."""
    return Path(strip_compression(Path(path).name)).suffix.lower()


def detect_format(path: PathLike, extra: dict[str, str] | None = None) -> str:
    """Return the format of ``path`` from its extension (``.gz``/``.bz2`` stripped first).

    Args:
        path: the file name; its content is not read.
        extra: more ``extension -> format`` pairs (reader plugins' extensions).

    Raises:
        InputFormatError: unknown extension (or stdin); the message lists the
            known extensions and suggests ``format=``.
    """
    if os.fspath(path) == STDIN:
        raise InputFormatError("cannot tell the format of stdin from a name; pass format=", path=path)
    ext = format_extension(path)
    table = {**EXTENSIONS, **(extra or {})}
    if ext in table:
        return table[ext]
    raise InputFormatError(
        f"unknown sequence file extension {ext or '(none)'!r}; known: {', '.join(sorted(table))} "
        "(optionally .gz/.bz2); pass format= to choose one",
        path=path,
    )


def sniff_format(head: bytes) -> str | None:
    """Guess the format from the first bytes of the (decompressed) content, or None.

    FASTA starts with ``>``, FASTQ with ``@``, GenBank with ``LOCUS``, EMBL with
    ``ID``; leading blank lines are skipped.
    """
    text = head.lstrip()
    if text.startswith(b">"):
        return "fasta"
    if text.startswith(b"@"):
        return "fastq"
    if text.startswith(b"LOCUS"):
        return "genbank"
    if text.startswith(b"ID "):
        return "embl"
    return None


def _raw_open(path: PathLike | BinaryIO) -> tuple[BinaryIO, bool]:
    """Open ``path`` for binary reading; return (handle, whether we own it)."""
    if not isinstance(path, (str, os.PathLike)):
        return path, False  # an open binary file
    if os.fspath(path) == STDIN:
        return sys.stdin.buffer, False
    try:
        return open(path, "rb"), True
    except FileNotFoundError:
        raise InputFormatError("no such file", path=path) from None
    except IsADirectoryError:
        raise InputFormatError("is a directory, not a sequence file", path=path) from None


def open_binary(path: PathLike | BinaryIO) -> BinaryIO:
    """Open ``path`` (a file name, ``"-"`` for stdin, or an open binary file) for reading
    decompressed bytes.

    gzip and bzip2 are recognised by their magic bytes (``1f 8b``, ``BZh``). The
    returned handle supports ``read``/``readline``/``peek``; closing it closes the
    underlying file unless that was stdin or a handle passed in.
    """
    raw, owned = _raw_open(path)
    if not isinstance(raw, io.BufferedReader):
        raw = io.BufferedReader(raw) if hasattr(raw, "readinto") else raw  # type: ignore[arg-type]
    magic = raw.peek(3)[:3] if hasattr(raw, "peek") else b""
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else getattr(path, "name", "<stream>")
    try:
        if magic.startswith(_GZIP_MAGIC):
            handle: BinaryIO = _gzip_impl.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        elif magic.startswith(_BZIP2_MAGIC):
            handle = bz2.BZ2File(raw, mode="rb")  # type: ignore[assignment]
        else:
            return raw if owned else _NonClosing(raw)  # type: ignore[return-value]
    except OSError as exc:
        raise InputFormatError(f"cannot decompress: {exc}", path=name) from exc
    return _Closing(handle, raw if owned else None)  # type: ignore[return-value]


def open_text(path: PathLike | BinaryIO, encoding: str = "utf-8") -> TextIO:
    """Open ``path`` like :func:`open_binary`, decoded as text (universal newlines)."""
    return io.TextIOWrapper(open_binary(path), encoding=encoding, errors="strict")  # type: ignore[arg-type]


@contextlib.contextmanager
def decoding_errors_named(path: PathLike, what: str = "a text file") -> Iterator[None]:
    """Turn a ``UnicodeDecodeError`` raised in the block into an :class:`InputFormatError`
    naming ``path``: a table that is binary data (an image, a compressed file read as
    plain text) is a user's mistake to point out, not a traceback."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise InputFormatError(
            f"not {what}: byte {exc.object[exc.start:exc.start + 1]!r} is not UTF-8 (binary or compressed data?)",
            path=path,
        ) from None


class _NonClosing(io.RawIOBase):
    """A binary handle whose ``close`` leaves the wrapped stream (stdin) open."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self._inner.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:  # type: ignore[override]
        return self._inner.readline(size)

    def peek(self, size: int = 0) -> bytes:
        return self._inner.peek(size)  # type: ignore[attr-defined]


class _Closing(_NonClosing):
    """A decompressing handle that also closes the file underneath it (when we own it)."""

    def __init__(self, inner: BinaryIO, under: BinaryIO | None) -> None:
        super().__init__(inner)
        self._under = under

    def peek(self, size: int = 0) -> bytes:
        peek = getattr(self._inner, "peek", None)
        return peek(size) if peek is not None else b""

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                if self._under is not None:
                    self._under.close()
        super().close()

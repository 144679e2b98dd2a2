"""Reader plugins: the ``bioseq.readers`` registry, picking a file's reader, and the
protocol half of the conformance check for plugin authors.

A reader is a class with ``name``, ``extensions`` and ``records(handle, path)``
yielding :class:`~bioseq.io.records.RawRecord`; ``binary = True`` asks for the
decompressed binary handle instead of a text one. The built-in readers are
declared as entry points like any plugin's. :func:`open_reader` opens a path and
picks its reader: an explicit ``format``, else the extension (after
``.gz``/``.bz2``), else the first bytes.

The conformance check that plugin authors call, :func:`bioseq.io.readers.check_reader`,
lives with the validating core it runs the records through; this module holds
the part that needs no validation (:func:`check_reader_protocol`), so that
imports go one way: readers -> reader_plugins.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from typing import IO, Any

from bioseq.errors import InputFormatError, PluginError
from bioseq.io.formats import EXTENSIONS, FORMATS, STDIN, format_extension, open_binary, sniff_format
from bioseq.io.records import RawRecord, _decompress_error
from bioseq.plugins import Registry

__all__ = ["READERS", "check_reader_protocol", "open_reader"]


def _validate_reader(name: str, obj: object) -> None:
    """Static conformance check run by the registry before a reader is used."""
    problems = []
    if not isinstance(obj, type):
        problems.append("is not a class")
    else:
        if not isinstance(getattr(obj, "name", None), str) or not obj.name:
            problems.append("has no str attribute 'name'")
        exts = getattr(obj, "extensions", None)
        if not isinstance(exts, (tuple, list)) or not all(
            isinstance(e, str) and e.startswith(".") for e in exts
        ):
            problems.append("'extensions' must be a tuple of strings starting with '.'")
        if not callable(getattr(obj, "records", None)):
            problems.append("has no method records(handle, path)")
        if not isinstance(getattr(obj, "binary", False), bool):
            problems.append("'binary' must be a bool")
    if problems:
        raise PluginError(f"reader {name!r} " + "; ".join(problems))


READERS: Registry[type] = Registry("bioseq.readers", validate=_validate_reader)


def check_reader_protocol(reader_cls: type, sample: str | os.PathLike | None = None) -> int:
    """The protocol half of :func:`bioseq.io.readers.check_reader` (which adds bioseq's validation).

    Checks the class attributes, that it instantiates without arguments and,
    given a ``sample`` file in its format, that ``records`` yields well-formed
    :class:`RawRecord`s.

    Returns:
        The number of records read from ``sample`` (0 without one).

    Raises:
        PluginError: what does not conform, naming the reader (and the record number).
    """
    name = getattr(reader_cls, "name", repr(reader_cls))
    _validate_reader(name, reader_cls)
    try:
        reader = reader_cls()
    except Exception as exc:
        raise PluginError(f"reader {name!r} cannot be instantiated without arguments: {exc}") from exc
    if sample is None:
        return 0
    count = 0
    with open_reader(sample, None, reader) as (_, handle):
        for count, rec in enumerate(reader.records(handle, os.fspath(sample)), start=1):
            _check_raw_record(rec, f"reader {name!r}, record #{count}")
    if count == 0:
        raise PluginError(f"reader {name!r} yielded no records from the sample {os.fspath(sample)}")
    return count


def _check_raw_record(rec: Any, where: str) -> None:
    """One record a plugin yielded has the :class:`RawRecord` fields with the documented types."""
    fields = getattr(rec, "_fields", ())
    if not isinstance(rec, tuple) or tuple(fields[:4]) != RawRecord._fields[:4]:
        raise PluginError(f"{where}: records() must yield RawRecord, got {type(rec).__name__}")
    if not isinstance(rec.id, str) or not rec.id or rec.id != rec.id.strip() or " " in rec.id:
        raise PluginError(f"{where}: id must be a non-empty str without whitespace, got {rec.id!r}")
    if not isinstance(rec.description, str):
        raise PluginError(f"{where}: description must be a str")
    if not isinstance(rec.seq, (str, bytes)):
        raise PluginError(f"{where}: seq must be str or bytes, got {type(rec.seq).__name__}")
    if rec.line is not None and (not isinstance(rec.line, int) or rec.line < 1):
        raise PluginError(f"{where}: line must be None or a 1-based int, got {rec.line!r}")


def _plugin_extensions() -> dict[str, str]:
    """Extensions declared by third-party readers (broken plugins are skipped here)."""
    table = {}
    for name in READERS.names():
        if name in FORMATS:
            continue
        try:
            cls = READERS.get(name)
        except PluginError:
            continue
        for ext in cls.extensions:
            table.setdefault(ext.lower(), name)
    return table


def _resolve_reader(path: str, fmt: str | type | None, handle: IO[bytes]):
    """Pick the reader: explicit ``format``, else extension, else the content's first bytes."""
    if fmt is not None:
        if isinstance(fmt, type):
            _validate_reader(getattr(fmt, "name", repr(fmt)), fmt)
            return fmt()
        return READERS.get(fmt.lower())()
    if path != STDIN:
        ext = format_extension(path)
        name = EXTENSIONS.get(ext) or (_plugin_extensions().get(ext) if ext else None)
        if name is not None:
            return READERS.get(name)()
    try:
        head = handle.peek(512)[:512]  # type: ignore[attr-defined]
    except (OSError, EOFError) as exc:
        raise _decompress_error(path, exc, None) from exc
    name = sniff_format(head)
    if name is None:
        if not head.strip():
            return READERS.get("fasta")()  # empty input: reported as such by the caller
        raise InputFormatError(
            f"cannot tell the sequence format (extension {format_extension(path) or 'none'!r}, "
            f"content starts {head[:20]!r}); pass format= (one of {', '.join(READERS.names())})",
            path=path,
        )
    return READERS.get(name)()


@contextlib.contextmanager
def open_reader(path: str | os.PathLike, fmt: str | type | None, reader=None) -> Iterator[tuple[Any, IO]]:
    """Open ``path``, pick its reader, and yield (reader, handle): binary or text as the reader asks."""
    handle = open_binary(path)
    try:
        if reader is None:
            reader = _resolve_reader(os.fspath(path), fmt, handle)
        if getattr(reader, "binary", False):
            yield reader, handle
        else:
            text = io.TextIOWrapper(handle, encoding="utf-8")  # type: ignore[arg-type]
            try:
                yield reader, text
            finally:
                text.detach()
    finally:
        handle.close()

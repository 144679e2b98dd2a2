"""Split inputs into shards and gather per-shard tables back (Snakemake ``scattergather``).

* :func:`shard_file` splits a sequence file into N contiguous FASTA shards of
  near-equal record counts, in input order: shard i holds records
  ``[start_i, start_i + size_i)`` with sizes differing by at most one (the
  first ``n % N`` shards get one more). Concatenating the shards gives back the
  input's records in order, so predictions gathered in shard order line up with
  the input. With fewer records than shards the last shards are **empty files**
  (zero bytes: a workflow's outputs must all exist); read them with
  ``iter_sequences(..., allow_empty=True)``.
* :func:`gather_tables` concatenates prediction tables (or any TSV, or header-less
  bedGraph/BED) in the given order.

Every output is written atomically (temporary file + rename).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from bioseq.errors import ConfigError, EmptyInputError, InputFormatError
from bioseq.io.atomic import atomic_path
from bioseq.io.formats import STDIN, _gzip_impl, decoding_errors_named
from bioseq.io.readers import iter_records, iter_sequences
from bioseq.io.writers import open_table

LINE_WIDTH = 60


def shard_sizes(n_records: int, n_shards: int) -> list[int]:
    """Record counts of ``n_shards`` contiguous shards of ``n_records`` (differ by at most one)."""
    if n_shards < 1:
        raise ConfigError(f"need at least one shard, got {n_shards}")
    base, extra = divmod(n_records, n_shards)
    return [base + (1 if i < extra else 0) for i in range(n_shards)]


def _open_out(tmp: Path, final: Path):
    """A text handle on ``tmp`` for the shard ``final``: gzip-compressed when ``final`` ends in .gz."""
    if final.name.endswith(".gz"):
        return _gzip_impl.open(tmp, "wt")  # the default level (isal: 2, gzip: 9)
    return open(tmp, "w", encoding="utf-8", newline="\n")


def _fasta_entry(rid: str, description: str, seq: str, width: int) -> str:
    header = description if description.split(None, 1)[:1] == [rid] else f"{rid} {description}".rstrip()
    if width and len(seq) > width:
        seq = "\n".join(seq[i : i + width] for i in range(0, len(seq), width))
    return f">{header}\n{seq}\n"


def shard_file(
    input: str | os.PathLike[str],
    outputs: Sequence[str | os.PathLike[str]],
    format: str | None = None,
    width: int = LINE_WIDTH,
) -> list[int]:
    """Split ``input`` into ``len(outputs)`` contiguous FASTA shards; return the record counts.

    Args:
        input: a sequence file in any readable format (not stdin: it is read twice,
            once to count records with the fast path, once to write).
        outputs: shard paths, in order; a ``.gz`` name is gzip-compressed.
        format: the input format when the extension does not tell.
        width: sequence line width (0: one line per sequence).

    Headers are kept (the id and description, so ``label=`` tokens survive);
    sequences are written upper-case as validated by the readers. The whole input
    is checked (duplicates, malformed records) before any shard is written.
    """
    if os.fspath(input) == STDIN:
        raise ConfigError("shard needs a file, not stdin: the input is read twice")
    outs = [Path(p) for p in outputs]
    if not outs:
        raise ConfigError("shard needs at least one output")
    if len({p.resolve() for p in outs}) != len(outs):
        raise ConfigError("shard outputs must be distinct files")
    n = sum(1 for _ in iter_sequences(input, format=format))
    sizes = shard_sizes(n, len(outs))
    records = iter_records(input, format=format)
    for out, size in zip(outs, sizes, strict=True):
        with atomic_path(out) as tmp, _open_out(tmp, out) as fh:
            buf: list[str] = []
            for _ in range(size):
                rid, description, seq, _labels = next(records)
                buf.append(_fasta_entry(rid, description, seq, width))
                if len(buf) >= 4096:
                    fh.write("".join(buf))
                    buf.clear()
            fh.write("".join(buf))
    if next(records, None) is not None:  # the file changed between the two passes
        raise InputFormatError("input changed while it was being sharded", path=input)
    return sizes


GATHER_KINDS = ("predictions", "tsv", "lines")


def gather_tables(
    inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], kind: str = "predictions"
) -> int:
    """Concatenate tables ``inputs`` (in this order) into ``output``; return the row count.

    ``kind``: ``predictions`` (prediction tables: the header is checked as one), ``tsv`` (any
    table whose first line is its header, e.g. variant effects) or ``lines`` (no header: bedGraph,
    BED; a file may be empty). With a header, every input must have the same one (same labels,
    same order) and it is written once; rows are copied as they are. The output appears
    atomically when complete.

    Raises:
        ConfigError: no inputs, or an unknown ``kind``.
        EmptyInputError: an input without even a header.
        InputFormatError: a header differing from the first input's, or not a
            prediction table.
    """
    if kind not in GATHER_KINDS:
        raise ConfigError(f"unknown kind of table {kind!r}; choose one of {', '.join(GATHER_KINDS)}")
    paths = [Path(p) for p in inputs]
    if not paths:
        raise ConfigError("gather needs at least one input table")
    header: str | None = None
    rows = 0
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        for path in paths:
            with _open_part(path, kind) as (fh, first):
                if header is None:
                    header = first
                    out.write(first if first.endswith("\n") or not first else first + "\n")
                elif first.rstrip("\r\n") != header.rstrip("\r\n"):
                    raise InputFormatError(
                        f"header differs from {paths[0]}'s ({first.strip()[:60]!r} vs "
                        f"{header.strip()[:60]!r}): tables from different models cannot be gathered",
                        path=path, line=1,
                    )
                rows += _copy_rows(fh, out)
    return rows


@contextlib.contextmanager
def _open_part(path: Path, kind: str) -> Iterator[tuple[IO[str], str]]:
    """``(handle after the header, header line)`` of one gathered input; the header is ``""`` for
    ``lines``."""
    if kind == "predictions":
        with open_table(path) as (fh, first, _labels):
            yield fh, first
        return
    try:
        fh = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputFormatError(f"cannot read the table ({exc.strerror})", path=path) from None
    with fh, decoding_errors_named(path, "a plain-text table"):
        first = fh.readline() if kind == "tsv" else ""
        if kind == "tsv" and not first:
            raise EmptyInputError("table is empty (no header)", path=path)
        yield fh, first


def _copy_rows(fh: IO[str], out: IO[str]) -> int:
    """Copy the rest of ``fh`` to ``out`` in 1 MiB blocks (a final row gets its newline); rows copied."""
    rows = 0
    last = ""
    for block in iter(lambda: fh.read(1 << 20), ""):
        out.write(block)
        rows += block.count("\n")
        last = block[-1]
    if last and last != "\n":  # a final row without newline
        out.write("\n")
        rows += 1
    return rows


__all__ = ["shard_file", "gather_tables", "shard_sizes", "GATHER_KINDS"]

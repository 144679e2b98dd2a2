"""Embed sequences: pooled per-sequence vectors (the input of the classification head).

``embed(model, inputs, cache=...)`` reads the input in chunks, asks the cache
which content keys it already holds, runs the model only on the missing
*unique* sequences (a sequence repeated under several ids is computed once),
adds those rows to the cache and returns one row per input record, in input
order. Returned values are always the stored values (float16 when the cache
stores float16), so a cold run and a cached rerun return identical arrays.

The model is a bundle path (its weights load only when a sequence must be
computed: a fully cached rerun imports no torch; :mod:`bioseq.embed.deferred`)
or a duck type (what :func:`bioseq.load` returns):
``fingerprint: str``, ``embedding_dim: int``, ``tokenizer`` with ``config()``,
``alphabet``, ``embed_sequences(seqs) -> float32 (n, D)``; optionally
``embed_positions(seqs) -> list of (T_i, D)`` for per-position embeddings.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq.embed.cache_format import (
    EmbeddingBatch,
    _create_datasets,
    _set_group_attrs,
    _write_root_attrs,
    _write_rows,
    check_options,
    seal_ids,
    sequence_keys,
)
from bioseq.embed.cache_writer import CacheWriter
from bioseq.embed.deferred import as_model
from bioseq.errors import CacheError, ConfigError
from bioseq.io.atomic import AtomicWriter, atomic_path
from bioseq.io.sources import iter_source_columns

CHUNK_SIZE = 4096  # records read and looked up at once
# Bytes of embedding rows that one chunk, and one pending cache segment, may hold: a chunk of
# 4,096 rows of kmer-linear's 182k TF-IDF columns would be 3 GB (10.5 GB peak RSS measured).
ROW_BYTES_BUDGET = 256 << 20

__all__ = ["EmbedStats", "ExportWriter", "embed", "embed_to_file", "iter_embed", "model_attrs"]


@dataclass
class EmbedStats:
    """What a run did: ``n_inputs`` records, of which ``n_cached`` came from the cache,
    ``n_computed`` were run through the model (in ``model_calls`` calls) and
    ``n_duplicates`` repeated a sequence computed earlier in the same chunk; ``model_loaded``:
    whether the model's weights were in memory (False when a bundle path was given and
    every row came from the cache)."""

    n_inputs: int = 0
    n_cached: int = 0
    n_computed: int = 0
    n_duplicates: int = 0
    model_calls: int = 0
    model_loaded: bool = False

    def add_chunk(self, n: int, n_missing: int, n_computed: int) -> None:
        """Count a chunk of ``n`` records, ``n_missing`` not in the cache, ``n_computed`` run through the model."""
        self.n_inputs += n
        self.n_cached += n - n_missing
        self.n_computed += n_computed
        self.n_duplicates += n_missing - n_computed


def model_attrs(model: Any) -> dict[str, Any]:
    """The cache-group attributes that describe ``model`` (fingerprint, dim, tokenizer config, arch)."""
    try:
        fingerprint = str(model.fingerprint)
        dim = int(model.embedding_dim)
    except AttributeError as exc:
        raise ConfigError(f"cannot embed with {type(model).__name__}: it lacks {exc.name or exc}") from exc
    tok = getattr(model, "tokenizer", None)
    tok_cfg = tok.config() if tok is not None and hasattr(tok, "config") else {}
    attrs: dict[str, Any] = {
        "model_fingerprint": fingerprint,
        "embedding_dim": dim,
        "tokenizer_config": json.dumps(tok_cfg, sort_keys=True),
    }
    if getattr(model, "arch", None):
        attrs["arch"] = str(model.arch)
    return attrs


def _iter_input(
    model: Any, inputs: Any, chunk_size: int, allow_empty: bool = False
) -> Iterator[tuple[list[str], list[str]]]:
    """``(ids, normalised seqs)`` chunks (see :func:`bioseq.io.sources.iter_source_columns`)."""
    return iter_source_columns(inputs, chunk_size, getattr(model, "alphabet", None), allow_empty=allow_empty)


def _model_caller(model: Any, batch_size: int, dim: int, stats: EmbedStats) -> Callable[[list, list], np.ndarray]:
    """``call(seqs, ids) -> (n, D)``: passes ``batch_size``/``ids`` where the model accepts them,
    checks the shape and counts the call in ``stats``."""
    fn = model.embed_sequences
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        params = {}
    kwargs = {"batch_size": batch_size} if "batch_size" in params else {}

    def call(seqs: list[str], ids: list[str]) -> np.ndarray:
        out = np.asarray(fn(seqs, ids=ids, **kwargs) if "ids" in params else fn(seqs, **kwargs))
        stats.model_calls += 1
        if out.shape != (len(seqs), dim):
            raise ConfigError(f"model.embed_sequences returned shape {out.shape} for {len(seqs)} "
                              f"sequences; expected ({len(seqs)}, {dim})")
        return out

    return call


def rows_within_budget(dim: int, itemsize: int) -> int:
    """How many embedding rows of ``dim`` values of ``itemsize`` bytes fit in
    :data:`ROW_BYTES_BUDGET` (at least 1): the cap on a chunk's and a pending segment's rows, so
    that memory stays bounded however wide the embedding (a net's 64-256 values or
    kmer-linear's TF-IDF row)."""
    return max(1, ROW_BYTES_BUDGET // max(1, int(dim) * int(itemsize)))


def _cached_rows(writer: CacheWriter | None, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (n, D) with the rows the cache holds; returns the positions it lacks (int64)."""
    if writer is None:
        return np.arange(len(keys))
    rows = writer.lookup(keys)
    hit = rows >= 0
    if hit.any():
        out[hit] = writer.read(rows[hit])
    return np.flatnonzero(~hit)


def _first_occurrences(keys: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``todo``: the positions in ``missing`` that first show each key, in input order (what the model
    computes); ``source``: for each position in ``missing``, the index in ``todo`` of its key."""
    _, first, inverse = np.unique(keys[missing], return_index=True, return_inverse=True)
    order = np.argsort(first)  # unique key -> rank of its first occurrence
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return missing[first[order]], rank[inverse.reshape(-1)]


def _compute(call: Callable, chunk: EmbeddingBatch, seqs: list[str], todo: np.ndarray, out: np.ndarray,
             batch_size: int, writer: CacheWriter | None, bar: Any) -> None:
    """Run the model on the records ``todo`` of ``chunk``, ``batch_size`` at a time, into ``out``
    (len(todo), D); each batch goes to the cache at once, so a kill loses at most a segment."""
    for lo in range(0, len(todo), batch_size):
        sel = todo[lo:lo + batch_size]
        ids = [chunk.ids[i] for i in sel]
        out[lo:lo + len(sel)] = call([seqs[i] for i in sel], ids)
        if writer is not None:
            writer.write(EmbeddingBatch(ids, chunk.keys[sel], out[lo:lo + len(sel)]))
        bar.update(len(sel))


class _NoBar:
    """What :func:`iter_embed` uses of a tqdm bar, doing nothing (tqdm.auto costs ~0.1 s to import:
    a cached rerun of a small shard should not pay it for a bar it does not show)."""

    def update(self, n: int) -> None:
        pass


def _progress_bar(progress: bool) -> contextlib.AbstractContextManager:
    if not progress:
        return contextlib.nullcontext(_NoBar())
    from tqdm.auto import tqdm

    return tqdm(desc="embed", unit="seq", dynamic_ncols=True)


def iter_embed(
    model: Any,
    inputs: Any,
    cache: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 256,
    dtype: str = "float32",
    compression: str | None = None,
    allow_multiple_models: bool = False,
    chunk_size: int = CHUNK_SIZE,
    segment_rows: int = 8192,
    flush_seconds: float = 60.0,
    progress: bool = False,
    stats: EmbedStats | None = None,
    allow_empty: bool = False,
    device: str | None = None,
    threads: int | None = None,
) -> Iterator[EmbeddingBatch]:
    """Stream embeddings chunk by chunk, in input order (see :func:`embed` for arguments).

    Memory stays flat in the input size: only one chunk of ``chunk_size``
    records (fewer when their rows would pass :data:`ROW_BYTES_BUDGET`; the same cap
    applies to ``segment_rows``) and the cache's key index (16 bytes per cached row)
    are held.
    Values are those the cache stores (``dtype``), computed or read.
    """
    check_options(dtype, compression)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    model = as_model(model, cache, device, threads)
    attrs = model_attrs(model)
    fp, dim = attrs["model_fingerprint"], attrs["embedding_dim"]
    rows = rows_within_budget(dim, np.dtype(dtype).itemsize)
    chunk_size, segment_rows = min(chunk_size, rows), min(segment_rows, rows)
    stats = stats if stats is not None else EmbedStats()
    call = _model_caller(model, batch_size, dim, stats)
    cache_writer = contextlib.nullcontext() if cache is None else CacheWriter(
        cache, attrs, dtype=dtype, compression=compression, allow_multiple_models=allow_multiple_models,
        segment_rows=segment_rows, flush_seconds=flush_seconds)
    # a clean end commits the cache; an error keeps its complete rows as a segment (AtomicWriter)
    with cache_writer as writer, _progress_bar(progress) as bar:
        out_dtype = writer.dtype if writer is not None else np.dtype(dtype)
        for ids, seqs in _iter_input(model, inputs, chunk_size, allow_empty):
            chunk = EmbeddingBatch(ids, sequence_keys(fp, seqs, normalised=True), np.empty((len(ids), dim), out_dtype))
            missing = _cached_rows(writer, chunk.keys, chunk.embeddings)
            todo, source = _first_occurrences(chunk.keys, missing)
            computed = np.empty((len(todo), dim), out_dtype)
            _compute(call, chunk, seqs, todo, computed, batch_size, writer, bar)
            chunk.embeddings[missing] = computed[source]
            if writer is not None and len(todo) < len(ids):  # ids of cached or repeated sequences
                rest = np.setdiff1d(np.arange(len(ids)), todo, assume_unique=True)
                writer.add_aliases([ids[i] for i in rest], chunk.keys[rest])
            stats.add_chunk(len(ids), len(missing), len(todo))
            stats.model_loaded = getattr(model, "loaded", True)
            bar.update(len(ids) - len(todo))
            yield chunk


def embed(
    model: Any,
    inputs: Any,
    cache: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 256,
    dtype: str = "float32",
    per_position: bool = False,
    compression: str | None = None,
    allow_multiple_models: bool = False,
    progress: bool = False,
    stats: EmbedStats | None = None,
    allow_empty: bool = False,
    device: str | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Embeddings of every input record, in input order.

    Args:
        model: a bundle path (loaded only if something must be computed) or a
            loaded model (see the module doc for the duck type).
        inputs: a sequence file path (FASTA/FASTQ/GenBank/EMBL, optionally
            gzip/bzip2), a list of paths, ``"-"`` for stdin, a sequence string, a
            list of sequence strings (ids ``seq0``, ``seq1``...), an iterable of
            records (``SequenceItem``, ``SeqRecord`` or ``(id, seq)`` tuples) or a
            pandas DataFrame (``id``, ``sequence``): see :func:`bioseq.io.sources.iter_source`.
        cache: an HDF5 cache file (created if absent); None computes everything.
        batch_size: sequences per model call.
        dtype: ``"float32"`` or ``"float16"``: storage dtype of a new cache group
            and dtype of the result (an existing group must match).
        per_position: return per-position embeddings instead, a list of arrays
            (T_i, D), not cached; only for models with ``embed_positions`` and
            meant for short inputs (all of it is held in memory).
        compression: ``none|lzf|gzip`` for the cache's main file when it is
            written; None keeps the existing file's (``none`` for a new one).
        allow_multiple_models: allow adding this model's group to a cache that
            already holds another model's (otherwise CacheError).
        progress: show a tqdm progress bar on stderr.
        stats: an :class:`EmbedStats` to fill in.
        allow_empty: a file without records gives zero rows instead of
            :class:`~bioseq.errors.EmptyInputError` (meant for a workflow's
            shards, which are empty when an input has fewer records than shards).
        device: where to load a bundle given as a path (``cpu`` by default,
            ``cuda``, ``auto``); a loaded model stays where it is.

    Returns:
        ``(n, D)`` array of ``dtype`` (or a list of (T_i, D) with ``per_position``).
    """
    model = as_model(model, cache, device)
    if per_position:
        return _embed_positions(getattr(model, "model", model), inputs, cache, dtype, allow_empty)
    parts = list(iter_embed(model, inputs, cache, batch_size=batch_size, dtype=dtype, compression=compression,
                            allow_multiple_models=allow_multiple_models, progress=progress, stats=stats,
                            allow_empty=allow_empty))
    if not parts:
        return np.empty((0, int(model.embedding_dim)), dtype=dtype)
    return np.concatenate([p.embeddings for p in parts])


def _embed_positions(model: Any, inputs: Any, cache: Any, dtype: str, allow_empty: bool = False) -> list[np.ndarray]:
    check_options(dtype)
    fn = getattr(model, "embed_positions", None)
    if fn is None:
        arch = getattr(model, "arch", type(model).__name__)
        raise ConfigError(
            f"per-position embeddings are not supported by the {arch!r} architecture (the model has no "
            "embed_positions()); use per_position=False for pooled (n, D) embeddings")
    if cache is not None:
        raise ConfigError("per-position embeddings are not cached; call embed(..., per_position=True) "
                          "without cache")
    out: list[np.ndarray] = []
    for _ids, seqs in _iter_input(model, inputs, CHUNK_SIZE, allow_empty):
        out.extend(np.asarray(a, dtype=dtype) for a in fn(seqs))
    return out


class ExportWriter(AtomicWriter):
    """Write a standalone HDF5 file of embeddings in input order, atomically (an :class:`AtomicWriter`).

    ``write(EmbeddingBatch)`` appends rows; ``close()`` renames the complete
    file into place, ``abort()`` deletes it. Layout (root of the file):
    ``embeddings`` (n, D), ``ids`` (n,) str, ``keys`` (n,) S16, and the
    attributes of a cache group plus ``format``/``kind="export"``.
    :class:`~bioseq.embed.cache.EmbeddingCache` reads it, and ``bioseq cache
    merge`` accepts it as an input.
    """

    def __init__(self, path: str | os.PathLike[str], attrs: dict[str, Any], dtype: str = "float32",
                 compression: str = "none") -> None:
        check_options(dtype, compression)
        self.path, self.n = Path(path), 0
        self._tmp = atomic_path(self.path)
        self._f = h5py.File(self._tmp.__enter__(), "w", locking=False)
        try:
            _write_root_attrs(self._f, "export")
            _set_group_attrs(self._f, {**attrs, "dtype": dtype})
            _create_datasets(self._f, 0, int(attrs["embedding_dim"]), np.dtype(dtype), compression)
        except BaseException:
            self.abort()
            raise

    def write(self, batch: EmbeddingBatch) -> None:
        """Append ``batch`` (m rows) after the rows written so far."""
        for name in ("embeddings", "keys", "ids"):
            self._f[name].resize(self.n + len(batch.keys), axis=0)
        _write_rows(self._f, self.n, batch)
        self.n += len(batch.keys)

    def _commit(self) -> None:
        seal_ids(self._f)
        self._f.close()
        self._tmp.__exit__(None, None, None)  # fsync and rename into place

    def _discard(self) -> None:
        self._f.close()
        aborted = CacheError("export aborted", path=self.path)
        self._tmp.__exit__(CacheError, aborted, None)  # atomic_path deletes the temp file


def embed_to_file(
    model: Any,
    inputs: Any,
    output: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 256,
    dtype: str = "float32",
    compression: str | None = None,
    allow_multiple_models: bool = False,
    progress: bool = False,
    allow_empty: bool = False,
    device: str | None = None,
    threads: int | None = None,
) -> EmbedStats:
    """Embed ``inputs`` into ``cache`` and/or a standalone ``output`` file (what ``bioseq embed`` does).

    ``model`` may be a bundle path: its weights are loaded (on ``device``, with
    ``threads`` CPU threads) only if some row is not in the cache, so a fully
    cached rerun, ``output`` included, neither imports torch nor reads the weights.

    Streams: memory does not grow with the input. ``compression`` applies to
    both files (``none`` for the export when None). Returns the run's stats.
    With ``allow_empty`` an input file without records writes a valid cache
    and/or export with zero rows (``bioseq cache merge`` accepts them) instead
    of raising :class:`~bioseq.errors.EmptyInputError`.
    """
    if output is None and cache is None:
        raise ConfigError("nothing to write: give a cache (--cache) and/or an output file (-o)")
    check_options(dtype, compression)
    stats = EmbedStats()
    model = as_model(model, cache, device, threads)
    chunks = iter_embed(model, inputs, cache, batch_size=batch_size, dtype=dtype, compression=compression,
                        allow_multiple_models=allow_multiple_models, progress=progress, stats=stats,
                        allow_empty=allow_empty)
    if output is None:
        for _ in chunks:
            pass
        return stats
    with ExportWriter(output, model_attrs(model), dtype=dtype, compression=compression or "none") as w:
        for chunk in chunks:
            w.write(chunk)
    return stats

"""Embed sequences: pooled per-sequence vectors (the input of the classification head).

``embed(model, inputs, cache=...)`` reads the input in chunks, asks the cache
which content keys it already holds, runs the model only on the missing
*unique* sequences (a sequence repeated under several ids is computed once),
adds those rows to the cache and returns one row per input record, in input
order. Returned values are always the stored values (float16 when the cache
stores float16), so a cold run and a cached rerun return identical arrays.

The model is a duck type (what :func:`bioseq.load` returns):
``fingerprint: str``, ``embedding_dim: int``, ``tokenizer`` with ``config()``,
``alphabet``, ``embed_sequences(seqs) -> float32 (n, D)``; optionally
``embed_positions(seqs) -> list of (T_i, D)`` for per-position embeddings.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq.embed.cache import (
    FORMAT,
    FORMAT_VERSION,
    KEY_DTYPE,
    CacheWriter,
    _create_datasets,
    _now,
    check_options,
    sequence_keys,
)
from bioseq.errors import ConfigError
from bioseq.io.atomic import atomic_path

CHUNK_SIZE = 4096  # records read and looked up at once

__all__ = ["EmbedStats", "EmbeddedChunk", "embed", "embed_to_file", "iter_embed", "model_attrs"]


@dataclass
class EmbedStats:
    """What a run did: ``n_inputs`` records, of which ``n_cached`` came from the cache,
    ``n_computed`` were run through the model (in ``model_calls`` calls) and
    ``n_duplicates`` repeated a sequence computed earlier in the same chunk."""

    n_inputs: int = 0
    n_cached: int = 0
    n_computed: int = 0
    n_duplicates: int = 0
    model_calls: int = 0
    segments_written: list[str] = field(default_factory=list)


@dataclass
class EmbeddedChunk:
    """One chunk of results: ``ids`` (m,), ``keys`` S16 (m,), ``embeddings`` (m, D)."""

    ids: list[str]
    keys: np.ndarray
    embeddings: np.ndarray


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
    from bioseq.io.sources import iter_source_columns

    return iter_source_columns(inputs, chunk_size, getattr(model, "alphabet", None), allow_empty=allow_empty)


def _model_caller(model: Any, batch_size: int) -> Callable[[list[str], list[str]], np.ndarray]:
    """``call(seqs, ids) -> (n, D)``; passes ``batch_size``/``ids`` where the model accepts them."""
    fn = model.embed_sequences
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        params = {}
    kwargs = {"batch_size": batch_size} if "batch_size" in params else {}
    with_ids = "ids" in params

    def call(seqs: list[str], ids: list[str]) -> np.ndarray:
        out = fn(seqs, ids=ids, **kwargs) if with_ids else fn(seqs, **kwargs)
        return np.asarray(out)

    return call


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
) -> Iterator[EmbeddedChunk]:
    """Stream embeddings chunk by chunk, in input order (see :func:`embed` for arguments).

    Memory stays flat in the input size: only one chunk of ``chunk_size``
    records and the cache's key index (16 bytes per cached row) are held.
    """
    check_options(dtype, compression)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    attrs = model_attrs(model)
    fp, dim = attrs["model_fingerprint"], attrs["embedding_dim"]
    stats = stats if stats is not None else EmbedStats()
    call = _model_caller(model, batch_size)
    writer = None
    if cache is not None:
        writer = CacheWriter(
            cache, fingerprint=fp, embedding_dim=dim, tokenizer_config=json.loads(attrs["tokenizer_config"]),
            dtype=dtype, compression=compression, allow_multiple_models=allow_multiple_models,
            segment_rows=segment_rows, flush_seconds=flush_seconds,
            extra_attrs={k: v for k, v in attrs.items() if k == "arch"},
        )
    out_dtype = writer.dtype if writer is not None else np.dtype(dtype)
    from tqdm.auto import tqdm

    bar = tqdm(desc="embed", unit="seq", disable=not progress, dynamic_ncols=True)
    completed = False
    try:
        for ids, seqs in _iter_input(model, inputs, chunk_size, allow_empty):
            keys = sequence_keys(fp, seqs, normalised=True)
            rows = writer.lookup(keys) if writer is not None else np.full(len(keys), -1, np.int64)
            missing = np.flatnonzero(rows < 0)
            uniq, first, inverse = np.unique(keys[missing], return_index=True, return_inverse=True)
            todo = missing[np.sort(first)]  # first occurrence of each missing sequence, input order
            computed = np.empty((len(todo), dim), dtype=out_dtype)
            for lo in range(0, len(todo), batch_size):
                sel = todo[lo:lo + batch_size]
                emb = call([seqs[i] for i in sel], [ids[i] for i in sel])
                stats.model_calls += 1
                if emb.shape != (len(sel), dim):
                    raise ConfigError(f"model.embed_sequences returned shape {emb.shape} for {len(sel)} "
                                      f"sequences; expected ({len(sel)}, {dim})")
                computed[lo:lo + len(sel)] = emb
                if writer is not None:
                    writer.add(keys[sel], [ids[i] for i in sel], computed[lo:lo + len(sel)])
                bar.update(len(sel))
            if writer is not None:
                if len(missing):
                    rows[missing] = writer.lookup(keys[missing])
                out = writer.read(rows)
            else:
                out = np.empty((len(keys), dim), dtype=out_dtype)
                present = np.ones(len(keys), bool)
                present[missing] = False
                # map each missing position to the computed row of its key
                order = np.argsort(first)  # unique-key index -> rank in todo
                rank = np.empty_like(order)
                rank[order] = np.arange(len(order))
                out[missing] = computed[rank[inverse.reshape(-1)]]
            stats.n_inputs += len(keys)
            stats.n_cached += len(keys) - len(missing)
            stats.n_computed += len(todo)
            stats.n_duplicates += len(missing) - len(todo)
            bar.update(len(keys) - len(todo))
            yield EmbeddedChunk(ids, keys, out)
        completed = True
    finally:
        bar.close()
        if writer is not None:
            # a completed run leaves a cache file even with zero rows (an empty shard)
            writer.close(create=completed)
            stats.segments_written = [os.fspath(p) for p in writer.segments_written]


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
) -> np.ndarray | list[np.ndarray]:
    """Embeddings of every input record, in input order.

    Args:
        model: a loaded model (see the module doc for the duck type).
        inputs: a sequence file path (FASTA/FASTQ/GenBank/EMBL, optionally
            gzip/bzip2), a list of paths, ``"-"`` for stdin, or an iterable of
            records (``SequenceItem``, ``SeqRecord`` or ``(id, seq)`` tuples).
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

    Returns:
        ``(n, D)`` array of ``dtype`` (or a list of (T_i, D) with ``per_position``).
    """
    if per_position:
        return _embed_positions(model, inputs, cache, dtype, allow_empty)
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


class ExportWriter:
    """Write a standalone HDF5 file of embeddings in input order, atomically.

    Layout (root of the file): ``embeddings`` (n, D), ``ids`` (n,) str,
    ``keys`` (n,) S16, and the attributes of a cache group plus
    ``format``/``kind="export"``. :class:`~bioseq.embed.cache.EmbeddingCache`
    reads it, and ``bioseq cache merge`` accepts it as an input.
    """

    def __init__(self, path: str | os.PathLike[str], attrs: dict[str, Any], dtype: str = "float32",
                 compression: str = "none") -> None:
        check_options(dtype, compression)
        self.path = Path(path)
        self.attrs = {**attrs, "dtype": dtype}
        self.dtype, self.compression, self.n = np.dtype(dtype), compression, 0
        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        try:
            self._f = h5py.File(tmp, "w", locking=False)
            f = self._f
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["kind"] = "export"
            for k, v in self.attrs.items():
                f.attrs[k] = v
            from bioseq._version import __version__

            f.attrs["bioseq_version"] = __version__
            f.attrs["created"] = _now()
            _create_datasets(f, 0, int(attrs["embedding_dim"]), self.dtype, compression)
        except BaseException as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def write(self, ids: Sequence[str], keys: np.ndarray, embeddings: np.ndarray) -> None:
        m = len(ids)
        lo, hi = self.n, self.n + m
        for name in ("embeddings", "keys", "ids"):
            self._f[name].resize(hi, axis=0)
        self._f["embeddings"][lo:hi] = embeddings
        self._f["keys"][lo:hi] = np.asarray(keys, dtype=KEY_DTYPE)
        self._f["ids"][lo:hi] = np.asarray(ids, dtype=object)
        self.n = hi

    def close(self, exc: BaseException | None = None) -> None:
        self._f.close()
        if exc is None:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> ExportWriter:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)


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
) -> EmbedStats:
    """Embed ``inputs`` into ``cache`` and/or a standalone ``output`` file (what ``bioseq embed`` does).

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
    chunks = iter_embed(model, inputs, cache, batch_size=batch_size, dtype=dtype, compression=compression,
                        allow_multiple_models=allow_multiple_models, progress=progress, stats=stats,
                        allow_empty=allow_empty)
    if output is None:
        for _ in chunks:
            pass
        return stats
    with ExportWriter(output, model_attrs(model), dtype=dtype, compression=compression or "none") as w:
        for chunk in chunks:
            w.write(chunk.ids, chunk.keys, chunk.embeddings)
    return stats

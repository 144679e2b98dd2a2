"""Writing a cache crash-safely: whole new files, journal segments, folding, :class:`CacheWriter`.

No file is modified after it is renamed into place; see :mod:`bioseq.embed.cache`
for the segment/fold protocol and the locking between parallel writers.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq.embed.cache_format import (
    KEY_DTYPE,
    _create_datasets,
    _list_segments,
    _set_group_attrs,
    _write_root_attrs,
    check_options,
    parts_dir,
)
from bioseq.embed.cache_lock import _Lock
from bioseq.embed.cache_sources import _H5Source, _MemorySource, _open_h5, _sources_in_file
from bioseq.embed.cache_view import _Opened, _View
from bioseq.errors import CacheError
from bioseq.io.atomic import atomic_path

# ----------------------------------------------------------------------------- writing files, folding


def _write_view(f: h5py.File, view: _View, compression: str | None) -> int:
    """Write all rows of ``view`` as ``/models/<fingerprint>``; returns the row count.

    When the first source is a whole group of an existing file with the wanted
    compression, it is copied with ``H5Ocopy`` (raw chunks, no re-compression)
    and the other rows appended, so folding a few new rows into a big gzip
    cache does not recompress it.
    """
    name = f"models/{view.fingerprint}"
    n = len(view)
    first = view.sources[0] if view.sources else None
    target = compression or (first.compression if first is not None else "none")
    copied = 0
    if (isinstance(first, _H5Source) and first.group is not None and first.unique_keys
            and first.compression == target
            and len(view.kept[0]) == len(first) and first.group["embeddings"].maxshape[0] is None
            and first.group["ids"].maxshape[0] is None and first.group["keys"].maxshape[0] is None):
        f.copy(first.group, name)
        g = f[name]
        copied = len(first)
        for ds in ("embeddings", "keys", "ids"):
            g[ds].resize(n, axis=0)
    else:
        g = f.require_group(name)
        _create_datasets(g, n, view.dim, view.dtype, target)
    _set_group_attrs(g, view.attrs)
    pos = copied
    emb_ds, keys_ds, ids_ds = g["embeddings"], g["keys"], g["ids"]
    for keys, ids, emb in view.iter_parts(first_source=1 if copied else 0):
        m = len(keys)
        emb_ds[pos:pos + m] = emb
        keys_ds[pos:pos + m] = keys
        ids_ds[pos:pos + m] = np.asarray(ids, dtype=object)
        pos += m
    if pos != n:  # pragma: no cover - an internal invariant
        raise AssertionError(f"wrote {pos} rows of {n}")
    return n


def _write_cache_file(dest: Path, views: Iterable[_View], compression: str | None) -> dict[str, int]:
    """Write ``views`` as one new cache file at ``dest`` atomically (temp file + rename)."""
    counts = {}
    with atomic_path(dest) as tmp:
        with h5py.File(tmp, "w", locking=False) as f:
            _write_root_attrs(f, "cache")
            f.require_group("models")
            for view in views:
                counts[view.fingerprint] = _write_view(f, view, compression)
    return counts


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files of killed writers (call with the exclusive lock: no writer is running)."""
    d = parts_dir(path)
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(d):
            if name.startswith(".") and name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    (d / name).unlink()
    prefix = f".{path.name}."  # atomic_path's temp names: .<name>.<random, no dots>.tmp
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(path.parent):
            if name.startswith(prefix) and name.endswith(".tmp") and "." not in name[len(prefix):-4]:
                with contextlib.suppress(FileNotFoundError):
                    (path.parent / name).unlink()


def _fold_locked(path: Path, compression: str | None = None, force: bool = False) -> bool:
    """Fold complete segments into a new main file; caller holds the exclusive lock.

    Returns True when the main file was rewritten.
    """
    _remove_stale_temps(path)
    if not _list_segments(path) and not (force and path.exists()):
        return False
    opened = _Opened(path, missing_ok=True)
    try:
        _write_cache_file(path, opened.views.values(), compression or opened.root_compression())
        segments = opened.segments
    finally:
        opened.close()
    _fsync_dir(path.parent)
    for seg in segments:
        with contextlib.suppress(FileNotFoundError):
            seg.unlink()
    with contextlib.suppress(OSError):
        parts_dir(path).rmdir()
    return True


def compact(path: str | os.PathLike[str], compression: str | None = None) -> bool:
    """Fold journal segments into the main file (waits for running writers).

    With ``compression`` the file is rewritten with that compression even when
    there is nothing to fold. Returns True when the file was rewritten.
    """
    check_options(compression=compression)
    path = Path(path)
    if not path.exists() and not _list_segments(path):
        raise CacheError("no embedding cache here", path=path)
    lock = _Lock(path, create=True)
    try:
        lock.acquire(exclusive=True)
        changed = _fold_locked(path, compression, force=compression is not None)
        lock.remove()
        return changed
    finally:
        lock.release()
        lock.close()


# ----------------------------------------------------------------------------- the writer used by embed()


class CacheWriter:
    """Look up and add rows of one model in a cache, crash-safely (see the module doc).

    Use as a context manager. On exit pending rows are written to a segment
    (also after an exception: the rows computed so far are valid), the shared
    lock is released, and the segments are folded into the main file if no
    other writer is running.

    Args:
        path: the cache file.
        fingerprint: the model fingerprint (sha256 hex).
        embedding_dim: D.
        tokenizer_config: the model tokenizer's ``config()``; stored as JSON and
            checked against the cache.
        dtype: storage dtype of a new group; an existing group must match.
        compression: ``none|lzf|gzip`` for the main file when it is (re)written;
            ``None`` keeps the existing file's.
        allow_multiple_models: when False (default), adding a model to a cache that
            already holds another model's group is a CacheError (usually a wrong
            ``--cache`` path); the groups never mix either way.
        segment_rows, flush_seconds: write a segment after this many new rows or
            seconds, bounding the work a kill can lose.
        extra_attrs: more group attributes for a new group (e.g. ``arch``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fingerprint: str,
        embedding_dim: int,
        tokenizer_config: dict[str, Any] | None = None,
        dtype: str = "float32",
        compression: str | None = None,
        allow_multiple_models: bool = False,
        segment_rows: int = 8192,
        flush_seconds: float = 60.0,
        extra_attrs: dict[str, Any] | None = None,
    ) -> None:
        check_options(dtype, compression)
        self.path = Path(path)
        if self.path.is_dir():
            raise CacheError("is a directory, not an embedding cache", path=self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.compression = compression
        self.segment_rows = max(1, int(segment_rows))
        self.flush_seconds = flush_seconds
        self.n_added = 0
        self.segments_written: list[Path] = []
        attrs = {
            "model_fingerprint": fingerprint,
            "tokenizer_config": json.dumps(tokenizer_config or {}, sort_keys=True),
            "embedding_dim": int(embedding_dim),
            "dtype": dtype,
            **(extra_attrs or {}),
        }
        self._lock = _Lock(self.path, create=True)
        self._opened: _Opened | None = None
        try:
            if self._lock.acquire(exclusive=True, blocking=False):
                _fold_locked(self.path)  # leftovers of a killed run
            self._lock.acquire(exclusive=False)  # downgrade (or wait for a folding writer)
            self._opened = _Opened(self.path, missing_ok=True)
            others = sorted(set(self._opened.views) - {fingerprint})
            if others and fingerprint not in self._opened.views and not allow_multiple_models:
                raise CacheError(
                    f"this cache holds embeddings of another model ({', '.join(o[:12] for o in others)}), "
                    f"not of {fingerprint[:12]}; use another cache file, or allow several models in one "
                    "cache (allow_multiple_models=True / --allow-multiple-models)", path=self.path)
            view = self._opened.views.get(fingerprint)
            if view is None:
                view = _View(attrs)
                self._opened.views[fingerprint] = view
            else:
                try:
                    view.check_compatible(attrs, "this run", self.path)
                except CacheError as exc:
                    raise CacheError(exc.message, path=self.path) from None
            self.view = view
            self._attrs = view.attrs
            self._pending = 0  # number of in-memory sources at the tail of the view
            self._pending_rows = 0
            self._last_flush = time.monotonic()
        except BaseException:
            self._release()
            raise

    @property
    def dtype(self) -> np.dtype:
        return self.view.dtype

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key in the cache (incl. rows added in this run), -1 where absent."""
        return self.view.lookup(keys)

    def read(self, rows: np.ndarray) -> np.ndarray:
        return self.view.read(rows)

    def add(self, keys: np.ndarray, ids: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """Add rows whose keys are new (unique, absent); returns their global rows."""
        emb = np.ascontiguousarray(embeddings, dtype=self.view.dtype)
        if emb.shape != (len(keys), self.view.dim):
            raise CacheError(f"embeddings of shape {emb.shape} for {len(keys)} keys of dim {self.view.dim}",
                             path=self.path)
        base = len(self.view)
        added = self.view.add_source(_MemorySource(np.asarray(keys, KEY_DTYPE), ids, emb, self._attrs))
        if added != len(keys):  # pragma: no cover - caller's contract
            raise AssertionError("CacheWriter.add got keys already in the cache")
        self._pending += 1
        self._pending_rows += added
        self.n_added += added
        overdue = time.monotonic() - self._last_flush > self.flush_seconds
        if self._pending_rows >= self.segment_rows or overdue:
            self.flush()
        return np.arange(base, base + added, dtype=np.int64)

    def flush(self) -> None:
        """Write pending rows as one complete segment file (temp name, then rename)."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        tail = _View(self._attrs)
        for src in self.view.sources[-self._pending:]:
            tail.add_source(src)
        seg = parts_dir(self.path) / f"{time.time_ns():020d}-{uuid.uuid4().hex}.h5"
        seg.parent.mkdir(exist_ok=True)
        _write_cache_file(seg, [tail], "none")
        with _open_h5(seg) as f:
            (src,) = _sources_in_file(f, seg, keep_open=False)
        self.view.replace_tail(self._pending, src)
        self.segments_written.append(seg)
        self._pending = 0
        self._pending_rows = 0

    def _release(self) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None
        self._lock.release()

    def close(self, fold: bool = True, *, create: bool = False) -> None:
        """Write pending rows, release the lock and fold when no other writer runs.

        ``create``: when the cache still does not exist after folding (the run
        added no rows, e.g. an empty shard), write one holding this model's
        group with zero rows, so a finished run always leaves a cache that
        :class:`EmbeddingCache` opens and ``bioseq cache merge`` accepts. Pass it
        only for a run that completed (a failed run should leave no new file).
        """
        try:
            if self._opened is not None:
                self.flush()
        finally:
            self._release()
            try:
                if fold and self._lock.acquire(exclusive=True, blocking=False):
                    try:
                        _fold_locked(self.path, self.compression)
                        if create and not self.path.exists():
                            _write_cache_file(self.path, [_View(self._attrs)], self.compression or "none")
                        self._lock.remove()  # no writer runs: leave no stray .lock file
                    finally:
                        self._lock.release()
            finally:
                self._lock.close()

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

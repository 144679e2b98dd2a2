"""Writing a cache crash-safely: :class:`CacheWriter`, :func:`compact`, :func:`merge_caches`.

No file is modified after it is renamed into place (HDF5 is not crash-safe
when modified in place): a run writes its new rows to journal segments
``<cache>.parts/*.h5``, each complete when renamed, and at the end the main file
and the segments are written as a new main file that replaces the old one
(``os.replace``), after which the segments are deleted. Writers of one cache
take turns through an exclusive ``flock``; parallel jobs write one cache each
and :func:`merge_caches` combines them. See docs/EMBEDDINGS.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq.embed.cache_format import (
    KEY_DTYPE,
    EmbeddingBatch,
    _create_datasets,
    _H5Source,
    _list_segments,
    _MemorySource,
    _open_h5,
    _set_group_attrs,
    _sources_in_file,
    _write_root_attrs,
    _write_rows,
    check_options,
    lock_path,
    parts_dir,
    seal_ids,
    write_aliases,
)
from bioseq.embed.cache_view import _Opened, _View
from bioseq.errors import CacheError, DamagedCacheError
from bioseq.io.atomic import AtomicWriter, atomic_path, remove_stale_temps

try:  # POSIX only; elsewhere one writer per cache is the user's job
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["CacheCheck", "CacheWriter", "compact", "merge_caches", "repair_cache", "verify_cache"]


class _WriterLock:
    """An exclusive ``flock`` on ``<cache>.lock`` for a writer's whole run: writers of one cache take turns.

    The lock file is deleted on release, so none is left behind. A waiter may
    then hold the lock of the deleted file; it notices (the path no longer has
    that inode) and locks the new one. The kernel drops the lock of a killed process.
    """

    def __init__(self, cache: Path) -> None:
        self.path = lock_path(cache)
        self.fd: int | None = None
        while fcntl is not None and self.fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise CacheError(f"cannot create the lock file {self.path}: {exc}", path=cache) from exc
            fcntl.flock(fd, fcntl.LOCK_EX)
            with contextlib.suppress(FileNotFoundError):
                st, fst = os.stat(self.path), os.fstat(fd)
                if (st.st_ino, st.st_dev) == (fst.st_ino, fst.st_dev):
                    self.fd = fd
                    break
            os.close(fd)

    def release(self) -> None:
        """Delete the lock file, then unlock (closing the descriptor unlocks)."""
        if self.fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> _WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ----------------------------------------------------------------------------- whole files


def _write_view(f: h5py.File, view: _View, compression: str, aliases: Aliases | None = None) -> int:
    """Write all rows of ``view`` as ``/models/<fingerprint>``; returns the row count.

    The alias table written is ``aliases`` when given (a segment: its pending
    aliases as they are), else the view's effective aliases (:meth:`_View.aliases`).

    When the first source is a whole group of an existing file with the wanted
    compression, it is copied with ``H5Ocopy`` (raw chunks, no re-compression)
    and the other rows appended, so folding a few new rows into a big gzip
    cache does not recompress it.
    """
    name, n = f"models/{view.fingerprint}", len(view)
    first = view.sources[0] if view.sources else None
    copied = 0
    if (first is not None and first.group is not None and first.unique_keys and first.compression == compression
            and first.checksummed and len(view.kept[0]) == len(first)):
        f.copy(first.group, name)
        copied = len(first)
        for ds in ("embeddings", "keys", "ids"):
            f[name][ds].resize(n, axis=0)
    else:
        _create_datasets(f.require_group(name), n, view.dim, view.dtype, compression)
    g = f[name]
    _set_group_attrs(g, view.attrs)
    pos = copied
    for batch in view.iter_parts(first_source=1 if copied else 0):
        _write_rows(g, pos, batch)
        pos += len(batch.keys)
    if pos != n:  # pragma: no cover - an internal invariant
        raise AssertionError(f"wrote {pos} rows of {n}")
    seal_ids(g)
    if aliases is None:
        aliases = view.aliases() if view.has_aliases() else _NO_ALIASES
    write_aliases(g, *aliases)
    return n


Aliases = tuple[np.ndarray, np.ndarray]  # (ids (m,) object, keys (m,) S16)
_NO_ALIASES: Aliases = (np.empty(0, dtype=object), np.empty(0, dtype=KEY_DTYPE))


def _write_cache_file(
    dest: Path, views: Iterable[_View], compression: str, aliases: Aliases | None = None
) -> dict[str, int]:
    """Write ``views`` as one new cache file at ``dest`` atomically (temp file + rename); rows per model.
    ``aliases``: the alias table of a segment's one view (default: each view's effective aliases)."""
    with atomic_path(dest) as tmp, h5py.File(tmp, "w", locking=False) as f:
        _write_root_attrs(f, "cache")
        f.require_group("models")
        return {view.fingerprint: _write_view(f, view, compression, aliases) for view in views}


def _replace_main(path: Path, views: Iterable[_View], compression: str) -> dict[str, int]:
    """Write ``views`` as the new main file of ``path``, then delete its journal; hold its lock.

    Every complete segment is in ``views`` (the lock keeps other writers out),
    so the whole ``.parts`` folder goes, with the temp files of killed writers.
    A crash before the deletion leaves segments that repeat main-file rows:
    readers drop those.
    """
    counts = _write_cache_file(path, views, compression)
    with contextlib.suppress(OSError):  # make the rename durable before deleting what it replaces
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    shutil.rmtree(parts_dir(path), ignore_errors=True)
    remove_stale_temps(path, any_process=True)  # we hold the cache's exclusive lock
    return counts


# ----------------------------------------------------------------------------- the writer used by embed()


class CacheWriter(AtomicWriter):
    """Look up and add rows of one model in a cache, crash-safely; :class:`~bioseq.io.atomic.AtomicWriter`.

    ``write(EmbeddingBatch)`` adds rows, buffered in memory and written as a
    journal segment every ``segment_rows`` rows or ``flush_seconds`` seconds
    (bounding what a kill loses). ``close()`` writes the rest and replaces the
    main file by one holding everything (a finished run that added nothing to
    a new cache leaves one with zero rows, which readers and merge accept).
    ``abort()`` leaves the main file as it was but keeps the rows computed so
    far as a segment, exactly what a kill would leave plus those rows: a row is
    valid whatever failed later, and the next writer folds it in.

    Args:
        path: the cache file.
        attrs: the model's group attributes (:func:`bioseq.embed.embed.model_attrs`:
            ``model_fingerprint``, ``embedding_dim``, ``tokenizer_config`` JSON, ...).
        dtype: storage dtype of a new group; an existing group must match.
        compression: ``none|lzf|gzip`` for the main file; ``None`` keeps the existing file's.
        allow_multiple_models: when False, adding a model to a cache that holds
            another model's group is a CacheError (usually a wrong ``--cache``).
        segment_rows, flush_seconds: when to write a segment.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        attrs: dict[str, Any],
        *,
        dtype: str = "float32",
        compression: str | None = None,
        allow_multiple_models: bool = False,
        segment_rows: int = 8192,
        flush_seconds: float = 60.0,
    ) -> None:
        check_options(dtype, compression)
        self.path = Path(path)
        if self.path.is_dir():
            raise CacheError("is a directory, not an embedding cache", path=self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.compression, self.segment_rows, self.flush_seconds = compression, max(1, int(segment_rows)), flush_seconds
        self._pending, self._pending_rows, self._last_flush = 0, 0, time.monotonic()
        self._pending_aliases = 0
        self._lock = _WriterLock(self.path)
        self._opened: _Opened | None = None
        try:
            self._opened = _Opened(self.path, missing_ok=True)
            self.view = self._model_view({**attrs, "dtype": dtype}, allow_multiple_models)
        except BaseException:
            self._release()
            raise

    def _model_view(self, attrs: dict[str, Any], allow_multiple_models: bool) -> _View:
        """The view of this model's rows (new and empty if absent), after checking it may be added to."""
        views, fingerprint = self._opened.views, attrs["model_fingerprint"]
        others = sorted(set(views) - {fingerprint})
        if others and fingerprint not in views and not allow_multiple_models:
            raise CacheError(
                f"this cache holds embeddings of another model ({', '.join(o[:12] for o in others)}), "
                f"not of {fingerprint[:12]}; use another cache file, or allow several models in one "
                "cache (allow_multiple_models=True / --allow-multiple-models)", path=self.path)
        if fingerprint not in views:
            views[fingerprint] = _View(attrs)
        try:
            views[fingerprint].check_compatible(attrs, "this run", self.path)
        except CacheError as exc:
            raise CacheError(exc.message, path=self.path) from None
        return views[fingerprint]

    @property
    def dtype(self) -> np.dtype:
        return self.view.dtype

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key in the cache (incl. rows written in this run), -1 where absent; int64 (n,)."""
        return self.view.lookup(keys)

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Embeddings (len(rows), D) of rows from :meth:`lookup`, in the stored dtype."""
        return self.view.read(rows)

    def write(self, batch: EmbeddingBatch) -> None:
        """Add the rows of ``batch`` whose key the cache does not hold yet (a key's row is the same
        whoever computed it, so the first one written stays)."""
        emb = np.ascontiguousarray(batch.embeddings, dtype=self.view.dtype)
        if emb.shape != (len(batch.keys), self.view.dim) or len(batch.ids) != len(batch.keys):
            raise CacheError(f"a batch of {len(batch.ids)} ids, {len(batch.keys)} keys and embeddings of shape "
                             f"{emb.shape} does not fit dim {self.view.dim}", path=self.path)
        src = _MemorySource(EmbeddingBatch(batch.ids, np.asarray(batch.keys, KEY_DTYPE), emb), self.view.attrs)
        added = self.view.add_source(src, dedupe_within=True)
        self._pending_rows += added
        self._pending_aliases += len(batch.keys) - added  # the ids of rows dropped as already held
        self._pending += 1
        self._maybe_flush()

    def add_aliases(self, ids: Sequence[str], keys: np.ndarray) -> None:
        """Record that ``ids`` name the rows of ``keys`` (records whose sequence the cache holds under
        another id, or repeated in the input), so that lookups by these ids find them.

        Only ids the cache cannot resolve yet are kept (the first call reads the cache's ids once):
        a rerun with the same ids adds nothing and rewrites nothing.
        """
        if not len(ids):
            return
        self.view.id_index()
        new = self.view._index_aliases(np.asarray(ids, dtype=object), np.asarray(keys, dtype=KEY_DTYPE))
        if len(new[0]):
            self.view.extra_aliases.append(new)
            self._pending_aliases += len(new[0])
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        if (self._pending_rows + self._pending_aliases >= self.segment_rows
                or time.monotonic() - self._last_flush > self.flush_seconds):
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows and aliases as one complete segment file (temp name, then rename)."""
        self._last_flush = time.monotonic()
        if not self._pending and not self._pending_aliases:
            return
        n, view = self._pending, self.view
        tail = _View(view.attrs)
        parts = []
        for i in range(len(view.sources) - n, len(view.sources)):
            src, kept, dropped = view.sources[i], view.kept[i], view.dropped[i]
            tail.add_source(src, kept)
            if len(dropped):
                parts.append((src.read_ids()[dropped], src.keys[dropped]))
        parts += view.extra_aliases
        aliases = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])) if parts else None
        seg = parts_dir(self.path) / f"{time.time_ns():020d}-{uuid.uuid4().hex}.h5"
        seg.parent.mkdir(exist_ok=True)
        _write_cache_file(seg, [tail], "none", aliases or _NO_ALIASES)
        with _open_h5(seg) as f:
            (src,) = _sources_in_file(f, seg, keep_open=False)
        view.replace_tail(n, src)
        self._pending = self._pending_rows = self._pending_aliases = 0

    def _commit(self) -> None:
        try:
            self.flush()
            if parts_dir(self.path).exists() or not self.path.exists():  # else nothing changed
                compression = self.compression or self._opened.root_compression() or "none"
                _replace_main(self.path, self._opened.sorted_views(), compression)
        finally:
            self._release()

    def _discard(self) -> None:
        try:
            if self._opened is not None:
                self.flush()
        finally:
            self._release()

    def _release(self) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None
        self._lock.release()


# ----------------------------------------------------------------------------- maintenance


def compact(path: str | os.PathLike[str], compression: str | None = None) -> bool:
    """Fold journal segments into the main file (after a running writer finishes).

    With ``compression`` the file is rewritten with that compression even when
    there is nothing to fold. Returns True when the file was rewritten.
    """
    check_options(compression=compression)
    path = Path(path)
    with _WriterLock(path), _Opened(path, missing_ok=False) as opened:
        if not opened.segments and compression is None:
            return False
        _replace_main(path, opened.sorted_views(), compression or opened.root_compression() or "none")
        return True


@dataclass
class CacheCheck:
    """What :func:`verify_cache` or :func:`repair_cache` found.

    Attributes:
        rows: intact rows (all files, before deduplication).
        damaged_rows: rows in chunks that fail their checksum (or cannot be read).
        damaged_aliases: entries of alias tables that fail their checksum or digest.
        damaged_files: files that cannot be opened or whose metadata is damaged
            (their rows are not counted: they cannot be read).
        moved_aside: where :func:`repair_cache` put those files (``<name>.damaged-<n>``).
        unchecked_files: files written before checksums existed (read, but
            their values cannot be verified; the next fold adds checksums).
    """

    rows: int = 0
    damaged_rows: int = 0
    damaged_aliases: int = 0
    damaged_files: list[str] = field(default_factory=list)
    moved_aside: list[str] = field(default_factory=list)
    unchecked_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged_rows and not self.damaged_aliases and not self.damaged_files


def _intact_rows(src: _H5Source) -> np.ndarray:
    """Local rows of ``src`` whose embedding chunk passes its checksum (keys were checked on open)."""
    good = []
    with src._datasets() as (emb, _ids):
        for lo in range(0, len(src), src.chunk_rows):
            hi = min(lo + src.chunk_rows, len(src))
            try:
                emb[lo:hi]
            except OSError:
                continue
            good.append(np.arange(lo, hi, dtype=np.int64))
    if good:
        try:
            src.read_ids()
        except DamagedCacheError:
            return np.empty(0, dtype=np.int64)  # ids unusable: no row of this source can be trusted
    return np.concatenate(good) if good else np.empty(0, dtype=np.int64)


def _scan(path: Path, check: CacheCheck, views: dict[str, _View], files: list[h5py.File]) -> list[Path]:
    """Read every file of the cache, adding intact rows to ``views``; return the damaged files."""
    damaged = []
    for file in ([path] if path.exists() else []) + _list_segments(path):
        try:
            f = _open_h5(file)
            files.append(f)
            sources = _sources_in_file(f, file)
        except DamagedCacheError:
            damaged.append(file)
            check.damaged_files.append(str(file))
            continue
        for src in sources:
            if not src.checksummed:
                check.unchecked_files.append(str(file))
            rows = _intact_rows(src)
            check.rows += len(rows)
            check.damaged_rows += len(src) - len(rows)
            try:
                src.read_aliases()
                aliases_ok = True
            except DamagedCacheError:
                aliases_ok = False
                check.damaged_aliases += src.n_aliases
            fp = src.attrs["model_fingerprint"]
            views.setdefault(fp, _View(src.attrs)).add_source(src, rows=rows, aliases=aliases_ok)
    return damaged


def verify_cache(path: str | os.PathLike[str]) -> CacheCheck:
    """Read every chunk of a cache against its checksums; change nothing (``bioseq cache verify``)."""
    path, files = Path(path), []
    check = CacheCheck()
    try:
        with _WriterLock(path):
            _scan(path, check, {}, files)
    finally:
        for f in files:
            f.close()
    return check


def repair_cache(path: str | os.PathLike[str]) -> CacheCheck:
    """Keep the intact rows of a damaged cache and drop the rest (``bioseq cache repair``).

    Rows in chunks that fail their checksum are dropped (``bioseq embed``
    computes them again when next asked for them); a file that cannot be opened
    at all is moved aside as ``<name>.damaged-<n>``, never deleted. A cache
    without damage is left untouched.
    """
    path, files = Path(path), []
    check = CacheCheck()
    views: dict[str, _View] = {}
    try:
        with _WriterLock(path):
            damaged = _scan(path, check, views, files)
            if check.ok:
                return check
            for file in damaged:
                check.moved_aside.append(str(_move_aside(file, path)))
            compression = next((v.sources[0].compression for v in views.values() if v.sources), "none")
            _replace_main(path, [views[fp] for fp in sorted(views)], compression)
    finally:
        for f in files:
            f.close()
    return check


def _move_aside(file: Path, cache: Path) -> Path:
    n = 1
    while (cache.parent / f"{file.name}.damaged-{n}").exists():
        n += 1
    dest = cache.parent / f"{file.name}.damaged-{n}"
    os.replace(file, dest)
    return dest


def merge_caches(
    output: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    compression: str | None = None,
) -> dict[str, int]:
    """Merge caches or ``bioseq embed -o`` exports into the cache ``output`` (created or extended).

    How parallel jobs combine their work: rows are deduplicated by content key,
    first input wins (so ids are those first seen), in input order, so merging
    contiguous shards in order gives the rows, ids and values of a
    single-process run. ``output``'s own rows (and segments) come first. One
    group per model; a model whose inputs disagree on embedding dim, dtype or
    tokenizer config is refused (CacheError naming both files) and ``output``
    is left as it was.

    Args:
        compression: ``none|lzf|gzip``; default: that of ``output`` if it
            exists, else of the first input.

    Returns:
        rows per model fingerprint in the merged cache.
    """
    check_options(compression=compression)
    out = Path(output)
    if not inputs:
        raise CacheError("no input caches to merge", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _WriterLock(out), contextlib.ExitStack() as stack:
        opened = [stack.enter_context(_Opened(out, missing_ok=True))]
        seen = {out.resolve()}
        for p in map(Path, inputs):
            if p.resolve() not in seen:  # OUT listed as an input, or an input twice
                seen.add(p.resolve())
                opened.append(stack.enter_context(_Opened(p, missing_ok=False)))
        merged: dict[str, _View] = {}
        for op in opened:
            for fp, view in op.views.items():
                target = merged.setdefault(fp, _View(view.attrs))
                for src in view.sources:  # all rows: those dropped as repeats give their ids as aliases
                    target.add_source(src, dedupe_within=True)
        if compression is None:
            compression = opened[0].root_compression() or (opened[1].root_compression() if len(opened) > 1 else None)
        return _replace_main(out, [merged[fp] for fp in sorted(merged)], compression or "none")

"""Deduplicated views of a cache: the key index, one model's rows across files, opening a cache.

A cache is its main file plus its complete journal segments (docs/EMBEDDINGS.md);
a :class:`_View` presents one model's rows across all of them as one sequence
of global rows, each content key once.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq.embed.cache_format import (
    _COPY_ROWS,
    KEY_DTYPE,
    EmbeddingBatch,
    _H5Source,
    _list_segments,
    _open_h5,
    _Source,
    _sources_in_file,
)
from bioseq.errors import CacheError

# ----------------------------------------------------------------------------- the key index and views


class _KeyIndex:
    """Map content keys to rows with sorted NumPy arrays (16 bytes/key, no Python objects).

    A key is split into two uint64 halves; runs are sorted by (first, second)
    half and searched on the first (integer search is ~10x faster than on
    ``S16``), confirming with the second. Keys arrive in runs (one per file or
    per block of new rows) and are merged as they accumulate.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    @staticmethod
    def _halves(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        words = np.frombuffer(np.ascontiguousarray(keys, dtype=KEY_DTYPE).tobytes(), dtype="<u8")
        return words[0::2], words[1::2]

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        if len(keys) == 0:
            return
        hi, lo = self._halves(keys)
        self._runs.append(self._sorted(hi, lo, np.asarray(rows, dtype=np.int64)))
        # merge like a binary counter: run sizes at least double going left, so a
        # stream of small additions costs O(n log n) in all and leaves O(log n) runs
        while len(self._runs) > 1 and 2 * len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            b, a = self._runs.pop(), self._runs.pop()
            self._runs.append(self._sorted(*(np.concatenate((a[i], b[i])) for i in range(3))))

    @staticmethod
    def _sorted(hi: np.ndarray, lo: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        order = np.lexsort((lo, hi))
        return hi[order], lo[order], rows[order]

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key, -1 where absent; int64 (len(keys),)."""
        out = np.full(len(keys), -1, dtype=np.int64)
        if len(keys) == 0 or not self._runs:
            return out
        qh, ql = self._halves(keys)
        for hs, ls, rows in self._runs:
            pos = np.minimum(np.searchsorted(hs, qh), len(hs) - 1)
            same_hi = (hs[pos] == qh) & (out < 0)
            hit = same_hi & (ls[pos] == ql)
            out[hit] = rows[pos[hit]]
            for i in np.flatnonzero(same_hi & ~hit):  # first halves collide (rare): scan the tie
                p = pos[i] + 1
                while p < len(hs) and hs[p] == qh[i]:
                    if ls[p] == ql[i]:
                        out[i] = rows[p]
                        break
                    p += 1
        return out


class _View:
    """All rows of one model fingerprint across the main file and segments, deduplicated.

    Global row ``g`` lives in source ``s`` (``offsets[s] <= g < offsets[s+1]``)
    at local row ``kept[s][g - offsets[s]]``.
    """

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = dict(attrs)
        self.fingerprint: str = attrs["model_fingerprint"]
        self.sources: list[_Source] = []
        self.kept: list[np.ndarray] = []
        self.offsets: list[int] = [0]
        self.index = _KeyIndex()
        # Ids that name no row of their own (docs/EMBEDDINGS.md, "Ids"): per source, its local rows
        # not kept (their key was already here) and whether to read its stored alias table; then
        # aliases given to this view directly (CacheWriter.add_aliases), as (ids, keys) parts.
        self.dropped: list[np.ndarray] = []
        self.stored_aliases: list[bool] = []
        self.extra_aliases: list[tuple[np.ndarray, np.ndarray]] = []
        self._id_index: dict[str, int] | None = None
        self._row_ids: set[str] = set()  # ids of the id index that name a row (they win over aliases)

    def __len__(self) -> int:
        return self.offsets[-1]

    @property
    def dim(self) -> int:
        return int(self.attrs["embedding_dim"])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.attrs["dtype"])

    def check_compatible(self, attrs: dict[str, Any], where: Path | str, other: Path | str) -> None:
        """Refuse to mix rows of one fingerprint that disagree on dim, dtype or tokenizer."""
        for name in ("embedding_dim", "dtype"):
            if attrs[name] != self.attrs[name]:
                raise CacheError(
                    f"model {self.fingerprint[:12]}: {name} {attrs[name]!r} in {where} but "
                    f"{self.attrs[name]!r} in {other}; these embeddings cannot be mixed", path=where)
        if json.loads(attrs["tokenizer_config"]) != json.loads(self.attrs["tokenizer_config"]):
            raise CacheError(
                f"model {self.fingerprint[:12]}: tokenizer config {attrs['tokenizer_config']} in {where} but "
                f"{self.attrs['tokenizer_config']} in {other}; these embeddings cannot be mixed", path=where)

    def add_source(self, src: _Source, rows: np.ndarray | None = None, dedupe_within: bool = False,
                   aliases: bool = True) -> int:
        """Append the rows of ``src`` (all, or local ``rows``) whose key is not yet in the view.

        ``dedupe_within`` also drops repeats inside ``src`` (an export may hold one
        sequence under two ids); otherwise such repeats are kept as rows and the
        key index points at the first. The ids of dropped rows (of ``rows``) and,
        with ``aliases``, the source's alias table become aliases of the rows
        holding their keys. Returns the number of rows added.
        """
        if self.sources:
            self.check_compatible(src.attrs, src.path, self.sources[0].path)
        offered = np.arange(len(src), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        cand = offered
        keys = src.keys[cand]
        if self.offsets[-1] and len(keys):
            fresh = self.index.lookup(keys) < 0
            cand, keys = cand[fresh], keys[fresh]
        first = None
        if not src.unique_keys and len(keys):
            _, first = np.unique(keys, return_index=True)
            first.sort()
            if dedupe_within:
                cand, keys, first = cand[first], keys[first], None
        base = self.offsets[-1]
        grows = np.arange(base, base + len(cand), dtype=np.int64)
        if first is None:
            self.index.add(keys, grows)
        else:
            self.index.add(keys[first], grows[first])
        self.sources.append(src)
        self.kept.append(cand)
        self.offsets.append(base + len(cand))
        self.dropped.append(np.setdiff1d(offered, cand, assume_unique=True) if len(cand) < len(offered)
                            else np.empty(0, dtype=np.int64))
        self.stored_aliases.append(aliases)
        if self._id_index is not None and len(cand):  # keep a built id index current (a writer's rows)
            self._index_rows(src.read_ids()[cand].tolist(), grows.tolist())
        return len(cand)

    def replace_tail(self, n_sources: int, src: _Source) -> None:
        """Swap the last ``n_sources`` (in-memory) sources for ``src`` holding the same rows in order."""
        total = self.offsets[-1] - self.offsets[-1 - n_sources]
        if len(src) != total:
            raise AssertionError("segment does not hold the pending rows")
        if n_sources:
            del self.sources[-n_sources:], self.kept[-n_sources:], self.offsets[-n_sources:]
            del self.dropped[-n_sources:], self.stored_aliases[-n_sources:]
        self.sources.append(src)
        self.kept.append(np.arange(total, dtype=np.int64))
        self.offsets.append(self.offsets[-1] + total)
        self.dropped.append(np.empty(0, dtype=np.int64))
        self.stored_aliases.append(True)  # the segment holds the replaced sources' aliases and extra_aliases
        self.extra_aliases = []

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        return self.index.lookup(keys)

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Embeddings of global ``rows`` (any order, repeats allowed), shape (len(rows), D)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), dtype=self.dtype)
        if len(rows) == 0:
            return out
        if rows.min() < 0 or rows.max() >= len(self):
            raise IndexError("row out of range")
        if len(rows) == 1:  # get_by_id: skip the bookkeeping
            s = bisect.bisect_right(self.offsets, int(rows[0])) - 1
            local = int(self.kept[s][int(rows[0]) - self.offsets[s]])
            return self.sources[s].read(np.array([local]))
        uniq, inverse = np.unique(rows, return_inverse=True)
        vals = np.empty((len(uniq), self.dim), dtype=self.dtype)
        offsets = np.asarray(self.offsets)
        src_of = np.searchsorted(offsets, uniq, side="right") - 1
        for s in np.unique(src_of):
            mask = src_of == s
            local = self.kept[s][uniq[mask] - offsets[s]]
            vals[mask] = self.sources[s].read(local)
        return vals[inverse.reshape(-1)]

    def keys(self) -> np.ndarray:
        parts = [src.keys[k] for src, k in zip(self.sources, self.kept, strict=True)]
        return np.concatenate(parts) if parts else np.empty(0, KEY_DTYPE)

    def ids(self) -> np.ndarray:
        parts = [src.read_ids()[k] for src, k in zip(self.sources, self.kept, strict=True)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=object)

    def alias_candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """Every ``(id, key)`` alias given to this view, in order: per source its stored table and the
        ids of its dropped rows, then :attr:`extra_aliases`. Not filtered (see :meth:`aliases`)."""
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for src, dropped, stored in zip(self.sources, self.dropped, self.stored_aliases, strict=True):
            if stored:
                parts.append(src.read_aliases())
            if len(dropped):
                parts.append((src.read_ids()[dropped], src.keys[dropped]))
        parts.extend(self.extra_aliases)
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return np.empty(0, dtype=object), np.empty(0, dtype=KEY_DTYPE)
        return (np.concatenate([p[0] for p in parts]),
                np.concatenate([np.asarray(p[1], dtype=KEY_DTYPE) for p in parts]))

    def _index_rows(self, ids: list[str], rows: list[int]) -> None:
        """Add row ids to the built id index: a row's id beats an alias, the first row wins."""
        index = self._id_index
        for id_, row in zip(ids, rows, strict=True):
            if id_ not in self._row_ids:
                index[id_] = row
                self._row_ids.add(id_)

    def _index_aliases(self, ids: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add aliases to the built id index (an id not yet there, a key held by a row); returns those added."""
        if not len(ids):
            return ids, keys
        index, rows = self._id_index, self.index.lookup(keys)
        added = []
        for i, (id_, row) in enumerate(zip(ids.tolist(), rows.tolist(), strict=True)):
            if row >= 0 and id_ not in index:
                index[id_] = row
                added.append(i)
        return ids[added], keys[added]

    def id_index(self) -> dict[str, int]:
        """id -> global row: the id stored with a row (the first such row), else the first alias."""
        if self._id_index is None:
            ids = self.ids()
            # reversed, so the first row stored under an id wins
            self._id_index = dict(zip(ids[::-1].tolist(), range(len(ids) - 1, -1, -1), strict=True))
            self._row_ids = set(self._id_index)
            self._index_aliases(*self.alias_candidates())
        return self._id_index

    def aliases(self) -> tuple[np.ndarray, np.ndarray]:
        """The aliases that resolve an id no row holds, ``(ids, keys)`` in the order given:
        what a fold writes (repeats, ids that name a row and keys no row holds are dropped)."""
        ids = self.ids()
        self._id_index = dict(zip(ids[::-1].tolist(), range(len(ids) - 1, -1, -1), strict=True))
        self._row_ids = set(self._id_index)
        return self._index_aliases(*self.alias_candidates())

    def has_aliases(self) -> bool:
        """Whether any alias was given (cheap: no ids are read)."""
        return bool(self.extra_aliases) or any(len(d) for d in self.dropped) or any(
            stored and src.n_aliases for src, stored in zip(self.sources, self.stored_aliases, strict=True))

    def iter_parts(self, block_rows: int = _COPY_ROWS, first_source: int = 0) -> Iterator[EmbeddingBatch]:
        """All rows (of the sources from ``first_source`` on) in order, at most ``block_rows`` a batch;
        a batch never spans two sources."""
        for src, kept in zip(self.sources[first_source:], self.kept[first_source:], strict=True):
            ids = src.read_ids() if len(kept) else None
            for lo in range(0, len(kept), block_rows):
                k = kept[lo:lo + block_rows]
                yield EmbeddingBatch(ids[k].tolist(), src.keys[k], src.read(k))


# ----------------------------------------------------------------- opening a cache (main + segments)


class _Opened:
    """A cache opened for reading: the main file and its complete segments; a context manager."""

    def __init__(self, path: Path, missing_ok: bool) -> None:
        self.path = path
        self.files: list[h5py.File] = []
        self.views: dict[str, _View] = {}
        self.segments: list[Path] = []
        for attempt in range(5):
            try:
                self._open(missing_ok)
                return
            except FileNotFoundError:
                # a writer folded and deleted a segment between listing and opening: start again
                self.close()
                self.files, self.views, self.segments = [], {}, []
                if attempt == 4:
                    raise CacheError("the cache kept changing while being opened", path=path) from None
                time.sleep(0.05 * (attempt + 1))
            except BaseException:
                self.close()
                raise

    def _open(self, missing_ok: bool) -> None:
        path = self.path
        if path.exists():
            if path.is_dir():
                raise CacheError("is a directory, not an embedding cache", path=path)
            f = _open_h5(path)
            self.files.append(f)
            for src in _sources_in_file(f, path):
                self._add(src)
        self.segments = _list_segments(path)
        if not path.exists() and not self.segments and not missing_ok:
            raise CacheError("no embedding cache here (neither the file nor its .parts segments exist)",
                             path=path)
        for seg in self.segments:
            f = _open_h5(seg)
            self.files.append(f)
            try:
                sources = _sources_in_file(f, seg)
            except CacheError as exc:
                raise CacheError(f"{exc.message}; delete this segment (its rows will be recomputed)",
                                 path=seg) from exc
            for src in sources:
                self._add(src)

    def _add(self, src: _H5Source) -> None:
        fp = src.attrs["model_fingerprint"]
        if fp not in self.views:
            self.views[fp] = _View(src.attrs)
        self.views[fp].add_source(src)

    def sorted_views(self) -> list[_View]:
        return [self.views[fp] for fp in sorted(self.views)]

    def root_compression(self) -> str | None:
        for view in self.views.values():
            if view.sources and view.sources[0].path == self.path:
                return view.sources[0].compression
        return None

    def close(self) -> None:
        for f in self.files:
            with contextlib.suppress(Exception):
                f.close()
        self.files = []

    def __enter__(self) -> _Opened:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


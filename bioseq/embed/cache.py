"""Content-addressed HDF5 cache of per-sequence embeddings.

Why content-addressed: the same sequence under another id (a duplicate in one
FASTA, or the same promoter in next week's file) must cost nothing to embed
again, and a cache filled by one model must never answer for another. Every
row is therefore keyed by ``sha256(model_fingerprint + "\\0" + sequence)[:16]``
(sequence upper-cased, whitespace removed) and stored in a group per model
fingerprint.

Why journal segments: HDF5 is not crash-safe when modified in place (a
``kill -9`` during a write can leave a file that no longer opens). So no file
is ever modified after it is renamed into place:

* a run writes its new rows to *segment* files ``<cache>.parts/<time>-<uuid>.h5``,
  each written under a temporary name and renamed when complete (one per
  ``segment_rows`` rows or ``flush_seconds`` seconds);
* at the end of a run (and at the start of the next one) the main file and the
  complete segments are *folded* into a new main file written beside it and
  ``os.replace``-d over it (atomic), then the folded segments are deleted;
* readers consult the main file plus every complete segment, dropping rows
  whose key an earlier file already holds (a crash between the rename and the
  deletion leaves segments that duplicate the main file: harmless).

Parallel writers on one cache coordinate through ``fcntl.flock`` on
``<cache>.lock``: a writer holds a *shared* lock while it runs (segments have
unique names, so writers never touch each other's files) and folds only when it
can take the *exclusive* lock without waiting, i.e. when no other writer is
running; the last writer to finish folds everything. Where flock is unreliable
(some network filesystems), give each job its own cache and combine them with
``bioseq cache merge`` (:mod:`bioseq.embed.merge`). See docs/EMBEDDINGS.md.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as _dt
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq._version import __version__
from bioseq.errors import CacheError, ConfigError
from bioseq.io.atomic import atomic_path
from bioseq.io.sources import normalise_sequence

try:  # POSIX only; elsewhere concurrent writers must use per-job caches + merge.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

FORMAT = "bioseq-embedding-cache"
FORMAT_VERSION = 1
KEY_BYTES = 16
KEY_DTYPE = np.dtype(f"S{KEY_BYTES}")
DTYPES = ("float32", "float16")
COMPRESSIONS = ("none", "lzf", "gzip")
GZIP_LEVEL = 4
# Target size of one HDF5 chunk of the embeddings dataset. A random row read
# decompresses its whole chunk, so compressed data gets smaller chunks (16 KiB:
# 1,000 random rows of 100k read ~2x faster than with 64 KiB, ~1% larger file).
CHUNK_BYTES = 64 * 1024
CHUNK_BYTES_COMPRESSED = 16 * 1024
_COPY_ROWS = 65536  # rows per read/write when copying between files
_STR = h5py.string_dtype()

__all__ = [
    "COMPRESSIONS",
    "DTYPES",
    "CacheWriter",
    "EmbeddingCache",
    "MissingEmbeddingError",
    "compact",
    "normalise_sequence",
    "sequence_key",
    "sequence_keys",
]


class MissingEmbeddingError(CacheError, KeyError):
    """The cache holds no row for the requested id or sequence (also a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


# ----------------------------------------------------------------------------- keys



def sequence_keys(fingerprint: str, seqs: Iterable[str], normalised: bool = False) -> np.ndarray:
    """Content keys of ``seqs`` for the model ``fingerprint``.

    Returns:
        ``S16`` array, shape (n,): ``sha256(fingerprint + "\\0" + seq)[:16]``.
        (NumPy compares fixed-width bytes exactly; convert one key with
        ``.tobytes()`` rather than ``bytes(arr[i])``, which drops trailing NULs.)
    """
    prefix = hashlib.sha256(fingerprint.encode() + b"\0")
    out = []
    for seq in seqs:
        h = prefix.copy()
        h.update((seq if normalised else normalise_sequence(seq)).encode())
        out.append(h.digest()[:KEY_BYTES])
    return np.array(out, dtype=KEY_DTYPE) if out else np.empty(0, dtype=KEY_DTYPE)


def sequence_key(fingerprint: str, seq: str) -> bytes:
    """The 16-byte content key of one sequence (see :func:`sequence_keys`)."""
    return sequence_keys(fingerprint, [seq]).tobytes()


# ----------------------------------------------------------------------------- paths, locks


def parts_dir(path: str | os.PathLike[str]) -> Path:
    """Directory of journal segments beside the cache ``path``."""
    return Path(f"{os.fspath(path)}.parts")


def lock_path(path: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(path)}.lock")


def _list_segments(path: Path) -> list[Path]:
    d = parts_dir(path)
    try:
        names = sorted(n for n in os.listdir(d) if n.endswith(".h5") and not n.startswith("."))
    except FileNotFoundError:
        return []
    return [d / n for n in names]


class _Lock:
    """``flock`` on ``<cache>.lock``: shared while writing segments, exclusive to fold.

    The last writer deletes the lock file while holding it exclusively, so no
    stray ``.lock`` files accumulate. That is safe because every acquisition
    checks that the file it locked is still the one at the path (same inode);
    if it was deleted meanwhile, it starts again on a new lock file.
    """

    def __init__(self, cache: Path, create: bool) -> None:
        self.cache, self.path, self.create = cache, lock_path(cache), create
        self.fd: int | None = None
        self.held = False
        self._open()

    def _open(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        try:
            flags = os.O_RDWR | os.O_CREAT if self.create else os.O_RDONLY
            self.fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if self.create:
                raise CacheError(f"cannot create the lock file {self.path}: {exc}", path=self.cache) from exc
            self.fd = None  # read-only location or no writer: nothing to coordinate with

    def _still_linked(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        fst = os.fstat(self.fd)
        return (st.st_ino, st.st_dev) == (fst.st_ino, fst.st_dev)

    def acquire(self, exclusive: bool, blocking: bool = True) -> bool:
        op = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) if fcntl is not None else 0
        while True:
            if self.fd is None:
                self.held = True
                return True
            try:
                fcntl.flock(self.fd, op | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                self.held = False
                return False
            if self._still_linked():
                self.held = True
                return True
            # the last writer deleted this lock file while we waited: lock the current one
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
            self._open()

    def remove(self) -> None:
        """Delete the lock file; call only while holding it exclusively."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.held = False

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# ----------------------------------------------------------------------------- HDF5 reading


def _open_h5(path: Path) -> h5py.File:
    """Open an HDF5 file read-only; a corrupt or truncated file is a CacheError naming it."""
    try:
        # HDF5's own file locking is off: our files are never modified once renamed
        # into place, and it fails on some network filesystems.
        return h5py.File(path, "r", locking=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise CacheError(
            f"cannot open embedding cache (corrupt or truncated HDF5 file?): {exc}", path=path
        ) from exc


def _attr_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _group_attrs(group: h5py.Group, path: Path) -> dict[str, Any]:
    try:
        a = group.attrs
        attrs = {
            "model_fingerprint": _attr_str(a["model_fingerprint"]),
            "tokenizer_config": _attr_str(a["tokenizer_config"]),
            "embedding_dim": int(a["embedding_dim"]),
            "dtype": _attr_str(a["dtype"]),
            "bioseq_version": _attr_str(a.get("bioseq_version", "")),
            "format_version": int(a.get("format_version", FORMAT_VERSION)),
            "created": _attr_str(a.get("created", "")),
        }
        json.loads(attrs["tokenizer_config"])
    except (KeyError, ValueError, TypeError) as exc:
        raise CacheError(f"group {group.name!r} lacks valid attributes ({exc})", path=path) from exc
    for key, value in a.items():  # keep extra attributes (arch, labels...) through folds
        if key not in attrs:
            attrs[key] = _attr_str(value) if isinstance(value, (str, bytes)) else value
    return attrs


def _compression_of(ds: h5py.Dataset) -> str:
    return ds.compression or "none"


class _Source:
    """The rows of one fingerprint group in one file (or in memory).

    ``keys``: S16 array (n,). ``read(rows)`` takes sorted unique local rows and
    returns an array (len(rows), D).
    """

    path: Path
    keys: np.ndarray
    attrs: dict[str, Any]
    compression: str
    unique_keys: bool = True  # False for an export, which may repeat a sequence under two ids

    def __len__(self) -> int:
        return len(self.keys)

    def read(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def read_ids(self) -> np.ndarray:
        raise NotImplementedError


class _H5Source(_Source):
    """A fingerprint group in an HDF5 file.

    With ``file`` given the dataset is read through that open handle (the file
    may be deleted meanwhile: POSIX keeps it alive); without, the file is opened
    for each read (used for a writer's own segments, which no one can delete
    while it holds the shared lock, so that a long run keeps no handle per segment).
    """

    def __init__(
        self, path: Path, group: h5py.Group, keep_open: bool = True, unique_keys: bool = True
    ) -> None:
        self.path = path
        self.unique_keys = unique_keys
        self.group_name = group.name
        self.attrs = _group_attrs(group, path)
        try:
            emb, keys, ids = group["embeddings"], group["keys"], group["ids"]
        except KeyError as exc:
            raise CacheError(f"group {group.name!r} lacks a dataset ({exc})", path=path) from exc
        dim = self.attrs["embedding_dim"]
        if emb.ndim != 2 or emb.shape[1] != dim:
            raise CacheError(
                f"{group.name}/embeddings has shape {emb.shape}, expected (N, {dim})", path=path
            )
        if keys.dtype != KEY_DTYPE or keys.shape != (emb.shape[0],) or ids.shape != (emb.shape[0],):
            raise CacheError(
                f"{group.name}: keys {keys.shape} {keys.dtype} / ids {ids.shape} do not match "
                f"{emb.shape[0]} embeddings",
                path=path,
            )
        if np.dtype(emb.dtype).name != self.attrs["dtype"]:
            raise CacheError(f"{group.name}/embeddings is {emb.dtype}, attribute says {self.attrs['dtype']}",
                             path=path)
        try:
            self.keys = keys[()] if keys.shape[0] else np.empty(0, KEY_DTYPE)
        except OSError as exc:
            raise CacheError(f"cannot read {group.name}/keys: {exc}", path=path) from exc
        self.compression = _compression_of(emb)
        row_bytes = max(1, emb.dtype.itemsize * dim)
        self.chunk_rows = emb.chunks[0] if emb.chunks else max(1, CHUNK_BYTES // row_bytes)
        self._dataset = emb if keep_open else None
        self._ids_ds = ids if keep_open else None
        self.group = group if keep_open else None

    @contextlib.contextmanager
    def _datasets(self) -> Iterator[tuple[h5py.Dataset, h5py.Dataset]]:
        if self._dataset is not None:
            yield self._dataset, self._ids_ds
            return
        with _open_h5(self.path) as f:
            g = f[self.group_name]
            yield g["embeddings"], g["ids"]

    def read(self, rows: np.ndarray) -> np.ndarray:
        with self._datasets() as (emb, _):
            try:
                return _read_rows(emb, rows, self.chunk_rows)
            except OSError as exc:
                raise CacheError(f"cannot read {self.group_name}/embeddings: {exc}", path=self.path) from exc

    def read_slice(self, lo: int, hi: int) -> np.ndarray:
        with self._datasets() as (emb, _):
            try:
                return emb[lo:hi]
            except OSError as exc:
                raise CacheError(f"cannot read {self.group_name}/embeddings: {exc}", path=self.path) from exc

    def read_ids(self) -> np.ndarray:
        with self._datasets() as (_, ids):
            try:
                return ids.asstr()[()] if ids.shape[0] else np.empty(0, dtype=object)
            except (OSError, UnicodeDecodeError) as exc:
                raise CacheError(f"cannot read {self.group_name}/ids: {exc}", path=self.path) from exc


class _MemorySource(_Source):
    """Rows computed in this run and not yet written to a segment."""

    def __init__(self, keys: np.ndarray, ids: Sequence[str], emb: np.ndarray, attrs: dict[str, Any]) -> None:
        self.path = Path("<memory>")
        self.keys, self.ids, self.emb, self.attrs = keys, np.asarray(ids, dtype=object), emb, attrs
        self.compression = "none"

    def read(self, rows: np.ndarray) -> np.ndarray:
        return self.emb[rows]

    def read_slice(self, lo: int, hi: int) -> np.ndarray:
        return self.emb[lo:hi]

    def read_ids(self) -> np.ndarray:
        return self.ids


def _read_rows(ds: h5py.Dataset, rows: np.ndarray, chunk_rows: int) -> np.ndarray:
    """Rows ``rows`` (sorted, unique) of a 2-D dataset, shape (len(rows), D).

    Dense stretches (at least one wanted row in four) are read as one slice, the
    rest with one fancy-index call per HDF5 chunk, so both "everything in order"
    (a rerun) and "1,000 random ids" are fast.
    """
    n = len(rows)
    out = np.empty((n, ds.shape[1]), dtype=ds.dtype)
    if n == 0:
        return out
    if n == 1:
        r = int(rows[0])
        out[0] = ds[r:r + 1][0]
        return out
    chunk = rows // chunk_rows
    starts = np.concatenate(([0], np.flatnonzero(chunk[1:] != chunk[:-1]) + 1))
    ends = np.append(starts[1:], n)
    max_span = max(chunk_rows, (32 << 20) // max(1, ds.dtype.itemsize * ds.shape[1]))
    g = 0
    while g < len(starts):
        s, e = int(starts[g]), int(ends[g])
        lo = int(rows[s])
        # grow the slice over following chunks while it stays dense and bounded
        while g + 1 < len(starts):
            e2 = int(ends[g + 1])
            span = int(rows[e2 - 1]) + 1 - lo
            if span > max_span or (e2 - s) * 4 < span:
                break
            g += 1
            e = e2
        hi = int(rows[e - 1]) + 1
        if (e - s) * 4 >= hi - lo:
            out[s:e] = ds[lo:hi][rows[s:e] - lo]
        else:
            out[s:e] = ds[rows[s:e]]
        g += 1
    return out


def _sources_in_file(f: h5py.File, path: Path, keep_open: bool = True) -> list[_H5Source]:
    """Validate the layout of one cache, segment or export file; one source per fingerprint."""
    fmt = _attr_str(f.attrs.get("format", ""))
    if fmt != FORMAT:
        raise CacheError(f"not a bioseq embedding cache (format attribute {fmt!r}, expected {FORMAT!r})",
                         path=path)
    version = int(f.attrs.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise CacheError(f"cache format version {version} is newer than this bioseq reads "
                         f"({FORMAT_VERSION}); upgrade bioseq", path=path)
    if _attr_str(f.attrs.get("kind", "cache")) == "export":
        return [_H5Source(path, f, keep_open, unique_keys=False)]
    models = f.get("models")
    if not isinstance(models, h5py.Group):
        raise CacheError("no /models group", path=path)
    out = []
    for name in sorted(models):
        src = _H5Source(path, models[name], keep_open)
        if src.attrs["model_fingerprint"] != name:
            raise CacheError(f"group /models/{name} says it holds fingerprint "
                             f"{src.attrs['model_fingerprint']!r}", path=path)
        out.append(src)
    return out


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
        self._id_index: dict[str, int] | None = None

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

    def add_source(self, src: _Source, rows: np.ndarray | None = None, dedupe_within: bool = False) -> int:
        """Append the rows of ``src`` (all, or local ``rows``) whose key is not yet in the view.

        ``dedupe_within`` also drops repeats inside ``src`` (an export may hold one
        sequence under two ids); otherwise such repeats are kept as rows and the
        key index points at the first. Returns the number of rows added.
        """
        if self.sources:
            self.check_compatible(src.attrs, src.path, self.sources[0].path)
        cand = np.arange(len(src), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
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
        self._id_index = None
        return len(cand)

    def replace_tail(self, n_sources: int, src: _Source) -> None:
        """Swap the last ``n_sources`` (in-memory) sources for ``src`` holding the same rows in order."""
        total = self.offsets[-1] - self.offsets[-1 - n_sources]
        if len(src) != total:
            raise AssertionError("segment does not hold the pending rows")
        del self.sources[-n_sources:], self.kept[-n_sources:], self.offsets[-n_sources:]
        self.sources.append(src)
        self.kept.append(np.arange(total, dtype=np.int64))
        self.offsets.append(self.offsets[-1] + total)

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

    def id_index(self) -> dict[str, int]:
        if self._id_index is None:
            ids = self.ids()
            # reversed, so the first row stored under an id wins
            self._id_index = dict(zip(ids[::-1].tolist(), range(len(ids) - 1, -1, -1), strict=True))
        return self._id_index

    def iter_parts(
        self, block_rows: int = _COPY_ROWS, first_source: int = 0
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield (keys, ids, embeddings) of all rows (of sources from ``first_source`` on) in order."""
        for src, kept in zip(self.sources[first_source:], self.kept[first_source:], strict=True):
            if len(kept) == 0:
                continue
            ids = src.read_ids()
            contiguous = len(kept) == len(src)
            for lo in range(0, len(kept), block_rows):
                k = kept[lo:lo + block_rows]
                if contiguous and isinstance(src, (_H5Source, _MemorySource)):
                    emb = src.read_slice(int(k[0]), int(k[-1]) + 1)
                else:
                    emb = src.read(k)
                yield src.keys[k], ids[k], emb


# ----------------------------------------------------------------- opening a cache (main + segments)


class _Opened:
    """A cache opened for reading: the main file and its complete segments."""

    def __init__(self, path: Path, missing_ok: bool, keep_segments_open: bool = True) -> None:
        self.path = path
        self.files: list[h5py.File] = []
        self.views: dict[str, _View] = {}
        self.segments: list[Path] = []
        for attempt in range(5):
            try:
                self._open(missing_ok, keep_segments_open)
                return
            except FileNotFoundError:
                # a segment was folded and deleted between listing and opening: start again
                self.close()
                self.files, self.views, self.segments = [], {}, []
                if attempt == 4:
                    raise CacheError("the cache kept changing while being opened", path=path) from None
                time.sleep(0.05 * (attempt + 1))
            except BaseException:
                self.close()
                raise

    def _open(self, missing_ok: bool, keep_segments_open: bool) -> None:
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
            try:
                sources = _sources_in_file(f, seg, keep_open=keep_segments_open)
            except CacheError as exc:
                f.close()
                raise CacheError(f"{exc.message}; delete this segment (its rows will be recomputed)",
                                 path=seg) from exc
            if keep_segments_open:
                self.files.append(f)
            else:
                f.close()
            for src in sources:
                self._add(src)

    def _add(self, src: _H5Source) -> None:
        fp = src.attrs["model_fingerprint"]
        if fp not in self.views:
            self.views[fp] = _View(src.attrs)
        self.views[fp].add_source(src)

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


# ----------------------------------------------------------------------------- writing


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _h5_compression(name: str) -> dict[str, Any]:
    if name == "none":
        return {}
    if name == "lzf":
        return {"compression": "lzf", "shuffle": True}
    if name == "gzip":
        return {"compression": "gzip", "compression_opts": GZIP_LEVEL, "shuffle": True}
    raise ConfigError(f"unknown compression {name!r}; choose one of {', '.join(COMPRESSIONS)}")


def check_options(dtype: str | None = None, compression: str | None = None) -> None:
    """Raise ConfigError for an unsupported dtype or compression name."""
    if dtype is not None and dtype not in DTYPES:
        raise ConfigError(f"unknown embedding dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if compression is not None and compression not in COMPRESSIONS:
        raise ConfigError(f"unknown compression {compression!r}; choose one of {', '.join(COMPRESSIONS)}")


def _write_root_attrs(f: h5py.File, kind: str) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["kind"] = kind
    f.attrs["bioseq_version"] = __version__
    f.attrs["created"] = _now()


def _create_datasets(g: h5py.Group, n: int, dim: int, dtype: np.dtype, compression: str) -> None:
    target = CHUNK_BYTES if compression == "none" else CHUNK_BYTES_COMPRESSED
    chunk_rows = max(1, target // max(1, dtype.itemsize * dim))
    g.create_dataset("embeddings", shape=(n, dim), maxshape=(None, dim), dtype=dtype,
                     chunks=(chunk_rows, dim), **_h5_compression(compression))
    key_chunk = max(1024, min(65536, n))
    g.create_dataset("keys", shape=(n,), maxshape=(None,), dtype=KEY_DTYPE, chunks=(key_chunk,))
    g.create_dataset("ids", shape=(n,), maxshape=(None,), dtype=_STR, chunks=(key_chunk,))


def _set_group_attrs(g: h5py.Group, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        g.attrs[key] = value
    g.attrs["bioseq_version"] = __version__
    g.attrs["format_version"] = FORMAT_VERSION
    if not attrs.get("created"):
        g.attrs["created"] = _now()


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


# ----------------------------------------------------------------------------- the public reader


class EmbeddingCache:
    """Read embeddings back from a cache (or from a ``bioseq embed -o`` export).

    Args:
        path: the cache file (its ``.parts`` segments are read too).
        model_fingerprint: which model's group to read; default: the only one
            (a cache holding several models then raises CacheError naming them).

    Lookups by id use the id stored with each row: in a cache that is the id a
    sequence was *first* seen under (the same sequence under another id is not
    stored twice; use :meth:`get_by_sequence` or an export for your own ids).
    ``id in cache`` tests ids. Arrays have shape (D,) or (n, D) in the stored
    dtype (float32 or float16).
    """

    def __init__(self, path: str | os.PathLike[str], model_fingerprint: str | None = None) -> None:
        self.path = Path(path)
        lock = _Lock(self.path, create=False)
        try:
            lock.acquire(exclusive=False)
            self._opened = _Opened(self.path, missing_ok=False)
        finally:
            lock.release()
            lock.close()
        self._fingerprint = model_fingerprint
        if model_fingerprint is not None and model_fingerprint not in self._opened.views:
            have = ", ".join(self.fingerprints()) or "none"
            self.close()
            raise CacheError(f"no embeddings of model {model_fingerprint} here (it holds: {have})",
                             path=self.path)

    # -- model groups
    def fingerprints(self) -> list[str]:
        """Fingerprints of the models this cache holds embeddings of."""
        return sorted(self._opened.views)

    @property
    def view(self) -> _View:
        if self._fingerprint is None:
            fps = self.fingerprints()
            if len(fps) != 1:
                raise CacheError(
                    "this cache holds " + (f"{len(fps)} models ({', '.join(fps)}); pass model_fingerprint="
                                           if fps else "no embeddings"), path=self.path)
            self._fingerprint = fps[0]
        return self._opened.views[self._fingerprint]

    @property
    def model_fingerprint(self) -> str:
        return self.view.fingerprint

    @property
    def embedding_dim(self) -> int:
        return self.view.dim

    @property
    def dtype(self) -> np.dtype:
        return self.view.dtype

    @property
    def attrs(self) -> dict[str, Any]:
        """Group attributes: model_fingerprint, tokenizer_config (JSON), embedding_dim, dtype, ..."""
        return dict(self.view.attrs)

    @property
    def tokenizer_config(self) -> dict[str, Any]:
        return json.loads(self.view.attrs["tokenizer_config"])

    # -- container protocol
    def __len__(self) -> int:
        return len(self.view)

    def __contains__(self, id: object) -> bool:
        return isinstance(id, str) and id in self.view.id_index()

    @property
    def ids(self) -> list[str]:
        """Ids of all rows, in row order."""
        return self.view.ids().tolist()

    @property
    def keys(self) -> np.ndarray:
        """Content keys of all rows, S16 (n,)."""
        return self.view.keys()

    # -- lookups
    def _rows_of_ids(self, ids: Sequence[str]) -> np.ndarray:
        index = self.view.id_index()
        rows = np.empty(len(ids), dtype=np.int64)
        for i, id_ in enumerate(ids):
            try:
                rows[i] = index[id_]
            except KeyError:
                raise MissingEmbeddingError(f"no embedding for id {id_!r}", path=self.path,
                                            record=id_) from None
        return rows

    def get_by_id(self, id: str) -> np.ndarray:
        """Embedding (D,) of the row stored under ``id``; MissingEmbeddingError if none."""
        return self.view.read(self._rows_of_ids([id]))[0]

    def get_many(self, ids: Sequence[str]) -> np.ndarray:
        """Embeddings (len(ids), D) in the order given (rows read sorted, chunk by chunk)."""
        return self.view.read(self._rows_of_ids(list(ids)))

    def rows_of_sequences(self, seqs: Sequence[str]) -> np.ndarray:
        """Row of each sequence (by content key), -1 where absent."""
        return self.view.lookup(sequence_keys(self.view.fingerprint, seqs))

    def contains_sequence(self, seq: str) -> bool:
        return bool(self.rows_of_sequences([seq])[0] >= 0)

    def get_by_sequence(self, seq: str) -> np.ndarray:
        """Embedding (D,) of ``seq`` (normalised: upper-case, no whitespace)."""
        row = self.rows_of_sequences([seq])[0]
        if row < 0:
            raise MissingEmbeddingError(f"no embedding for this sequence (length {len(seq)})", path=self.path)
        return self.view.read(np.array([row]))[0]

    def get_many_by_sequence(self, seqs: Sequence[str]) -> np.ndarray:
        """Embeddings (len(seqs), D); MissingEmbeddingError if any is absent."""
        rows = self.rows_of_sequences(seqs)
        if (rows < 0).any():
            i = int(np.flatnonzero(rows < 0)[0])
            raise MissingEmbeddingError(f"{int((rows < 0).sum())} sequences have no embedding "
                                        f"(first: #{i})", path=self.path)
        return self.view.read(rows)

    def iter_chunks(self, chunk_size: int = 65536) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
        """Yield ``(ids, keys S16 (m,), embeddings (m, D))`` over all rows in row order."""
        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
        buf: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        n = 0
        for part in self.view.iter_parts(chunk_size):
            buf.append(part)
            n += len(part[0])
            while n >= chunk_size:
                yield from self._emit(buf, chunk_size)
                n = sum(len(p[0]) for p in buf)
        if n:
            yield from self._emit(buf, n)

    @staticmethod
    def _emit(buf: list, size: int) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
        keys = np.concatenate([p[0] for p in buf])
        ids = np.concatenate([p[1] for p in buf])
        emb = np.concatenate([p[2] for p in buf])
        buf.clear()
        if len(keys) > size:
            buf.append((keys[size:], ids[size:], emb[size:]))
        yield ids[:size].tolist(), keys[:size], emb[:size]

    def to_numpy(self) -> np.ndarray:
        """All embeddings (len(self), D) in row order."""
        parts = [p[2] for p in self.view.iter_parts()]
        return np.concatenate(parts) if parts else np.empty((0, self.view.dim), self.view.dtype)

    # -- lifetime
    def close(self) -> None:
        self._opened.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EmbeddingCache({os.fspath(self.path)!r}, models={len(self._opened.views)})"


def describe(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """One dict per model group: fingerprint, rows, dim, dtype, compression, segments, attrs."""
    with EmbeddingCache(path) as cache:
        out = []
        for fp in cache.fingerprints():
            view = cache._opened.views[fp]
            out.append({
                "model_fingerprint": fp,
                "rows": len(view),
                "embedding_dim": view.dim,
                "dtype": view.dtype.name,
                "compression": view.sources[0].compression if view.sources else "none",
                "files": sorted({os.fspath(s.path) for s in view.sources}),
                "tokenizer_config": view.attrs["tokenizer_config"],
                "created": view.attrs.get("created", ""),
            })
        return out

"""Reading one cache, segment or export file: layout checks and row reads.

A *source* is the rows of one model fingerprint in one file (or rows computed
in this run, still in memory); :mod:`bioseq.embed.cache_view` stacks sources
into one deduplicated view.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq.embed.cache_format import CHUNK_BYTES, FORMAT, FORMAT_VERSION, KEY_DTYPE
from bioseq.errors import CacheError

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


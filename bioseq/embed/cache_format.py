"""On-disk format of the embedding cache and exports, the batch type, and reading one file back.

Everything that fixes what a cache, segment or export file looks like (the
``format`` attributes, key width, dataset names, chunking and compression
options) and where its companions live (``<cache>.parts/``, ``<cache>.lock``),
so that readers (:mod:`bioseq.embed.cache_view`) and writers
(:mod:`bioseq.embed.cache_writer`, :mod:`bioseq.embed.embed`) agree. A *source*
is the rows of one model fingerprint in one file (or rows computed in this run,
still in memory). The design is in docs/EMBEDDINGS.md.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from bioseq._version import __version__
from bioseq.errors import CacheError, ConfigError, DamagedCacheError
from bioseq.io.sources import normalise_sequence

FORMAT = "bioseq-embedding-cache"
FORMAT_VERSION = 1
# What to do about damage, said once in every DamagedCacheError.
REPAIR_HINT = (
    "the file is damaged; `bioseq cache repair CACHE` keeps the intact rows and "
    "`bioseq embed --repair` also recomputes the lost ones"
)
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


class EmbeddingBatch(NamedTuple):
    """One batch of rows: what every embedding writer's ``write`` takes and every reader yields.

    ``ids``: list of str (m,), the record ids; ``keys``: ``S16`` (m,), the
    content keys (:func:`sequence_keys`); ``embeddings``: (m, D) float32|float16.
    """

    ids: Sequence[str]
    keys: np.ndarray
    embeddings: np.ndarray


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


# ----------------------------------------------------------------------------- paths


def parts_dir(path: str | os.PathLike[str]) -> Path:
    """Directory of journal segments beside the cache ``path``."""
    return Path(f"{os.fspath(path)}.parts")


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The ``flock`` file that makes writers of one cache take turns (:mod:`bioseq.embed.cache_writer`)."""
    return Path(f"{os.fspath(path)}.lock")


def _list_segments(path: Path) -> list[Path]:
    d = parts_dir(path)
    try:
        names = sorted(n for n in os.listdir(d) if n.endswith(".h5") and not n.startswith("."))
    except FileNotFoundError:
        return []
    return [d / n for n in names]


# ----------------------------------------------------------------------------- options, new groups


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
    # fletcher32: HDF5 checks every chunk on read, so a flipped byte is an error, never a served value.
    g.create_dataset("embeddings", shape=(n, dim), maxshape=(None, dim), dtype=dtype,
                     chunks=(chunk_rows, dim), fletcher32=True, **_h5_compression(compression))
    key_chunk = max(1024, min(65536, n))
    g.create_dataset("keys", shape=(n,), maxshape=(None,), dtype=KEY_DTYPE, chunks=(key_chunk,), fletcher32=True)
    # Variable-length strings take no HDF5 filter: the ids are sealed by a digest instead (seal_ids).
    g.create_dataset("ids", shape=(n,), maxshape=(None,), dtype=_STR, chunks=(key_chunk,))


IDS_DIGEST = "ids_sha256"
# The alias table: ids given to the cache whose sequence's row is stored under another id
# (docs/EMBEDDINGS.md, "Ids"). Optional: absent means no aliases (files written before it).
ALIAS_IDS, ALIAS_KEYS, ALIAS_DIGEST = "alias_ids", "alias_keys", "alias_ids_sha256"


def ids_digest(ids: np.ndarray) -> str:
    """sha256 hex over the ids joined by NUL, in row order (one C-level pass)."""
    return hashlib.sha256("\0".join(ids.tolist()).encode("utf-8", "surrogatepass")).hexdigest()


def seal_ids(g: h5py.Group) -> None:
    """Store the digest of ``g``'s ids once they are all written (checked by every read of them)."""
    ids = g["ids"]
    g.attrs[IDS_DIGEST] = ids_digest(ids.asstr()[()] if ids.shape[0] else np.empty(0, dtype=object))


def write_aliases(g: h5py.Group, ids: np.ndarray, keys: np.ndarray) -> None:
    """Store the alias table of ``g`` (replacing any copied with the group): ``alias_ids`` (n,) str
    sealed by ``alias_ids_sha256`` and ``alias_keys`` (n,) S16 with fletcher32; nothing when empty."""
    for name in (ALIAS_IDS, ALIAS_KEYS):
        if name in g:
            del g[name]
    if ALIAS_DIGEST in g.attrs:
        del g.attrs[ALIAS_DIGEST]
    if not len(ids):
        return
    chunk = max(1024, min(65536, len(ids)))
    g.create_dataset(ALIAS_KEYS, data=np.asarray(keys, dtype=KEY_DTYPE), chunks=(chunk,), maxshape=(None,),
                     fletcher32=True)
    values = np.asarray(ids, dtype=object)
    g.create_dataset(ALIAS_IDS, data=values, dtype=_STR, chunks=(chunk,), maxshape=(None,))
    g.attrs[ALIAS_DIGEST] = ids_digest(values)


def _set_group_attrs(g: h5py.Group, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        if key not in (IDS_DIGEST, ALIAS_DIGEST):  # digests describe one file's ids: written afresh
            g.attrs[key] = value
    g.attrs["bioseq_version"] = __version__
    g.attrs["format_version"] = FORMAT_VERSION
    if not attrs.get("created"):
        g.attrs["created"] = _now()



def _write_rows(g: h5py.Group, lo: int, batch: EmbeddingBatch) -> None:
    """Write ``batch`` into the datasets of ``g`` from row ``lo`` on (they must be large enough)."""
    hi = lo + len(batch.keys)
    g["embeddings"][lo:hi] = batch.embeddings
    g["keys"][lo:hi] = np.asarray(batch.keys, dtype=KEY_DTYPE)
    g["ids"][lo:hi] = np.asarray(batch.ids, dtype=object)


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
        if "signature not found" in str(exc):
            raise CacheError("not an HDF5 file: an embedding cache is HDF5 written by `bioseq embed`",
                             path=path) from exc
        raise DamagedCacheError(f"cannot open the HDF5 file (truncated or damaged: {exc}); {REPAIR_HINT}",
                                path=path) from exc


def cached_group_attrs(path: str | os.PathLike[str], fingerprint: str) -> dict[str, Any] | None:
    """The attributes of model ``fingerprint``'s group in the cache ``path`` (main file, else a segment),
    read without the rows; None when no readable file of the cache holds that model."""
    path = Path(path)
    for file in ([path] if path.is_file() else []) + _list_segments(path):
        try:
            with _open_h5(file) as f:
                group = f.get(f"models/{fingerprint}")
                if isinstance(group, h5py.Group):
                    return _group_attrs(group, file)
        except (CacheError, OSError):
            continue  # the writer names a damaged file; here it only means "look elsewhere"
    return None


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
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise CacheError(f"group {group.name!r} lacks valid attributes ({exc})", path=path) from exc
    for key, value in a.items():  # keep extra attributes (arch, labels...) through folds
        if key not in attrs:
            attrs[key] = _attr_str(value) if isinstance(value, (str, bytes)) else value
    return attrs


class _Source:
    """The rows of one fingerprint group in one file (or in memory).

    ``keys``: S16 array (n,). ``read(rows)`` takes sorted unique local rows and
    returns an array (len(rows), D); ``read_ids()`` all ids (n,) object.
    """

    path: Path
    keys: np.ndarray
    attrs: dict[str, Any]
    compression = "none"
    group: h5py.Group | None = None  # the open group of a file source, for a raw-chunk copy
    unique_keys = True  # False for an export, which may repeat a sequence under two ids
    n_aliases = 0  # rows of the stored alias table

    def __len__(self) -> int:
        return len(self.keys)

    def read_aliases(self) -> tuple[np.ndarray, np.ndarray]:
        """The stored alias table ``(ids (m,) object, keys (m,) S16)``; empty unless a file holds one."""
        return np.empty(0, dtype=object), np.empty(0, dtype=KEY_DTYPE)


class _H5Source(_Source):
    """A fingerprint group in an HDF5 file.

    With ``keep_open`` the datasets are read through the open group (the file
    may be deleted meanwhile: POSIX keeps it alive); without, the file is opened
    for each read: a writer's own segments, which no one else deletes while it
    holds the cache's lock, so that a long run keeps no file handle per segment.
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
            raise DamagedCacheError(f"cannot read {group.name}/keys ({exc}); {REPAIR_HINT}", path=path) from exc
        self.n_aliases = int(group[ALIAS_IDS].shape[0]) if ALIAS_IDS in group else 0
        self.compression = emb.compression or "none"
        self.checksummed = bool(emb.fletcher32)  # files written before checksums: no
        row_bytes = max(1, emb.dtype.itemsize * dim)
        self.chunk_rows = emb.chunks[0] if emb.chunks else max(1, CHUNK_BYTES // row_bytes)
        # Dataset handles are kept, not looked up per read: a group lookup costs
        # ~0.1 ms, ten times a one-row read (1,000 get_by_id calls: 0.03 s vs 0.22 s).
        self._open_datasets = (emb, ids) if keep_open else None
        self.group = group if keep_open else None

    @contextlib.contextmanager
    def _group(self) -> Iterator[h5py.Group]:
        if self.group is not None:
            yield self.group
            return
        with _open_h5(self.path) as f:
            yield f[self.group_name]

    def read_aliases(self) -> tuple[np.ndarray, np.ndarray]:
        with self._group() as g:
            if ALIAS_IDS not in g:
                return super().read_aliases()
            try:
                ids, keys = g[ALIAS_IDS], g[ALIAS_KEYS]
                values = ids.asstr()[()] if ids.shape[0] else np.empty(0, dtype=object)
                key_values = keys[()] if keys.shape[0] else np.empty(0, dtype=KEY_DTYPE)
                if keys.dtype != KEY_DTYPE or key_values.shape != values.shape:
                    raise OSError(f"{ALIAS_KEYS} {keys.shape} {keys.dtype} does not match {ALIAS_IDS} {ids.shape}")
                if ids_digest(values) != _attr_str(g.attrs.get(ALIAS_DIGEST, "")):
                    raise OSError("the alias ids do not match their digest")
                return values, key_values
            except (OSError, KeyError, UnicodeDecodeError) as exc:
                raise DamagedCacheError(
                    f"cannot read {self.group_name}/{ALIAS_IDS} ({exc}); {REPAIR_HINT}", path=self.path
                ) from exc

    @contextlib.contextmanager
    def _datasets(self) -> Iterator[tuple[h5py.Dataset, h5py.Dataset]]:
        if self._open_datasets is not None:
            yield self._open_datasets
            return
        with _open_h5(self.path) as f:
            yield f[self.group_name]["embeddings"], f[self.group_name]["ids"]

    def read(self, rows: np.ndarray) -> np.ndarray:
        with self._datasets() as (emb, _):
            try:
                return _read_rows(emb, rows, self.chunk_rows)
            except OSError as exc:
                raise DamagedCacheError(
                    f"cannot read {self.group_name}/embeddings ({exc}); {REPAIR_HINT}", path=self.path
                ) from exc

    def read_ids(self) -> np.ndarray:
        with self._datasets() as (_, ids):
            try:
                values = ids.asstr()[()] if ids.shape[0] else np.empty(0, dtype=object)
                sealed = self.attrs.get(IDS_DIGEST)  # files written before the digest: unchecked
                if sealed is not None and ids_digest(values) != sealed:
                    raise OSError("the ids do not match their digest")
                return values
            except (OSError, UnicodeDecodeError) as exc:
                raise DamagedCacheError(
                    f"cannot read {self.group_name}/ids ({exc}); {REPAIR_HINT}", path=self.path
                ) from exc


class _MemorySource(_Source):
    """Rows computed in this run and not yet written to a segment (a batch may repeat a key)."""

    unique_keys = False

    def __init__(self, batch: EmbeddingBatch, attrs: dict[str, Any]) -> None:
        self.path = Path("<memory>")
        self.keys, self.emb, self.attrs = batch.keys, batch.embeddings, attrs
        self.ids = np.asarray(batch.ids, dtype=object)

    def read(self, rows: np.ndarray) -> np.ndarray:
        return self.emb[rows]

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
    """Validate the layout of one cache, segment or export file; one source per fingerprint.

    Damaged HDF5 metadata (object headers, attributes, the group index) is a
    :class:`DamagedCacheError` naming the file, never an ``OSError``.
    """
    try:
        return _sources_in_file_unchecked(f, path, keep_open)
    except OSError as exc:
        raise DamagedCacheError(f"damaged HDF5 metadata ({exc}); {REPAIR_HINT}", path=path) from exc


def _sources_in_file_unchecked(f: h5py.File, path: Path, keep_open: bool) -> list[_H5Source]:
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


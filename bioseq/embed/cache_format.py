"""On-disk format of the embedding cache: constants, content keys, file names, new groups.

Everything that fixes what a cache, segment or export file looks like (the
``format`` attributes, key width, dataset names, chunking and compression
options) and where its companions live (``<cache>.parts/``, ``<cache>.lock``),
so that readers (:mod:`bioseq.embed.cache_sources`) and writers
(:mod:`bioseq.embed.cache_writer`, :mod:`bioseq.embed.embed`) agree. The design
is described in :mod:`bioseq.embed.cache` and docs/EMBEDDINGS.md.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bioseq._version import __version__
from bioseq.errors import ConfigError
from bioseq.io.sources import normalise_sequence

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


"""Per-position embeddings of short inputs, written as one ragged HDF5 file.

Layout (root of the file, written atomically):

* ``embeddings`` (sum of T_i, D) float32|float16 (``D`` is the trunk's width,
  which may differ from the pooled embedding's): every sequence's rows, one
  after the other, in input order;
* ``offsets`` (n + 1,) int64: sequence ``i`` is ``embeddings[offsets[i]:offsets[i+1]]``;
* ``ids`` (n,) str; attributes ``kind="positions"``, ``model_fingerprint``,
  ``arch``, ``embedding_dim``, ``tokenizer_config`` (JSON), ``bioseq_version``.

Per-position rows are not cached: they are large and rarely reused, and the
content-addressed cache (:mod:`bioseq.embed.cache`) holds pooled vectors.
"""

from __future__ import annotations

import json
import os
from typing import Any

import h5py
import numpy as np

from bioseq._version import __version__
from bioseq.errors import CacheError
from bioseq.io.atomic import atomic_path
from bioseq.io.sources import iter_source_columns

CHUNK = 1024  # records per model call group


def write_positions(
    model: Any,
    inputs: Any,
    output: str | os.PathLike[str],
    *,
    dtype: str = "float32",
    batch_size: int = 64,
    allow_empty: bool = False,
) -> int:
    """Embed every record of ``inputs`` position by position into ``output``; returns n."""
    n, total = 0, 0
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as f:
        emb = None  # created at the first batch: a position's width may differ from the pooled
        dim = int(model.embedding_dim)  # width (CNN-LSTM mean+max pooling doubles it)
        offsets = [0]
        ids_all: list[str] = []
        for ids, seqs in iter_source_columns(inputs, CHUNK, model.alphabet, allow_empty=allow_empty):
            arrays = model.embed_positions(seqs, batch_size=batch_size, ids=ids)
            if emb is None and arrays:
                dim = int(arrays[0].shape[1])
                emb = f.create_dataset("embeddings", (0, dim), dtype=dtype, maxshape=(None, dim), chunks=(1024, dim))
            if not arrays:
                continue
            rows = np.concatenate(arrays)
            emb.resize(total + len(rows), axis=0)
            emb[total:] = rows.astype(dtype)
            total += len(rows)
            offsets.extend(np.cumsum([len(a) for a in arrays]) + offsets[-1])
            ids_all.extend(ids)
            n += len(ids)
        if emb is None:
            f.create_dataset("embeddings", (0, dim), dtype=dtype, maxshape=(None, dim))
        f.create_dataset("offsets", data=np.asarray(offsets, np.int64))
        f.create_dataset("ids", data=np.asarray(ids_all, dtype=object), dtype=h5py.string_dtype())
        f.attrs.update(
            kind="positions",
            model_fingerprint=model.fingerprint,
            arch=str(getattr(model, "arch", "")),
            embedding_dim=dim,  # per position
            tokenizer_config=json.dumps(model.tokenizer.config(), sort_keys=True),
            bioseq_version=__version__,
        )
    return n


def read_positions(path: str | os.PathLike[str], record_id: str) -> np.ndarray:
    """The ``(T, D)`` per-position embedding of one record from a file of :func:`write_positions`."""
    try:
        with h5py.File(path, "r") as f:
            ids = [i.decode() if isinstance(i, bytes) else i for i in f["ids"][:]]
            try:
                row = ids.index(record_id)
            except ValueError:
                raise CacheError(f"no record {record_id!r} in this file", path=path) from None
            start, stop = f["offsets"][row : row + 2]
            return f["embeddings"][start:stop].astype(np.float32)
    except (OSError, KeyError) as exc:
        raise CacheError(f"not a per-position embedding file ({exc})", path=path) from None

"""Content-addressed HDF5 cache of per-sequence embeddings: reading it back.

Why content-addressed: the same sequence under another id (a duplicate in one
FASTA, or the same promoter in next week's file) must cost nothing to embed
again, and a cache filled by one model must never answer for another. Every
row is therefore keyed by ``sha256(model_fingerprint + "\\0" + sequence)[:16]``
(sequence upper-cased, whitespace removed) and stored in a group per model
fingerprint. Writing (crash-safe journal segments folded by an atomic rename)
is :mod:`bioseq.embed.cache_writer`; the layout is
:mod:`bioseq.embed.cache_format`; the design is in docs/EMBEDDINGS.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bioseq.embed.cache_format import EmbeddingBatch, sequence_keys
from bioseq.embed.cache_view import _Opened, _View
from bioseq.errors import CacheError, ConfigError

__all__ = ["EmbeddingCache", "MissingEmbeddingError", "describe"]


class MissingEmbeddingError(CacheError, KeyError):
    """The cache holds no row for the requested id or sequence (also a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


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
        self._opened = _Opened(self.path, missing_ok=False)  # retries if a writer folds meanwhile
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

    def iter_chunks(self, chunk_size: int = 65536) -> Iterator[EmbeddingBatch]:
        """All rows in row order, in batches of at most ``chunk_size`` (a batch never spans two files).

        Each is an :class:`EmbeddingBatch` ``(ids, keys, embeddings)``: ids a list (m,),
        keys ``S16`` (m,), embeddings (m, D).
        """
        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
        return self.view.iter_parts(chunk_size)

    def to_numpy(self) -> np.ndarray:
        """All embeddings (len(self), D) in row order."""
        parts = [batch.embeddings for batch in self.view.iter_parts()]
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

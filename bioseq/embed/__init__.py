"""Embeddings and the content-addressed HDF5 cache.

* :func:`embed` / :func:`iter_embed` / :func:`embed_to_file`: pooled
  per-sequence embeddings (the input of the head), computed once per unique
  sequence and model, through an optional cache.
* :class:`EmbeddingCache`: read a cache (or an export) back.
* :class:`CacheWriter`, :class:`ExportWriter`: the writers; each takes
  :class:`EmbeddingBatch` ``(ids, keys, embeddings)`` batches
  (:class:`bioseq.io.atomic.AtomicWriter`).
* :func:`merge_caches`, :func:`compact`: combine per-job caches; fold segments.
* :func:`fit_head`, :func:`load_head`, :func:`predict_with_head`: a
  logistic-regression head on cached embeddings.

Layout and crash-safety design: docs/EMBEDDINGS.md.
"""

from __future__ import annotations

from bioseq.embed.cache import EmbeddingCache, MissingEmbeddingError, describe
from bioseq.embed.cache_format import EmbeddingBatch, normalise_sequence, sequence_key, sequence_keys
from bioseq.embed.cache_writer import CacheWriter, compact, merge_caches
from bioseq.embed.embed import EmbedStats, ExportWriter, embed, embed_to_file, iter_embed
from bioseq.embed.head import Head, fit_head, load_head, predict_with_head, save_head

__all__ = [
    "CacheWriter",
    "EmbedStats",
    "EmbeddingBatch",
    "EmbeddingCache",
    "ExportWriter",
    "Head",
    "MissingEmbeddingError",
    "compact",
    "describe",
    "embed",
    "embed_to_file",
    "fit_head",
    "iter_embed",
    "load_head",
    "merge_caches",
    "normalise_sequence",
    "predict_with_head",
    "save_head",
    "sequence_key",
    "sequence_keys",
]

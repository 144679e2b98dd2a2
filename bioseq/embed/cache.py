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

The code lives in one module per job; this module re-exports their names, so
``from bioseq.embed.cache import ...`` keeps working for every caller:

* :mod:`bioseq.embed.cache_format`: constants, content keys, file names, new groups;
* :mod:`bioseq.embed.cache_lock`: the ``flock`` coordination of writers;
* :mod:`bioseq.embed.cache_sources`: reading and checking one file;
* :mod:`bioseq.embed.cache_view`: the key index, deduplicated views, opening a cache;
* :mod:`bioseq.embed.cache_writer`: writing files, folding, :class:`CacheWriter`, :func:`compact`;
* :mod:`bioseq.embed.cache_reader`: :class:`EmbeddingCache`, :func:`describe`.
"""

from __future__ import annotations

# Private names too: bioseq.embed.merge, bioseq.embed.embed and the tests import them from here.
from bioseq.embed.cache_format import (  # noqa: F401 - re-exported
    CHUNK_BYTES,
    CHUNK_BYTES_COMPRESSED,
    COMPRESSIONS,
    DTYPES,
    FORMAT,
    FORMAT_VERSION,
    GZIP_LEVEL,
    KEY_BYTES,
    KEY_DTYPE,
    _create_datasets,
    _list_segments,
    _now,
    check_options,
    lock_path,
    normalise_sequence,
    parts_dir,
    sequence_key,
    sequence_keys,
)
from bioseq.embed.cache_lock import _Lock  # noqa: F401 - re-exported
from bioseq.embed.cache_reader import (  # noqa: F401 - re-exported
    EmbeddingCache,
    MissingEmbeddingError,
    describe,
)
from bioseq.embed.cache_sources import _read_rows  # noqa: F401 - re-exported
from bioseq.embed.cache_view import (  # noqa: F401 - re-exported
    _KeyIndex,
    _Opened,
    _View,
)
from bioseq.embed.cache_writer import (  # noqa: F401 - re-exported
    CacheWriter,
    _fsync_dir,
    _remove_stale_temps,
    _write_cache_file,
    compact,
)

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


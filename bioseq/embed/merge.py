"""Merge embedding caches: how parallel jobs combine their work.

Snakemake runs one job per shard at once; on a shared local disk they may all
write one cache (writers coordinate through ``flock``, see
:mod:`bioseq.embed.cache`), but on a cluster filesystem where locks are not
reliable each job writes its own cache and one ``bioseq cache merge OUT IN...``
combines them:

* rows are deduplicated by content key (first input wins, so ids are those
  first seen), in input order: merging contiguous shards in order gives the
  rows, ids and values of a single-process run;
* one group per model fingerprint; a fingerprint whose inputs disagree on
  embedding dim, dtype or tokenizer config is refused (CacheError naming both files);
* ``OUT`` may already exist: its rows come first (its segments are folded in);
* the result is written to a temporary file and renamed (atomic), holding the
  exclusive lock of ``OUT``, so an interrupted merge leaves ``OUT`` as it was.

Inputs may be caches (with their ``.parts`` segments) or ``bioseq embed -o`` exports.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from bioseq.embed.cache import (
    _fsync_dir,
    _list_segments,
    _Lock,
    _Opened,
    _remove_stale_temps,
    _View,
    _write_cache_file,
    check_options,
    parts_dir,
)
from bioseq.errors import CacheError

__all__ = ["merge_caches"]


def merge_caches(
    output: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    compression: str | None = None,
) -> dict[str, int]:
    """Merge ``inputs`` into the cache ``output`` (created or extended).

    Args:
        output: the cache to write; existing rows (and segments) are kept first.
        inputs: caches or exports to add, in order.
        compression: ``none|lzf|gzip``; default: that of ``output`` if it exists,
            else of the first input.

    Returns:
        rows per model fingerprint in the merged cache.
    """
    check_options(compression=compression)
    out = Path(output)
    if not inputs:
        raise CacheError("no input caches to merge", path=out)
    ins = [Path(p) for p in inputs]
    for p in ins:
        if not p.exists() and not _list_segments(p):
            raise CacheError("no embedding cache here", path=p)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = _Lock(out, create=True)
    opened: list[_Opened] = []
    try:
        lock.acquire(exclusive=True)
        _remove_stale_temps(out)
        out_opened = _Opened(out, missing_ok=True)
        opened.append(out_opened)
        seen = {out.resolve()}
        for p in ins:
            if p.resolve() in seen:
                continue  # OUT listed as an input, or an input twice
            seen.add(p.resolve())
            in_lock = _Lock(p, create=False)
            try:
                in_lock.acquire(exclusive=False)
                opened.append(_Opened(p, missing_ok=False))
            finally:
                in_lock.release()
                in_lock.close()
        merged: dict[str, _View] = {}
        for op in opened:
            for fp, view in op.views.items():
                target = merged.get(fp)
                if target is None:
                    target = merged[fp] = _View(view.attrs)
                for src, kept in zip(view.sources, view.kept, strict=True):
                    target.add_source(src, kept, dedupe_within=True)
        if compression is None:
            compression = out_opened.root_compression()
            if compression is None and len(opened) > 1:
                compression = opened[1].root_compression()
        counts = _write_cache_file(out, [merged[fp] for fp in sorted(merged)], compression or "none")
        _fsync_dir(out.parent)
        for seg in out_opened.segments:
            with contextlib.suppress(FileNotFoundError):
                seg.unlink()
        with contextlib.suppress(OSError):
            parts_dir(out).rmdir()
        lock.remove()
        return counts
    finally:
        for op in opened:
            op.close()
        lock.release()
        lock.close()

"""Figures of genome scans and variant effects, for a report: the track along the genome with its
peaks, and the variants with the largest effects (a table and a bar plot).

Both read the files ``bioseq scan`` / ``variant-effect`` write, streaming: a genome-wide bedGraph
(tens of millions of lines) is reduced on the fly to at most ``buckets`` points (the maximum of
the bins in each), and the effects table to its ``n`` largest rows.
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bioseq.errors import InputFormatError
from bioseq.io.atomic import atomic_open, atomic_path
from bioseq.io.formats import decoding_errors_named

BLOCK = 100_000  # bedGraph lines reduced at a time
MAX_PEAK_MARKS = 10_000
MAX_CHROM_LABELS = 40


def iter_bed_lines(path: str | os.PathLike[str], min_fields: int) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of a BED-like file; track/browser/comment lines skipped, a line
    with fewer than ``min_fields`` tab-separated fields is an error naming the file and line."""
    with open(path, encoding="utf-8") as fh, decoding_errors_named(path, "a bedGraph/BED text file"):
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < min_fields:
                raise InputFormatError(f"expected at least {min_fields} tab-separated columns", path=path, line=lineno)
            yield lineno, fields


def read_chrom_sizes(path: str | os.PathLike[str]) -> dict[str, int]:
    """``{chrom: length}`` of a chrom.sizes file (``bioseq chrom-sizes``), in file order."""
    sizes = {}
    for lineno, (chrom, size, *_rest) in iter_bed_lines(path, 2):
        if not size.isdigit():
            raise InputFormatError(f"length {size!r} of {chrom} is not a number", path=path, line=lineno)
        sizes[chrom] = int(size)
    return sizes


def _track_extent(path: str | os.PathLike[str]) -> dict[str, int]:
    """``{chrom: largest end}`` in order of appearance: the genome's layout when no sizes are given."""
    ends: dict[str, int] = {}
    for _lineno, (chrom, _start, end, *_rest) in iter_bed_lines(path, 4):
        ends[chrom] = max(ends.get(chrom, 0), int(end))
    return ends


@dataclass
class TrackSummary:
    """A track reduced for plotting: ``values`` float64 ``(n_buckets,)``, the largest value of the
    bins whose centre falls in each ``bucket``-letter bucket of the concatenated chromosomes (NaN:
    no bin); ``offsets`` the first letter of each chromosome in that concatenation."""

    values: np.ndarray
    bucket: int
    offsets: dict[str, int]
    sizes: dict[str, int]


def summarize_track(
    path: str | os.PathLike[str], sizes: dict[str, int] | None = None, buckets: int = 2000
) -> TrackSummary:
    """Reduce the bedGraph ``path`` to at most ``buckets`` points (:class:`TrackSummary`). A bucket
    is never narrower than the track's bins, so a small genome's bins stay joined by a line."""
    sizes = dict(sizes) if sizes is not None else _track_extent(path)
    offsets, total = {}, 0
    for chrom, size in sizes.items():
        offsets[chrom], total = total, total + size
    bucket, values = None, np.zeros(0)
    idx: list[int] = []
    vals: list[float] = []
    for lineno, (chrom, start, end, value, *_rest) in iter_bed_lines(path, 4):
        if chrom not in offsets:
            raise InputFormatError(f"chromosome {chrom!r} is not in the genome's chromosome list", path=path,
                                   line=lineno)
        try:
            s, e, v = int(start), int(end), float(value)
        except ValueError:
            raise InputFormatError("start, end and value must be numbers", path=path, line=lineno) from None
        if bucket is None:
            bucket = max(1, math.ceil(total / buckets), e - s)
            values = np.full(max(1, math.ceil(total / bucket)), np.nan)
        idx.append(min((offsets[chrom] + (s + e) // 2) // bucket, len(values) - 1))
        vals.append(v)
        if len(idx) >= BLOCK:
            np.fmax.at(values, idx, vals)
            idx, vals = [], []
    if bucket is None:
        bucket = max(1, math.ceil(total / buckets))
        values = np.full(max(1, math.ceil(total / bucket)), np.nan)
    np.fmax.at(values, np.asarray(idx, np.int64), np.asarray(vals, np.float64))
    return TrackSummary(values, bucket, offsets, sizes)


def _peak_centres(path: str | os.PathLike[str], offsets: dict[str, int]) -> list[float]:
    """Genome-wide centres of the first peaks of a BED file (chromosomes not in ``offsets`` skipped)."""
    centres = []
    for _lineno, (chrom, start, end, *_rest) in iter_bed_lines(path, 3):
        if chrom in offsets:
            centres.append(offsets[chrom] + (int(start) + int(end)) / 2)
            if len(centres) >= MAX_PEAK_MARKS:
                break
    return centres


def plot_track(
    track: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    peaks: str | os.PathLike[str] | None = None,
    chrom_sizes: str | os.PathLike[str] | None = None,
    threshold: float | None = None,
    title: str | None = None,
) -> TrackSummary:
    """PNG (or any format matplotlib knows from the suffix) of a scan track along the genome:
    chromosomes side by side in ``chrom_sizes`` order (default: the track's), alternating colours,
    peaks marked above the track, the peak threshold dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize_track(track, None if chrom_sizes is None else read_chrom_sizes(chrom_sizes))
    fig, ax = plt.subplots(figsize=(12, 3.5))
    x_mb = (np.arange(len(summary.values)) + 0.5) * summary.bucket / 1e6
    for i, (chrom, start) in enumerate(summary.offsets.items()):
        lo, hi = start // summary.bucket, -(-(start + summary.sizes[chrom]) // summary.bucket)
        ax.plot(x_mb[lo:hi], summary.values[lo:hi], lw=0.8, marker="." if hi - lo < 200 else None, ms=3,
                color="C0" if i % 2 == 0 else "C9")
        if i:
            ax.axvline(start / 1e6, color="0.85", lw=0.6, zorder=0)
    if peaks is not None:
        centres = _peak_centres(peaks, summary.offsets)
        ax.plot(np.asarray(centres) / 1e6, np.full(len(centres), 1.04), "v", color="C3", ms=4, label="peaks",
                clip_on=False)
    if threshold is not None:
        ax.axhline(threshold, color="C3", ls="--", lw=0.8, label=f"threshold {threshold:g}")
    if len(summary.offsets) <= MAX_CHROM_LABELS:
        ticks = [(s + summary.sizes[c] / 2) / 1e6 for c, s in summary.offsets.items()]
        ax.set_xticks(ticks, list(summary.offsets), rotation=90 if len(ticks) > 12 else 0, fontsize=8)
        ax.set_xlabel("chromosome")
    else:
        ax.set_xlabel("genome position (Mb, chromosomes in .fai order)")
    ax.set_ylim(-0.02, 1.08)
    ax.set_xlim(0, max(sum(summary.sizes.values()), 1) / 1e6)
    ax.set_ylabel("probability (max per point)")
    ax.set_title(title or os.path.basename(os.fspath(track)))
    if peaks is not None or threshold is not None:
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    _save(fig, output)
    return summary


def _save(fig: Any, output: str | os.PathLike[str]) -> None:
    import matplotlib.pyplot as plt

    fmt = os.path.splitext(os.fspath(output))[1].lstrip(".") or "png"
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------ variant effects
TOP_COLUMNS = ("rank", "chrom", "pos", "id", "ref", "alt", "class", "ref_prob", "alt_prob", "delta", "log2fc")


def _effect_columns(header: list[str], path: str | os.PathLike[str]) -> list[str]:
    """The classes of an effects table: those with all of ``ref_``, ``alt_``, ``delta_``, ``log2fc_``."""
    classes = [c[len("delta_"):] for c in header if c.startswith("delta_")]
    if header[:5] != ["chrom", "pos", "id", "ref", "alt"] or not classes:
        raise InputFormatError("not a variant-effect table (chrom pos id ref alt, then ref_/alt_/delta_/log2fc_ "
                               "columns per class)", path=path, line=1)
    missing = [f"{s}_{c}" for c in classes for s in ("ref", "alt", "log2fc") if f"{s}_{c}" not in header]
    if missing:
        raise InputFormatError(f"column {missing[0]} is missing", path=path, line=1)
    return classes


def top_effects(
    effects: str | os.PathLike[str], n: int = 20, class_name: str | None = None
) -> tuple[list[tuple[Any, ...]], list[str]]:
    """The ``n`` variants (rows of a ``bioseq variant-effect`` table) with the largest |delta|, largest
    first: rows of :data:`TOP_COLUMNS`, and the table's classes. ``class_name``: rank by that
    class; default: the positive class of a two-class table, else each variant's largest effect."""
    with open(effects, encoding="utf-8") as fh, decoding_errors_named(effects, "a variant-effect table"):
        header = fh.readline().rstrip("\r\n").split("\t")
        classes = _effect_columns(header, effects)
        if class_name is not None and class_name not in classes:
            raise InputFormatError(f"no class {class_name!r} in the table (classes: {', '.join(classes)})",
                                   path=effects)
        col = {name: i for i, name in enumerate(header)}
        fixed = class_name or (classes[1] if len(classes) == 2 else None)
        ranked = (fixed,) if fixed is not None else tuple(classes)

        def rows() -> Iterator[tuple[float, int, tuple[Any, ...]]]:
            for lineno, line in enumerate(fh, start=2):
                f = line.rstrip("\r\n").split("\t")
                if len(f) != len(header):
                    raise InputFormatError(f"{len(f)} columns, the header has {len(header)}", path=effects,
                                           line=lineno)
                c = max(ranked, key=lambda c: abs(float(f[col[f"delta_{c}"]])))
                stats = tuple(float(f[col[f"{s}_{c}"]]) for s in ("ref", "alt", "delta", "log2fc"))
                yield abs(stats[2]), -lineno, (f[0], int(f[1]), f[2], f[3], f[4], c, *stats)

        try:
            best = heapq.nlargest(n, rows(), key=lambda r: r[:2])
        except ValueError as exc:
            raise InputFormatError(f"a value is not a number ({exc})", path=effects) from None
    return [(i + 1, *row) for i, (_, _, row) in enumerate(best)], classes


def write_top_effects(
    effects: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    n: int = 20,
    class_name: str | None = None,
    plot: str | os.PathLike[str] | None = None,
) -> int:
    """Write :func:`top_effects` as a TSV (``output``) and, with ``plot``, a bar plot of their
    deltas (largest on top; label ``id chrom:pos ref>alt``); return the number of rows."""
    rows, _classes = top_effects(effects, n, class_name)
    with atomic_open(output, "w") as fh:
        fh.write("\t".join(TOP_COLUMNS) + "\n")
        for row in rows:
            fh.write("\t".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row) + "\n")
    if plot is not None:
        _plot_top(rows, plot, os.path.basename(os.fspath(effects)))
    return len(rows)


def _plot_top(rows: list[tuple[Any, ...]], output: str | os.PathLike[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.3 * max(len(rows), 1)))
    labels = [f"{r[3]} {r[1]}:{r[2]} {r[4][:8]}>{r[5][:8]} ({r[6]})" for r in rows]
    deltas = [r[9] for r in rows]
    y = np.arange(len(rows))[::-1]
    ax.barh(y, deltas, color=["C3" if d < 0 else "C0" for d in deltas])
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("delta (alt - ref probability)")
    ax.set_title(f"{title}: {len(rows)} largest effects" if rows else f"{title}: no variant scored")
    fig.tight_layout()
    _save(fig, output)

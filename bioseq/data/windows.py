"""The long-input policy: what happens to a sequence longer than a model accepts.

A net accepts at most ``max_tokens`` tokens (a hyper-parameter); with a k-mer
tokenizer of stride ``s`` that is ``max_bases = (max_tokens - 1) * s + k`` letters
(:func:`max_bases`). Longer sequences are cut by one of :data:`LONG_POLICIES`:

* ``truncate``: keep the first ``max_len`` letters (protein N-terminus, signal peptides);
* ``center``: keep the central ``max_len`` letters (sequences centred on a TSS or peak);
* ``windows``: sliding windows of ``max_len`` with ``overlap`` letters shared
  between neighbours, covering the whole sequence, the last window aligned to
  the end; the window probabilities are then averaged per sequence
  (:func:`aggregate`), so every letter of every record contributes to its
  prediction (Selene#83 silently covered only part of the input).

Defaults: **prediction and embedding use ``windows``** (nothing dropped); for
**training** the trainer takes :func:`random_crop` (a new random window each
epoch: cheap augmentation) and validation uses ``center`` (deterministic).
Sequences no longer than ``max_len`` always pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

from bioseq.errors import ConfigError

LONG_POLICIES = ("truncate", "center", "windows")
DEFAULT_PREDICT_POLICY = "windows"

S = TypeVar("S", str, np.ndarray)


def max_bases(max_tokens: int, k: int = 1, stride: int = 1) -> int:
    """Letters covered by ``max_tokens`` k-mer tokens taken every ``stride`` letters."""
    if max_tokens < 1 or k < 1 or stride < 1:
        raise ConfigError(f"max_tokens, k and stride must be >= 1, got {max_tokens}, {k}, {stride}")
    return (max_tokens - 1) * stride + k


def window_starts(length: int, max_len: int, step: int) -> list[int]:
    """Start offsets of windows of ``max_len`` every ``step`` letters over ``length``
    letters, plus one aligned to the end when the steps do not land there."""
    if max_len < 1 or step < 1:
        raise ConfigError(f"window length and step must be >= 1, got {max_len} and {step}")
    if length <= max_len:
        return [0]
    last = length - max_len
    starts = list(range(0, last + 1, step))
    if starts[-1] != last:
        starts.append(last)
    return starts


def windows(seq: str, max_len: int, stride: int) -> list[str]:
    """Windows of ``max_len`` letters starting every ``stride`` letters, the last one
    aligned to the end; ``[seq]`` when ``len(seq) <= max_len``."""
    return [seq[s : s + max_len] for s in window_starts(len(seq), max_len, stride)]


def apply_policy(
    seq: str, max_len_bases: int, policy: str = DEFAULT_PREDICT_POLICY, overlap: int = 0
) -> list[str]:
    """Cut ``seq`` to at most ``max_len_bases`` letters by ``policy``; returns the pieces.

    ``overlap`` (``windows`` only) is the number of letters neighbouring windows
    share; it must be smaller than ``max_len_bases``.
    """
    if policy not in LONG_POLICIES:
        raise ConfigError(f"unknown long-input policy {policy!r}; choose one of {', '.join(LONG_POLICIES)}")
    if max_len_bases < 1:
        raise ConfigError(f"max_len_bases must be >= 1, got {max_len_bases}")
    if len(seq) <= max_len_bases:
        return [seq]
    if policy == "truncate":
        return [seq[:max_len_bases]]
    if policy == "center":
        start = (len(seq) - max_len_bases) // 2
        return [seq[start : start + max_len_bases]]
    if not 0 <= overlap < max_len_bases:
        raise ConfigError(f"window overlap must be in [0, {max_len_bases}), got {overlap}")
    return windows(seq, max_len_bases, max_len_bases - overlap)


def apply_policy_batch(
    seqs: Sequence[str], max_len_bases: int, policy: str = DEFAULT_PREDICT_POLICY, overlap: int = 0
) -> tuple[list[str], np.ndarray]:
    """:func:`apply_policy` over a batch: the pieces, and ``owners`` (n_pieces,) int64,
    the index in ``seqs`` each piece came from (input to :func:`aggregate`)."""
    pieces: list[str] = []
    owners: list[int] = []
    for i, s in enumerate(seqs):
        cut = apply_policy(s, max_len_bases, policy, overlap)
        pieces.extend(cut)
        owners.extend([i] * len(cut))
    return pieces, np.asarray(owners, dtype=np.int64)


def iter_piece_groups(
    seqs: Sequence[str], max_len_bases: int | None, policy: str = DEFAULT_PREDICT_POLICY, overlap: int = 0,
    limit: int = 4096,
) -> Iterator[tuple[list[str], np.ndarray]]:
    """:func:`apply_policy_batch` in groups of at most ``limit`` pieces, made lazily.

    A 50 Mb record cut into 1 kb windows is 100k windows: made all at once they
    would cost gigabytes, in groups they cost ``limit`` windows at a time
    whatever the record's length. ``max_len_bases=None``: every sequence is one
    piece. Yields ``(pieces, owners)`` as :func:`apply_policy_batch` does, in order.
    """
    if limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    pieces: list[str] = []
    owners: list[int] = []
    for i, s in enumerate(seqs):
        if max_len_bases is None or len(s) <= max_len_bases or policy != "windows":
            cuts: Iterable[str] = [s] if max_len_bases is None else apply_policy(s, max_len_bases, policy, overlap)
        else:
            if not 0 <= overlap < max_len_bases:
                raise ConfigError(f"window overlap must be in [0, {max_len_bases}), got {overlap}")
            starts = window_starts(len(s), max_len_bases, max_len_bases - overlap)
            cuts = (s[a : a + max_len_bases] for a in starts)
        for piece in cuts:
            pieces.append(piece)
            owners.append(i)
            if len(pieces) == limit:
                yield pieces, np.asarray(owners, dtype=np.int64)
                pieces, owners = [], []
    if pieces:
        yield pieces, np.asarray(owners, dtype=np.int64)


def count_pieces(seqs: Sequence[str], max_len_bases: int | None, policy: str, overlap: int = 0) -> int:
    """How many pieces :func:`iter_piece_groups` will make (arithmetic only: no slicing)."""
    if max_len_bases is None or policy != "windows":
        return len(seqs)
    step = max_len_bases - overlap
    return sum(1 if len(s) <= max_len_bases else len(window_starts(len(s), max_len_bases, step)) for s in seqs)


def aggregate(probs: np.ndarray, owners: np.ndarray, n_seqs: int) -> np.ndarray:
    """Mean of window rows per sequence.

    Args:
        probs: (n_windows, C) probabilities (or embeddings) of the windows.
        owners: (n_windows,) index of the sequence each window belongs to.
        n_seqs: number of sequences.

    Returns:
        (n_seqs, C), same float dtype as ``probs``.
    """
    probs = np.asarray(probs)
    owners = np.asarray(owners, dtype=np.int64)
    if probs.ndim != 2 or owners.shape != (probs.shape[0],):
        raise ConfigError(
            f"aggregate needs probs (n, C) and owners (n,), got {probs.shape} and {owners.shape}"
        )
    if owners.size and (owners.min() < 0 or owners.max() >= n_seqs):
        raise ConfigError(f"window owners must lie in [0, {n_seqs})")
    counts = np.bincount(owners, minlength=n_seqs)
    if (counts == 0).any():
        missing = int(np.flatnonzero(counts == 0)[0])
        raise ConfigError(f"sequence {missing} has no window to aggregate")
    sums = np.stack(
        [np.bincount(owners, weights=probs[:, j], minlength=n_seqs) for j in range(probs.shape[1])], axis=1
    ).reshape(n_seqs, probs.shape[1])
    out_dtype = probs.dtype if np.issubdtype(probs.dtype, np.floating) else np.float32
    return (sums / counts[:, None]).astype(out_dtype)


def random_crop(seq: S, max_len: int, rng: np.random.Generator) -> S:
    """A uniformly random window of ``max_len`` letters (``seq`` itself when not longer).

    Works on anything sliceable: a ``str`` of letters or a 1-D token array (the
    trainer crops token arrays to ``max_tokens``).
    """
    if max_len < 1:
        raise ConfigError(f"max_len must be >= 1, got {max_len}")
    if len(seq) <= max_len:
        return seq
    start = int(rng.integers(0, len(seq) - max_len + 1))
    return seq[start : start + max_len]

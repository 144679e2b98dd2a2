"""Span masking of k-mer tokens for masked-token pretraining (BERT's objective, DNABERT's spans).

Overlapping k-mers leak their neighbours: with k=6 and stride 1 a masked token
is spelled out by the five tokens on each side, so masking single tokens
teaches the net to copy, not to model sequence (Ji et al. 2021 mask six
contiguous 6-mers for that reason). Here positions are chosen as contiguous
spans of at least :func:`min_span` tokens: token ``i`` covers bases
``[i*s, i*s + k)``, and a span of ``n`` tokens leaves the bases
``[(a-1)*s + k, (b+1)*s)`` covered by no unmasked token; that gap is non-empty
(and meets every token of the span) when ``(n + 1) * s > k``, i.e.
``n >= floor(k / s)``. So every predicted token has at least one base that no
visible token shows.

About ``rate`` of each sequence's tokens are chosen (spans may overlap and
merge, so slightly fewer on average). As in BERT, each chosen run is replaced
by ``MASK`` (80 %), by random k-mer ids (10 %) or kept (10 %); the choice is
made per merged run, not per token, so a kept token never reveals the bases of
a masked neighbour in its own run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bioseq.errors import ConfigError
from bioseq.tokenize import MASK, N_SPECIAL

IGNORE = -100  # target of a position that is not predicted (torch's cross_entropy ignore_index)
MASK_RATE = 0.15
REPLACE_PROBS = (0.8, 0.1, 0.1)  # mask, random token, keep
DECISION_MASK, DECISION_RANDOM, DECISION_KEEP = 0, 1, 2


def min_span(k: int, stride: int) -> int:
    """The shortest span of tokens whose every token keeps a hidden base: ``max(1, k // stride)``."""
    return max(1, int(k) // int(stride))


@dataclass
class MaskedBatch:
    """One corrupted batch.

    Attributes:
        inputs: int64 ``(B, T)``: the token ids the net sees.
        targets: int64 ``(B, T)``: the original id at chosen positions, :data:`IGNORE` elsewhere.
        decision: int8 ``(B, T)``: ``-1`` where not chosen, else :data:`DECISION_MASK`,
            :data:`DECISION_RANDOM` or :data:`DECISION_KEEP`.
    """

    inputs: np.ndarray
    targets: np.ndarray
    decision: np.ndarray


def choose_spans(lengths: np.ndarray, width: int, span: int, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Boolean ``(B, width)``: about ``rate`` of each row's first ``lengths[b]`` positions, in
    spans of ``span`` (a row shorter than ``span`` is chosen whole); padding is never chosen."""
    chosen = np.zeros((len(lengths), width + 1), bool)  # a spare column keeps runs of two rows apart
    for b, n in enumerate(np.asarray(lengths, np.int64)):
        if n < 1:
            continue
        w = min(span, int(n))
        n_spans = int(np.ceil(max(1.0, rate * n) / w))
        starts = rng.integers(0, n - w + 1, size=n_spans)
        chosen[b, (starts[:, None] + np.arange(w)).ravel()] = True
    return chosen[:, :width]


def mask_batch(
    ids: np.ndarray,
    lengths: np.ndarray,
    *,
    span: int,
    vocab_size: int,
    rng: np.random.Generator,
    rate: float = MASK_RATE,
    probs: tuple[float, float, float] = REPLACE_PROBS,
) -> MaskedBatch:
    """Corrupt a padded batch of token ids ``(B, T)`` (``lengths (B,)`` real tokens per row).

    Raises:
        ConfigError: ``rate`` outside (0, 1], ``span < 1`` or a vocabulary without k-mer ids.
    """
    if not 0.0 < rate <= 1.0 or span < 1 or vocab_size <= N_SPECIAL:
        raise ConfigError(f"masking needs 0 < rate <= 1, span >= 1 and k-mer ids (rate {rate}, span {span})")
    ids = np.asarray(ids, np.int64)
    chosen = choose_spans(lengths, ids.shape[1], span, rng, rate)
    flat = np.concatenate([chosen, np.zeros((len(ids), 1), bool)], axis=1).ravel()
    starts = flat & ~np.concatenate([[False], flat[:-1]])
    run = np.cumsum(starts) - 1  # run index of each chosen position
    per_run = rng.choice(3, size=int(starts.sum()), p=np.asarray(probs, np.float64))
    decision = np.full(flat.shape, -1, np.int8)
    decision[flat] = per_run[run[flat]]
    decision = decision.reshape(len(ids), -1)[:, :-1]
    inputs = ids.copy()
    inputs[decision == DECISION_MASK] = MASK
    is_random = decision == DECISION_RANDOM
    inputs[is_random] = rng.integers(N_SPECIAL, vocab_size, size=int(is_random.sum()))
    targets = np.where(chosen, ids, IGNORE)
    return MaskedBatch(inputs, targets, decision)

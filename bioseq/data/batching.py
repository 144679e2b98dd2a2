"""Batching: padding + masks, and length-bucketed batch sampling.

* :func:`collate` pads a list of token arrays into ``ids`` (B, T) int64 with
  PAD = 0 and a boolean ``mask`` (B, T), True = real token.
* :class:`LengthBucketSampler` yields lists of indices whose sequences have
  similar lengths, so little compute is spent on padding. It shuffles the data,
  cuts it into large pools (``batch_size * bucket_size_multiplier``), sorts each
  pool by length, cuts batches and shuffles the batch order (the scheme of
  AllenNLP's and torchtext's bucket iterators). Deterministic for a given
  ``seed`` and :meth:`~LengthBucketSampler.set_epoch`. With ``world_size > 1``
  each DDP rank gets a disjoint subset of the batches, the same number on every
  rank (DDP hangs otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from bioseq.errors import ConfigError

PAD_ID = 0


def collate(token_arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token arrays to the longest one.

    Args:
        token_arrays: B one-dimensional integer arrays (lengths >= 1).

    Returns:
        ``ids``: LongTensor (B, T), PAD (0) after each sequence's end;
        ``mask``: BoolTensor (B, T), True at real tokens.
    """
    if len(token_arrays) == 0:
        raise ConfigError("cannot collate an empty batch")
    lengths = np.fromiter((len(a) for a in token_arrays), dtype=np.int64, count=len(token_arrays))
    t = int(lengths.max())
    ids = np.full((len(token_arrays), t), PAD_ID, dtype=np.int64)
    for i, a in enumerate(token_arrays):
        ids[i, : len(a)] = a
    mask = np.arange(t)[None, :] < lengths[:, None]
    return torch.from_numpy(ids), torch.from_numpy(mask)


def padded_to_list(tokens: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """Split ``encode_batch`` output (n, T) + lengths (n,) into n unpadded arrays (views)."""
    return [tokens[i, : int(n)] for i, n in enumerate(lengths)]


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of indices with similar lengths.

    Args:
        lengths: (n,) token counts, one per sequence.
        batch_size: sequences per batch.
        shuffle: shuffle pools and batch order (training); False keeps the input
            order of the pools and batches (still sorted inside each pool).
        seed: base seed; the epoch's permutation uses ``(seed, epoch)``.
        bucket_size_multiplier: a pool holds ``batch_size * multiplier`` sequences.
        drop_last: drop the epoch's final short batch (short batches of the pools
            are merged at the end, so at most one is short) and, with several
            ranks, the surplus batches instead of repeating some.
        rank, world_size: this process's DDP rank and the number of ranks.

    Every index appears exactly once per epoch when ``world_size == 1`` and
    ``drop_last`` is False.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        bucket_size_multiplier: int = 50,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if bucket_size_multiplier < 1:
            raise ConfigError(f"bucket_size_multiplier must be >= 1, got {bucket_size_multiplier}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.pool_size = self.batch_size * int(bucket_size_multiplier)
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use a different (deterministic) shuffle for ``epoch``; call before each epoch."""
        self.epoch = int(epoch)

    def _all_batches(self) -> list[np.ndarray]:
        n = len(self.lengths)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        batches: list[np.ndarray] = []
        for start in range(0, n, self.pool_size):
            pool = order[start : start + self.pool_size]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches.extend(pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size))
        # Only the final batch of each pool can be short: move short ones to the end.
        full = [b for b in batches if len(b) == self.batch_size]
        short = [b for b in batches if len(b) < self.batch_size]
        if self.shuffle:
            full = [full[i] for i in rng.permutation(len(full))]
        if short:
            rest = np.concatenate(short)
            tail = [rest[i : i + self.batch_size] for i in range(0, len(rest), self.batch_size)]
            if self.drop_last and len(tail[-1]) < self.batch_size:
                tail.pop()
            full.extend(tail)
        return full

    def _rank_batches(self) -> list[np.ndarray]:
        batches = self._all_batches()
        if self.world_size > 1 and batches:
            extra = len(batches) % self.world_size
            if extra and self.drop_last:
                batches = batches[: len(batches) - extra]
            elif extra:  # repeat the first batches so every rank runs the same number of steps
                batches = batches + [batches[i % len(batches)] for i in range(self.world_size - extra)]
        return batches[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        for b in self._rank_batches():
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.lengths)
        n_batches = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.world_size > 1:
            if self.drop_last:
                n_batches -= n_batches % self.world_size
            else:
                n_batches = -(-n_batches // self.world_size) * self.world_size
        return n_batches // self.world_size

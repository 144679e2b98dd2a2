"""Tests of collate and the length-bucketing sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bioseq.data.batching import LengthBucketSampler, collate, padded_to_list
from bioseq.errors import ConfigError


def test_collate_pads_and_masks():
    ids, mask = collate([np.array([5, 6, 7], dtype=np.uint16), np.array([9], dtype=np.uint16)])
    assert ids.dtype == torch.int64 and mask.dtype == torch.bool
    assert ids.tolist() == [[5, 6, 7], [9, 0, 0]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]


def test_collate_empty_batch_is_an_error():
    with pytest.raises(ConfigError):
        collate([])


def test_padded_to_list_inverts_padding():
    tokens = np.array([[4, 5, 0], [6, 0, 0]])
    out = padded_to_list(tokens, np.array([2, 1]))
    assert [a.tolist() for a in out] == [[4, 5], [6]]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    batch_size=st.integers(1, 40),
    mult=st.integers(1, 5),
    shuffle=st.booleans(),
    seed=st.integers(0, 10),
)
def test_sampler_covers_every_index_once(n, batch_size, mult, shuffle, seed):
    lengths = np.random.default_rng(seed).integers(1, 500, size=n)
    s = LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed, bucket_size_multiplier=mult)
    batches = list(s)
    assert len(batches) == len(s)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(n))
    assert all(len(b) == batch_size for b in batches[:-1])


def test_sampler_is_deterministic_per_seed_and_epoch():
    lengths = np.random.default_rng(0).integers(1, 1000, size=500)
    a = LengthBucketSampler(lengths, 16, seed=7)
    b = LengthBucketSampler(lengths, 16, seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) == list(b) != first
    assert list(LengthBucketSampler(lengths, 16, seed=8)) != first


def test_sampler_batches_have_similar_lengths():
    lengths = np.random.default_rng(0).integers(1, 1000, size=2000)
    spread = [np.ptp(lengths[b]) for b in LengthBucketSampler(lengths, 32, seed=0)]
    random_spread = [np.ptp(lengths[i : i + 32]) for i in range(0, 2000, 32)]
    assert np.mean(spread) < 0.2 * np.mean(random_spread)


def test_sampler_drop_last():
    s = LengthBucketSampler(np.ones(50, dtype=int), 16, drop_last=True)
    batches = list(s)
    assert len(batches) == len(s) == 3 and all(len(b) == 16 for b in batches)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("n", [0, 1, 50, 97, 128])
def test_distributed_ranks_get_disjoint_equal_batches(n, drop_last):
    lengths = np.random.default_rng(n).integers(1, 300, size=n)
    world = 3
    per_rank = [list(LengthBucketSampler(lengths, 8, seed=3, drop_last=drop_last, rank=r, world_size=world))
                for r in range(world)]
    counts = {len(b) for b in per_rank}
    assert len(counts) == 1, "every rank must run the same number of steps"
    assert {len(LengthBucketSampler(lengths, 8, drop_last=drop_last, rank=r, world_size=world))
            for r in range(world)} == counts
    flat = [i for rank in per_rank for b in rank for i in b]
    if drop_last:
        assert len(flat) == len(set(flat))  # disjoint
    else:
        assert set(flat) == set(range(n))  # full coverage (a few batches repeated as padding)
        n_batches = -(-n // 8)
        assert len(flat) - n <= (world - 1) * 8 and counts.pop() == -(-n_batches // world)


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 0}, {"batch_size": 2, "rank": 2, "world_size": 2}, {"batch_size": 2,
                                                                        "bucket_size_multiplier": 0}],
)
def test_sampler_rejects_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        LengthBucketSampler(np.ones(4, dtype=int), **kwargs)

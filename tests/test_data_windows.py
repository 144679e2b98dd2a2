"""Tests of the long-input policy: truncate, center, windows, aggregation, random crops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioseq.data.windows import (
    LONG_POLICIES,
    aggregate,
    apply_policy,
    apply_policy_batch,
    max_bases,
    random_crop,
    window_starts,
    windows,
)
from bioseq.errors import ConfigError

SEQ = "ACGTACGGTTACCAGT"  # 16 letters


@pytest.mark.parametrize("policy", LONG_POLICIES)
def test_short_sequences_pass_unchanged(policy):
    assert apply_policy(SEQ, 16, policy) == [SEQ]
    assert apply_policy(SEQ, 100, policy, overlap=5) == [SEQ]


def test_truncate_and_center():
    assert apply_policy(SEQ, 5, "truncate") == ["ACGTA"]
    assert apply_policy(SEQ, 6, "center") == [SEQ[5:11]]
    assert apply_policy("ABCDEFG", 3, "center") == ["CDE"]


def test_windows_with_overlap_end_aligned():
    assert apply_policy("ABCDEFGHIJ", 4, "windows", overlap=1) == ["ABCD", "DEFG", "GHIJ"]
    assert apply_policy("ABCDEFGHIJK", 4, "windows", overlap=1) == ["ABCD", "DEFG", "GHIJ", "HIJK"]
    assert windows("ABCDEFGHIJ", 4, 4) == ["ABCD", "EFGH", "GHIJ"]


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 400), max_len=st.integers(1, 80), overlap_frac=st.floats(0, 0.99))
def test_windows_cover_every_letter(length, max_len, overlap_frac):
    overlap = min(int(overlap_frac * max_len), max_len - 1)
    seq = "".join("ACGT"[i % 4] for i in range(length))
    starts = window_starts(length, max_len, max_len - overlap)
    pieces = apply_policy(seq, max_len, "windows", overlap)
    assert len(pieces) == len(starts)
    assert all(len(p) == min(max_len, length) for p in pieces)
    covered = np.zeros(length, dtype=bool)
    for s, p in zip(starts, pieces, strict=True):
        assert seq[s : s + len(p)] == p
        covered[s : s + len(p)] = True
    assert covered.all()
    assert starts[-1] + len(pieces[-1]) == length  # the last window ends at the end
    assert starts == sorted(set(starts))


def test_bad_arguments():
    with pytest.raises(ConfigError, match="policy"):
        apply_policy(SEQ, 4, "middle")
    with pytest.raises(ConfigError, match="overlap"):
        apply_policy(SEQ, 4, "windows", overlap=4)
    with pytest.raises(ConfigError):
        apply_policy(SEQ, 0, "truncate")


def test_batch_and_aggregate_round_trip():
    seqs = ["A" * 10, "C" * 3, "G" * 25]
    pieces, owners = apply_policy_batch(seqs, 8, "windows", overlap=2)
    assert owners.tolist() == [0, 0, 1, 2, 2, 2, 2]
    assert len(pieces) == len(owners)
    probs = np.array([[0.2, 0.8], [0.4, 0.6], [1.0, 0.0], [0.1, 0.9], [0.3, 0.7], [0.5, 0.5], [0.7, 0.3]],
                     dtype=np.float32)
    out = aggregate(probs, owners, len(seqs))
    assert out.dtype == np.float32 and out.shape == (3, 2)
    np.testing.assert_allclose(out, [[0.3, 0.7], [1.0, 0.0], [0.4, 0.6]], atol=1e-6)


def test_aggregate_errors():
    with pytest.raises(ConfigError, match="no window"):
        aggregate(np.ones((2, 2)), np.array([0, 0]), 2)
    with pytest.raises(ConfigError):
        aggregate(np.ones((2, 2)), np.array([0, 5]), 2)
    with pytest.raises(ConfigError):
        aggregate(np.ones((2, 2)), np.array([0]), 1)


def test_random_crop_is_seeded_and_in_range():
    seq = "".join("ACGT"[i % 4] for i in range(100))
    a = [random_crop(seq, 10, np.random.default_rng(5)) for _ in range(2)]
    assert a[0] == a[1] and len(a[0]) == 10 and a[0] in seq
    letters = "ABCDEFGHIJKLMNOPQRST"  # 20 distinct letters: a crop's start is its first letter
    starts = {letters.index(random_crop(letters, 18, np.random.default_rng(i))[0]) for i in range(60)}
    assert starts == {0, 1, 2}  # every possible start, none beyond the end
    assert random_crop("ACG", 10, np.random.default_rng(0)) == "ACG"
    tokens = np.arange(4, 54)
    crop = random_crop(tokens, 8, np.random.default_rng(1))
    assert crop.shape == (8,) and np.array_equal(crop, np.arange(crop[0], crop[0] + 8))


def test_max_bases():
    assert max_bases(512, k=6, stride=3) == 1539
    assert max_bases(1000) == 1000
    with pytest.raises(ConfigError):
        max_bases(0)

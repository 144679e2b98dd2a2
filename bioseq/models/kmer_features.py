"""Multi-k and gapped k-mer count features, hashed where a vocabulary is large, TF-IDF weighted (for ``kmer-linear``).

Layout: one block of columns per k (``k_min .. k_max``), in order of k, then
one block per gapped pattern (below). A block is ``[UNK, one column per k-mer
id]``, or ``[UNK, buckets columns]`` when the k-mer vocabulary is larger than
``buckets``: then the k-mer id goes through :func:`hash_ids`, a fixed 64-bit
mixer (never Python's salted ``hash``), so the columns are the same in every
process and are fully determined by the tokenizer's config and ``buckets``.

Gapped k-mers (the features of gkm-SVM, Ghandi et al. 2014; for proteins the
k-spaced residue pairs of CKSAAP): ``gap_k`` letters read at the offsets of a
pattern inside a window of ``s`` letters, e.g. ``A.G..T`` is the pattern
``(0, 2, 5)`` of span 6. For each span ``s`` of ``gap_spans`` (each larger than
``gap_k``, so every pattern has a gap: the contiguous k-mer is a block of its
own), the patterns are every ``gap_k``-subset of ``0 .. s - 1`` that holds
both ends (:func:`gapped_patterns`). Why: a binding site tolerates changes at
some positions, so a spectrum of exact contiguous k-mers splits one motif over
many rare columns; a gapped k-mer counts every variant at the tolerant position
together. Measured on the validation splits (bench/accuracy.py datasets), next
to the contiguous 1-8-mers alone: enhancers log loss .461 -> .433, non-TATA
promoters .221 -> .217 (6 letters, span 9); AMPs (1-3-mers) .252 -> .216
(residue pairs, spans 3-6). See ``KmerLinearClassifier.default_hparams``.

Counting is vectorised: the repository's :class:`KmerTokenizer` encodes a chunk
of sequences per k, each token becomes a ``(row, column)`` entry, and one
COO -> CSR conversion counts them (repeats summed per row). Chunks hold sequences of similar
length (sorted by length) and at most :data:`_CHUNK_ENTRIES` entries over all
blocks, so memory stays bounded for long sequences and many blocks.

Weighting (:func:`tfidf`): term frequency (raw count or ``1 + ln(count)``)
times the inverse document frequency fitted on the training set, then each row
scaled to unit L2 norm. Every value of a row depends on that row and the idf
only, never on the other rows of the batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from bioseq.errors import ConfigError
from bioseq.tokenize import N_SPECIAL
from bioseq.tokenize.kmer import PAD, UNK, KmerTokenizer

TF_MODES = ("raw", "log")
# (row, column) entries made at a time, over all blocks: ~256 MiB of int64 pairs, so a chunk holds
# 2M letters with the 8 contiguous blocks alone and 390k with the 35 gapped DNA blocks added.
_CHUNK_ENTRIES = 1 << 24
_CHUNK_ROWS = 4096

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def hash_ids(ids: np.ndarray, buckets: int) -> np.ndarray:
    """Bucket ``[0, buckets)`` of each k-mer id: the SplitMix64 finaliser of ``id + golden``, mod ``buckets``.

    Pure uint64 arithmetic (wrapping multiplication): the same on every machine and process.
    """
    x = np.asarray(ids).astype(np.uint64) + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    x ^= x >> np.uint64(31)
    return (x % np.uint64(buckets)).astype(np.int64)


class KmerSpace:
    """The column layout of k-mers ``k_min .. tokenizer.k`` (see the module docstring).

    Args:
        tokenizer: the model's ``KmerTokenizer``: its ``k`` is the largest k; its alphabet,
            stride, canonical and unknown settings apply to every k.
        k_min: the smallest k (``1 <= k_min <= tokenizer.k``).
        buckets: a block with more k-mers than this is hashed into this many columns.
        gap_k: letters per gapped k-mer (0: no gapped blocks).
        gap_spans: the window widths a gapped k-mer covers (each ``> gap_k``).
    """

    def __init__(
        self, tokenizer: KmerTokenizer, k_min: int, buckets: int, gap_k: int = 0, gap_spans: Sequence[int] = ()
    ):
        self.patterns = gapped_patterns(gap_k, gap_spans)
        if self.patterns and tokenizer.canonical:
            raise ConfigError("gapped k-mers are strand-specific: set gap_k 0 with a canonical tokenizer")
        self.letters = KmerTokenizer(
            k=1, alphabet=tokenizer.alphabet, stride=1, canonical=False, unknown=tokenizer.unknown, short="empty"
        )
        self.stride = tokenizer.stride
        self.tokenizers = [
            KmerTokenizer(
                k=k, alphabet=tokenizer.alphabet, stride=tokenizer.stride, canonical=tokenizer.canonical,
                unknown=tokenizer.unknown, short="empty",
            )
            for k in range(k_min, tokenizer.k + 1)
        ]
        self.n_letters = self.letters.vocab_size - N_SPECIAL
        n_kmers = [tok.vocab_size - N_SPECIAL for tok in self.tokenizers]
        n_kmers += [self.n_letters**gap_k] * len(self.patterns)
        self.hashed = [n > buckets for n in n_kmers]
        self.buckets = int(buckets)
        widths = [1 + (buckets if h else n) for n, h in zip(n_kmers, self.hashed, strict=True)]
        self.offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        self.dim = int(self.offsets[-1])

    def counts(self, seqs: Sequence[str]) -> sp.csr_matrix:
        """k-mer counts (n, dim) float64 CSR, sorted column indices, rows in input order."""
        seqs = list(seqs)
        lens = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
        order = np.argsort(lens, kind="stable")
        max_letters = max(1, _CHUNK_ENTRIES // len(self.hashed))
        parts = [self._count_chunk([seqs[i] for i in idx]) for idx in _length_chunks(order, lens, max_letters)]
        if not parts:
            return sp.csr_matrix((0, self.dim), dtype=np.float64)
        stacked = sp.vstack(parts, format="csr")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return stacked[inverse]

    def _count_chunk(self, seqs: list[str]) -> sp.csr_matrix:
        entries = list(self._contiguous_entries(seqs)) + list(self._gapped_entries(seqs))
        rows = np.concatenate([r for r, _ in entries])
        cols = np.concatenate([c for _, c in entries])
        # COO -> CSR groups by row in linear time and sums repeats within each row: 1.7x faster than
        # np.unique over global row*dim+col keys (4,000 x 251 bp, 1- to 8-mers: 0.86 s vs 1.47 s).
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(seqs), self.dim))
        counts.sum_duplicates()  # also sorts the column indices of every row
        return counts

    def _contiguous_entries(self, seqs: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(rows, columns)`` of every k-mer of ``seqs``, one pair per k."""
        for block, tok in enumerate(self.tokenizers):
            tokens, _ = tok.encode_batch(seqs)
            tokens = np.asarray(tokens, dtype=np.int64)
            rows = np.broadcast_to(np.arange(len(seqs), dtype=np.int64)[:, None], tokens.shape)
            valid = tokens != PAD
            ids, rows = tokens[valid], rows[valid]
            yield rows, self._columns(block, ids - N_SPECIAL, ids == UNK)

    def _gapped_entries(self, seqs: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(rows, columns)`` of every gapped k-mer of ``seqs``, one pair per pattern.

        Windows start at ``0, stride, 2 * stride ...``, as the contiguous k-mers do; a window
        that runs past the end of its sequence is dropped, and one that covers an ambiguity
        code counts in the block's ``UNK`` column.
        """
        if not self.patterns:
            return
        letters, _ = self.letters.encode_batch(seqs)
        letters = np.asarray(letters, dtype=np.int64)  # (n, L) ids: PAD, UNK or N_SPECIAL + letter code
        codes = np.maximum(letters - N_SPECIAL, 0)  # letter codes; PAD and UNK read as 0, masked below
        unknown = letters == UNK
        n, width = letters.shape
        for j, pattern in enumerate(self.patterns, start=len(self.tokenizers)):
            starts = range(0, width - pattern[-1], self.stride)
            if not starts:
                continue
            stop = starts.stop
            kmer = np.zeros((n, len(starts)), dtype=np.int64)
            unk = np.zeros(kmer.shape, dtype=bool)
            for offset in pattern:
                shifted = slice(offset, offset + stop, self.stride)
                kmer = kmer * self.n_letters + codes[:, shifted]
                unk |= unknown[:, shifted]
            # rows are padded at the end only, so a window is inside its sequence iff its last letter is
            inside = letters[:, pattern[-1] : pattern[-1] + stop : self.stride] != PAD
            rows = np.broadcast_to(np.arange(n, dtype=np.int64)[:, None], kmer.shape)
            yield rows[inside], self._columns(j, kmer[inside], unk[inside])

    def _columns(self, block: int, kmer: np.ndarray, unk: np.ndarray) -> np.ndarray:
        """Columns of k-mer codes ``kmer`` in ``block``: its ``UNK`` column where ``unk``, else
        1 + the code (hashed into :attr:`buckets` for a hashed block)."""
        kmer = hash_ids(kmer, self.buckets) if self.hashed[block] else kmer
        return self.offsets[block] + np.where(unk, 0, 1 + kmer)


def gapped_patterns(gap_k: int, gap_spans: Sequence[int]) -> list[tuple[int, ...]]:
    """The offsets of each gapped k-mer pattern: for each span ``s`` of ``gap_spans`` (ascending),
    every ``gap_k``-subset of ``0 .. s - 1`` that holds both ends, in lexicographic order
    (``[]`` when ``gap_k`` is 0). ``(2, [3, 5])`` -> ``(0, 2), (0, 4)``."""
    if gap_k == 0:
        return []
    spans = sorted({int(s) for s in gap_spans})
    if gap_k < 2 or not spans or spans[0] <= gap_k:
        raise ConfigError(
            f"gapped k-mers need gap_k >= 2 and every gap span > gap_k (or gap_k 0: none), "
            f"got gap_k={gap_k}, gap_spans={list(gap_spans)}"
        )
    return [
        (0, *middle, span - 1)
        for span in spans
        for middle in itertools.combinations(range(1, span - 1), gap_k - 2)
    ]


def _length_chunks(order: np.ndarray, lens: np.ndarray, max_letters: int) -> Iterator[np.ndarray]:
    """Slices of ``order`` (indices sorted by length) of at most ``max_letters`` padded letters."""
    start, n = 0, len(order)
    while start < n:
        rows = min(_CHUNK_ROWS, n - start)
        while rows > 1 and rows * max(int(lens[order[start + rows - 1]]), 1) > max_letters:
            rows //= 2
        yield order[start : start + rows]
        start += rows


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smooth inverse document frequency (D,) float64: ``ln((1 + n) / (1 + df)) + 1``."""
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    return np.log((1.0 + counts.shape[0]) / (1.0 + df)) + 1.0


def tfidf(counts: sp.csr_matrix, idf: np.ndarray, tf: str) -> sp.csr_matrix:
    """``tf(counts) * idf``, each row scaled to unit L2 norm (an all-zero row stays zero)."""
    x = counts.astype(np.float64, copy=True)
    if tf == "log":
        x.data = 1.0 + np.log(x.data)
    x.data *= idf[x.indices]
    row = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    norms = np.sqrt(np.bincount(row, weights=x.data * x.data, minlength=x.shape[0]))
    x.data /= np.where(norms > 0, norms, 1.0)[row]
    return x

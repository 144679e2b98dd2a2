"""Vectorised k-mer tokenizer for DNA, RNA and protein.

A sequence of length ``L`` becomes ``floor((L - k) / stride) + 1`` integer token
ids, one per k-mer starting at positions ``0, stride, 2*stride, ...`` (DNABERT
uses overlapping k-mers, ``stride=1``; ``stride=k`` gives non-overlapping
"words"). Ids are fixed and documented so that models, caches and bundles agree:

* special tokens ``PAD=0``, ``UNK=1``, ``CLS=2``, ``MASK=3``;
* k-mer ids from 4: the k-mer ``c_0 c_1 ... c_{k-1}`` (letter codes = index in
  :attr:`Alphabet.letters`, e.g. ``A=0 C=1 G=2 T=3``) has id
  ``4 + sum(c_j * size**(k-1-j))``, i.e. lexicographic order (``AAA=4``,
  ``AAC=5``...);
* ``canonical=True`` (DNA/RNA only): a k-mer and its reverse complement share
  one id. The canonical classes are numbered from 4 in the order of their
  smaller member, so ids are compact and :attr:`vocab_size` counts classes
  (``4 + (4**k + 4**(k/2)) / 2`` for even k, ``4 + 4**k / 2`` for odd k).

Letters (see :mod:`bioseq.alphabets`): lowercase (soft-masked) letters
are accepted; a k-mer that covers an ambiguity code (``N``, IUPAC ``RYSWKMBDHV``,
protein ``XBZJUO*``) becomes ``UNK`` (``unknown="map"``) or raises
:class:`~bioseq.errors.AlphabetError` (``unknown="reject"``); any other letter
raises :class:`~bioseq.errors.AlphabetError` under both policies, naming the
record (when the caller passes ``ids=``), the 1-based position and the letter.

Sequences shorter than ``k`` (no k-mer at all): ``short="error"`` (default)
raises :class:`~bioseq.errors.SequenceTooShortError`; ``short="empty"`` gives an
empty encoding (length 0: an all-``PAD`` row in a batch), for callers that
filter or report such records themselves.

Speed: the batch is processed in chunks of up to 8,192 records. Each chunk is
joined into one ASCII byte buffer, mapped through a 256-entry lookup table to
letter codes, laid out as a (records, width) array and combined over ``k``
with shift-or (DNA/RNA, 2 bits per base) or multiply-add (protein, base 20) in
the output dtype (``uint16`` while the vocabulary fits). The only Python loops
are over ``k`` and over chunks (``bench/tokenize.py`` measures it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bioseq.alphabets import UNKNOWN_POLICIES, Alphabet, get_alphabet
from bioseq.errors import AlphabetError, ConfigError, SequenceTooShortError

PAD, UNK, CLS, MASK = 0, 1, 2, 3
N_SPECIAL = 4  # number of special ids (PAD, UNK, CLS, MASK): k-mer ids start here; models import it
SPECIAL_TOKENS = ("<pad>", "<unk>", "<cls>", "<mask>")
SHORT_POLICIES = ("error", "empty")

_CHUNK_ROWS = 8192  # records per chunk: keeps temporaries in cache-friendly sizes
_CHUNK_ELEMENTS = 1 << 21  # and at most ~2M letter positions per chunk (long proteins)
_MAX_CANONICAL_K = 12  # the canonical lookup table has 4**k entries (64 MiB at k=12)
_INVALID = 255  # lookup-table code of a letter outside the alphabet
_MAX_VOCAB = 2**31 - 1  # ids are int32 at most


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_params(k: Any, stride: Any, canonical: Any, unknown: Any, short: Any) -> None:
    """The constructor's argument checks (alphabet-independent): one ConfigError per bad value."""
    if not _is_int(k) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    if not _is_int(stride) or stride < 1:
        raise ConfigError(f"stride must be a positive integer, got {stride!r}")
    if not isinstance(canonical, (bool, np.bool_)):
        raise ConfigError(f"canonical must be true or false, got {canonical!r}")
    if unknown not in UNKNOWN_POLICIES:
        raise ConfigError(f"unknown must be one of {', '.join(UNKNOWN_POLICIES)}, got {unknown!r}")
    if short not in SHORT_POLICIES:
        raise ConfigError(f"short must be one of {', '.join(SHORT_POLICIES)}, got {short!r}")


def _vocabulary(alphabet: Alphabet, k: int, canonical: bool) -> tuple[int, int]:
    """``(number of raw k-mers, vocab_size)``; vocab_size counts the specials and, when
    ``canonical``, one id per {k-mer, reverse complement} class (palindromes are their own).

    Raises:
        ConfigError: canonical without a complement or above k=12, or ids beyond int32.
    """
    size = alphabet.size
    if canonical:
        if not alphabet.has_complement:
            raise ConfigError(f"canonical k-mers need a complement; alphabet {alphabet.name!r} has none")
        if k > _MAX_CANONICAL_K:
            raise ConfigError(f"canonical k-mers are supported up to k={_MAX_CANONICAL_K}, got k={k}")
    n_kmers = size**k
    if N_SPECIAL + n_kmers > _MAX_VOCAB:
        raise ConfigError(
            f"a {alphabet.name} {k}-mer vocabulary ({size}**{k} ids) does not fit int32; use a smaller k"
        )
    if not canonical:
        return n_kmers, N_SPECIAL + n_kmers
    palindromes = size ** (k // 2) if k % 2 == 0 else 0
    return n_kmers, N_SPECIAL + (n_kmers + palindromes) // 2


def _letter_table(alphabet: Alphabet) -> bytes:
    """The 256-byte ``bytes.translate`` table: letter (either case) -> its code, an
    ambiguity code -> ``alphabet.size`` (the "unknown" marker), anything else -> ``_INVALID``."""
    lut = np.full(256, _INVALID, dtype=np.uint8)
    for code, ch in enumerate(alphabet.letters):
        lut[ord(ch)] = lut[ord(ch.lower())] = code
    for ch in alphabet.ambiguous:
        lut[ord(ch)] = lut[ord(ch.lower())] = alphabet.size  # never a letter code
    return lut.tobytes()


def _rows(codes: np.ndarray, lens: np.ndarray, width: int) -> np.ndarray:
    """The first ``width`` letter codes of each row, as a (rows, width) uint8 array.

    ``codes`` is the rows' codes joined (lengths ``lens``); columns past a row's
    end hold anything (the caller masks them with PAD).
    """
    m = len(lens)
    if lens.min() == lens.max():  # equal lengths (the common case): a reshape, no copy
        return codes.reshape(m, int(lens[0]))[:, :width]
    if int(lens.max()) <= 2 * width:  # ragged, little truncation: scatter rows into a padded array
        full = int(lens.max())
        padded = np.zeros((m, full), dtype=np.uint8)
        padded[np.arange(full) < lens[:, None]] = codes
        return padded[:, :width]
    # long rows truncated by max_len: gather only the first `width` letters of each
    index_dtype = np.int32 if codes.size < 2**31 else np.int64
    starts = np.zeros(m, dtype=index_dtype)
    np.cumsum(lens[:-1], out=starts[1:])
    index = starts[:, None] + np.arange(width, dtype=index_dtype)
    np.minimum(index, codes.size - 1, out=index)  # columns past a row's end: masked by the caller
    return codes.take(index)


class KmerTokenizer:
    """Map sequences to integer k-mer token ids (see the module docstring for the id scheme).

    Args:
        k: k-mer length (>= 1).
        alphabet: ``"dna"``, ``"rna"``, ``"protein"`` or an :class:`Alphabet`.
        stride: distance between the starts of consecutive k-mers (>= 1).
        canonical: merge each k-mer with its reverse complement (DNA/RNA only):
            use it when the strand of the input is arbitrary.
        unknown: ``"map"`` (k-mers covering an ambiguity code become ``UNK``) or
            ``"reject"`` (ambiguity codes raise :class:`AlphabetError`).
        short: ``"error"`` (sequences shorter than ``k`` raise
            :class:`SequenceTooShortError`) or ``"empty"`` (they encode to length 0).

    Raises:
        ConfigError: an invalid parameter, ``canonical`` for protein, or a
            vocabulary that does not fit int32 (DNA k <= 15, protein k <= 7).
    """

    name = "kmer"
    PAD = PAD
    UNK = UNK
    CLS = CLS
    MASK = MASK

    def __init__(
        self,
        k: int = 1,
        alphabet: str | Alphabet = "dna",
        stride: int = 1,
        canonical: bool = False,
        unknown: str = "map",
        short: str = "error",
    ) -> None:
        _check_params(k, stride, canonical, unknown, short)
        self._alphabet = get_alphabet(alphabet)
        self._k = int(k)
        self._stride = int(stride)
        self._canonical = bool(canonical)
        self._unknown = unknown
        self._short = short
        size = self._alphabet.size
        self._n_kmers, self._vocab_size = _vocabulary(self._alphabet, self._k, self._canonical)
        self._dtype = np.dtype(np.uint16) if self._vocab_size <= 2**16 else np.dtype(np.int32)
        # Working dtype of the raw k-mer index (before canonical compaction).
        if self._canonical:
            self._work_dtype = np.dtype(np.uint16) if self._n_kmers <= 2**16 else np.dtype(np.int32)
        else:
            self._work_dtype = self._dtype
        self._shift = {2: 1, 4: 2, 8: 3, 16: 4}.get(size)  # bits per letter when a power of two
        self._lut_bytes = _letter_table(self._alphabet)
        letters = self._alphabet.letters
        if self._alphabet.complement is not None:
            comp = self._alphabet.complement
            self._comp_codes = np.array([letters.index(comp[ch]) for ch in letters], dtype=np.int64)
        else:
            self._comp_codes = None
        self._canon_table: np.ndarray | None = None  # raw k-mer index -> compact id (lazy)
        self._canon_reps: np.ndarray | None = None  # compact id - 4 -> smaller raw index (lazy)

    # ------------------------------------------------------------------ properties
    @property
    def k(self) -> int:
        return self._k

    @property
    def stride(self) -> int:
        return self._stride

    @property
    def canonical(self) -> bool:
        return self._canonical

    @property
    def unknown(self) -> str:
        return self._unknown

    @property
    def short(self) -> str:
        return self._short

    @property
    def alphabet(self) -> Alphabet:
        return self._alphabet

    @property
    def vocab_size(self) -> int:
        """Number of ids, specials included: the size of a model's embedding table."""
        return self._vocab_size

    @property
    def dtype(self) -> np.dtype:
        """Token dtype: ``uint16`` while ``vocab_size <= 65536``, else ``int32``."""
        return self._dtype

    # ------------------------------------------------------------------ config
    def config(self) -> dict[str, Any]:
        """JSON-serialisable parameters; ``vocab_size`` is stored as a consistency check."""
        return {
            "name": self.name,
            "k": self._k,
            "alphabet": self._alphabet.name,
            "stride": self._stride,
            "canonical": self._canonical,
            "unknown": self._unknown,
            "short": self._short,
            "vocab_size": self._vocab_size,
        }

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> KmerTokenizer:
        """Rebuild a tokenizer from :meth:`config` output (e.g. from a model bundle).

        Raises:
            ConfigError: not a mapping, another tokenizer's config, an unknown key,
                an invalid value, or a ``vocab_size`` that this version would not produce.
        """
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"tokenizer config must be a mapping, got {type(cfg).__name__}")
        name = cfg.get("name", cls.name)
        if name != cls.name:
            raise ConfigError(f"tokenizer config is for {name!r}, not {cls.name!r}")
        params = ("k", "alphabet", "stride", "canonical", "unknown", "short")
        extra = sorted(set(cfg) - set(params) - {"name", "vocab_size"})
        if extra:
            raise ConfigError(
                f"unknown key(s) in kmer tokenizer config: {', '.join(extra)}; allowed: {', '.join(params)}"
            )
        tok = cls(**{p: cfg[p] for p in params if p in cfg})
        if "vocab_size" in cfg and cfg["vocab_size"] != tok.vocab_size:
            raise ConfigError(
                f"tokenizer config says vocab_size={cfg['vocab_size']!r} but {tok!r} has "
                f"{tok.vocab_size}; the config was written by an incompatible version"
            )
        return tok

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KmerTokenizer):
            return NotImplemented
        return self.config() == other.config()

    def __hash__(self) -> int:
        return hash(json.dumps(self.config(), sort_keys=True))

    def __repr__(self) -> str:
        return (
            f"KmerTokenizer(k={self._k}, alphabet={self._alphabet.name!r}, stride={self._stride}, "
            f"canonical={self._canonical}, unknown={self._unknown!r}, short={self._short!r}) "
            f"# vocab_size={self._vocab_size}, dtype={self._dtype.name}"
        )

    # ------------------------------------------------------------------ lengths
    def n_tokens(self, length: int | np.ndarray) -> int | np.ndarray:
        """Tokens for a sequence of ``length`` letters: ``floor((L-k)/stride)+1``, 0 when ``L < k``.

        Accepts an int (returns an int) or an integer array (returns int64, same shape).
        """
        lengths = np.asarray(length, dtype=np.int64)
        n = np.where(lengths >= self._k, (lengths - self._k) // self._stride + 1, 0)
        return int(n) if n.ndim == 0 else n

    # ------------------------------------------------------------------ encoding
    def encode(self, seq: str, record_id: str | None = None) -> np.ndarray:
        """Token ids of one sequence: array of shape ``(n_tokens(len(seq)),)``, dtype :attr:`dtype`.

        ``record_id`` only names the record in error messages.
        """
        if not isinstance(seq, str):
            raise TypeError(f"encode takes a str, got {type(seq).__name__}")
        tokens, lengths = self.encode_batch([seq], ids=None if record_id is None else [record_id])
        return tokens[0, : lengths[0]].copy()

    def encode_batch(
        self,
        seqs: Sequence[str],
        max_len: int | None = None,
        ids: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encode many sequences at once, padded with ``PAD``.

        Args:
            seqs: the sequences (str; upper- or lowercase).
            max_len: keep at most this many tokens per sequence (the first ones);
                the width is ``min(max_len, longest encoding)``.
            ids: record ids, parallel to ``seqs``, used only to name the record in errors.

        Returns:
            ``tokens``: array ``(n, T)`` of dtype :attr:`dtype`, row ``i`` holding
            ``lengths[i]`` ids then ``PAD``; ``lengths``: int64 array ``(n,)``.
            ``T`` is the largest length (0 for an empty batch).
        """
        if isinstance(seqs, str):
            raise TypeError("encode_batch takes a list of sequences; use encode() for one sequence")
        if not isinstance(seqs, list):
            seqs = list(seqs)
        n = len(seqs)
        if ids is not None and len(ids) != n:
            raise ValueError(f"ids has {len(ids)} entries for {n} sequences")
        if max_len is not None and (not _is_int(max_len) or max_len < 1):
            raise ConfigError(f"max_len must be a positive integer or None, got {max_len!r}")
        k, stride = self._k, self._stride
        lens = np.fromiter(map(len, seqs), dtype=np.int64, count=n)
        ntok = self.n_tokens(lens)
        if n and self._short == "error" and lens.min() < k:
            row = int(np.argmax(lens < k))
            raise SequenceTooShortError(
                f"{self._where(row, n, ids)}sequence of length {lens[row]} is shorter than k={k} "
                "and has no k-mer; drop it or use short='empty'",
                record=None if ids is None else str(ids[row]),
            )
        if max_len is not None:
            np.minimum(ntok, max_len, out=ntok)
        width_tokens = int(ntok.max()) if n else 0
        out = np.zeros((n, width_tokens), dtype=self._dtype)  # PAD == 0
        width = (width_tokens - 1) * stride + k if width_tokens else 1
        rows = max(1, min(_CHUNK_ROWS, _CHUNK_ELEMENTS // width))
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            self._encode_chunk(seqs, lens, ntok, r0, r1, ids, out)
        return out, ntok

    def _where(self, row: int, n: int, ids: Sequence[str] | None) -> str:
        """Prefix naming a batch row in messages when no record id is known."""
        return "" if ids is not None or n == 1 else f"sequence #{row} of the batch: "

    def _letter_error(
        self,
        seqs: Sequence[str],
        lens: np.ndarray,
        r0: int,
        r1: int,
        flat_pos: int,
        ids: Sequence[str] | None,
    ) -> AlphabetError:
        """Build the error for the letter at ``flat_pos`` of the joined chunk of rows ``r0:r1``."""
        ends = np.cumsum(lens[r0:r1])
        local = int(np.searchsorted(ends, flat_pos, side="right"))
        row = r0 + local
        pos = flat_pos - (int(ends[local - 1]) if local else 0)
        ch = seqs[row][pos]
        a = self._alphabet
        if ch.upper() in a.ambiguous:
            why = (
                f"ambiguity code {ch!r} at position {pos + 1} rejected (unknown='reject'); "
                "use unknown='map' to turn k-mers covering it into UNK"
            )
        else:
            why = (
                f"letter {ch!r} at position {pos + 1} is not in the {a.name} alphabet "
                f"(letters {a.letters}, ambiguity codes {a.ambiguous}); is the alphabet right?"
            )
        return AlphabetError(
            f"{self._where(row, len(seqs), ids)}{why}", record=None if ids is None else str(ids[row])
        )

    def _encode_chunk(
        self,
        seqs: list[str],
        lens: np.ndarray,
        ntok: np.ndarray,
        r0: int,
        r1: int,
        ids: Sequence[str] | None,
        out: np.ndarray,
    ) -> None:
        """Encode rows ``r0:r1`` into ``out[r0:r1]`` (already zero = PAD)."""
        codes, has_bad = self._chunk_codes(seqs, lens, r0, r1, ids)
        nt = ntok[r0:r1]
        t_chunk = int(nt.max())
        if t_chunk == 0:
            return
        codes2d = _rows(codes, lens[r0:r1], (t_chunk - 1) * self._stride + self._k)
        block = self._kmer_ids(codes2d, t_chunk, has_bad)
        if nt.min() != t_chunk:
            block[np.arange(t_chunk) >= nt[:, None]] = PAD
        out[r0:r1, :t_chunk] = block

    def _chunk_codes(
        self, seqs: list[str], lens: np.ndarray, r0: int, r1: int, ids: Sequence[str] | None
    ) -> tuple[np.ndarray, bool]:
        """Letter codes of rows ``r0:r1`` joined (uint8, one lookup for all), and whether
        any is an ambiguity code (code ``alphabet.size``); a bad letter raises, named."""
        chunk = seqs[r0:r1]
        try:
            joined = "".join(chunk)
        except TypeError:
            bad = next(i for i, s in enumerate(chunk) if not isinstance(s, str))
            raise TypeError(f"sequence #{r0 + bad} is a {type(chunk[bad]).__name__}, not a str") from None
        try:  # bytes.translate is the fastest 256-entry lookup table (C, ~1 GB/s)
            codes = np.frombuffer(joined.encode("ascii").translate(self._lut_bytes), dtype=np.uint8)
        except UnicodeEncodeError as exc:
            raise self._letter_error(seqs, lens, r0, r1, exc.start, ids) from None
        size = self._alphabet.size
        top = int(codes.max()) if codes.size else 0
        if top == _INVALID:
            raise self._letter_error(seqs, lens, r0, r1, int(np.argmax(codes == _INVALID)), ids)
        has_bad = top == size
        if has_bad and self._unknown == "reject":
            raise self._letter_error(seqs, lens, r0, r1, int(np.argmax(codes == size)), ids)
        return codes, has_bad

    def _kmer_ids(self, codes2d: np.ndarray, t_chunk: int, has_bad: bool) -> np.ndarray:
        """Token ids (rows, t_chunk) of letter codes (rows, width): k-mers combined over
        ``k`` column slices (shift-or or multiply-add), canonical ids looked up, and
        k-mers covering an ambiguity code set to UNK. Rows past their length are not masked here."""
        k, stride, size = self._k, self._stride, self._alphabet.size
        if has_bad:
            bad2d = codes2d >= size
            codes2d = np.where(bad2d, np.uint8(0), codes2d)
        span = (t_chunk - 1) * stride + 1
        acc = codes2d[:, 0:span:stride].astype(self._work_dtype)
        for j in range(1, k):
            col = codes2d[:, j : j + span : stride]
            if self._shift is not None:
                acc <<= self._shift
                acc |= col
            else:
                acc *= size
                acc += col
        if self._canonical:
            block = self._canonical_table().take(acc, mode="clip")  # in range; clip skips checks
        else:
            acc += N_SPECIAL
            block = acc
        if has_bad:
            bad_window = bad2d[:, 0:span:stride].copy()
            for j in range(1, k):
                bad_window |= bad2d[:, j : j + span : stride]
            block[bad_window] = UNK
        return block

    # ------------------------------------------------------------------ canonical tables
    def _raw_reverse_complement(self, index: np.ndarray) -> np.ndarray:
        """Raw k-mer index of the reverse complement of each raw index (same integer dtype).

        One pass per letter (k passes) in the index dtype: the j-th letter from
        the right becomes, complemented, the j-th letter from the left.
        """
        size, k = self._alphabet.size, self._k
        rc = np.zeros_like(index)
        if self._shift is not None and np.array_equal(self._comp_codes, np.arange(size)[::-1]):
            # letters ordered so that complement(c) == size-1-c (ACGT, ACGU): pure bit operations
            mask, shift = index.dtype.type(size - 1), self._shift
            digit = np.empty_like(index)
            for j in range(k):
                np.right_shift(index, shift * j, out=digit)
                digit &= mask
                np.subtract(mask, digit, out=digit)
                digit <<= shift * (k - 1 - j)
                rc |= digit
            return rc
        comp = self._comp_codes.astype(index.dtype)
        rem = index.copy()
        for j in range(k):
            rc += comp[rem % size] * index.dtype.type(size ** (k - 1 - j))
            rem //= size
        return rc

    def _canonical_table(self) -> np.ndarray:
        """Raw k-mer index -> compact canonical id (built once, vectorised over all k-mers).

        Takes < 0.1 s up to k=10; a few seconds and ~450 MB peak at k=12.
        """
        if self._canon_table is None:
            index = np.arange(self._n_kmers, dtype=np.int32)  # canonical k <= 12: 4**12 < 2**31
            rc = self._raw_reverse_complement(index)
            is_rep = index <= rc  # the smaller member of each {k-mer, reverse complement} pair
            rank = np.cumsum(is_rep, dtype=np.int32)  # 1-based compact number of each representative
            np.minimum(index, rc, out=rc)
            table = rank.take(rc)
            table += N_SPECIAL - 1
            table = table.astype(self._dtype, copy=False)
            if int(table.max()) != self._vocab_size - 1:  # pragma: no cover - formula guard
                raise AssertionError("canonical vocabulary size mismatch")
            self._canon_reps = np.flatnonzero(is_rep)
            self._canon_table = table
        return self._canon_table

    # ------------------------------------------------------------------ decoding
    def _kmer_codes(self, raw: np.ndarray) -> np.ndarray:
        """Letter codes (n, k) of raw k-mer indices (n,)."""
        size, k = self._alphabet.size, self._k
        powers = size ** np.arange(k - 1, -1, -1, dtype=np.int64)
        return (raw.astype(np.int64)[:, None] // powers) % size

    def decode(self, tokens: Sequence[int] | np.ndarray) -> str:
        """Rebuild a sequence from token ids (1-D); ``PAD`` and ``CLS`` are skipped.

        Exact (``decode(encode(s)) == s``) when ``s`` has no ambiguity codes,
        ``stride <= k`` and the k-mers cover ``s`` (``(len(s) - k) % stride == 0``).
        Otherwise: letters covered only by ``UNK``/``MASK`` tokens, and the gaps
        between k-mers when ``stride > k``, decode to the unknown letter (``N``
        for nucleic acids, ``X`` for protein); trailing letters that no k-mer
        covers are absent; lowercase comes back uppercase.

        Canonical tokens do not record the strand: each token's orientation is
        chosen so that overlapping k-mers agree (a dynamic programme over the
        tokens), so ``encode(decode(t)) == t``, and the result equals the input
        unless an overlap fits both orientations (reverse-palindromic context).
        """
        t = np.asarray(tokens)
        if t.ndim != 1:
            raise ValueError(f"decode takes a 1-D token array, got shape {t.shape}")
        if t.size and (not np.issubdtype(t.dtype, np.integer) or t.min() < 0 or t.max() >= self._vocab_size):
            raise ValueError(f"token ids must be integers in [0, {self._vocab_size})")
        t = t[(t != PAD) & (t != CLS)].astype(np.int64)
        n = t.size
        if n == 0:
            return ""
        k, stride, size = self._k, self._stride, self._alphabet.size
        valid = t >= N_SPECIAL
        raw = np.where(valid, t - N_SPECIAL, 0)
        if self._canonical:
            self._canonical_table()
            fwd = self._kmer_codes(self._canon_reps[raw])
            options = np.stack([fwd, self._comp_codes[fwd[:, ::-1]]], axis=1)  # (n, 2, k)
        else:
            options = self._kmer_codes(raw)[:, None, :]  # (n, 1, k)
        options = np.where(valid[:, None, None], options, -1)
        chosen = options[np.arange(n), self._orientations(options)]  # (n, k)
        length = (n - 1) * stride + k
        letters = np.full(length, -1, dtype=np.int64)
        positions = np.arange(n)[:, None] * stride + np.arange(k)
        letters[positions[valid]] = chosen[valid]
        alphabet = (self._alphabet.letters + self._alphabet.ambiguous[0]).encode("ascii")
        table = np.frombuffer(alphabet, dtype=np.uint8)
        return table[np.where(letters < 0, size, letters)].tobytes().decode("ascii")

    def _orientations(self, options: np.ndarray) -> np.ndarray:
        """Orientation (0/1) per token such that overlapping k-mers agree, where possible.

        ``options`` is (n, O, k) letter codes (-1 = unknown, matches anything).
        A forward pass marks which orientation of token i can follow a
        consistent chain; a backward pass picks one. Falls back to orientation 0
        where no consistent chain exists (cannot happen for tokens of a real sequence).
        """
        n, n_opt, k = options.shape
        overlap = k - self._stride
        if n_opt == 1 or overlap <= 0 or n == 1:
            return np.zeros(n, dtype=np.int64)
        left = options[:-1, :, None, self._stride :]  # (n-1, 2, 1, overlap)
        right = options[1:, None, :, :overlap]  # (n-1, 1, 2, overlap)
        ok = ((left == right) | (left < 0) | (right < 0)).all(axis=-1).tolist()  # (n-1, 2, 2)
        reach = [[True, True]]
        back: list[list[int]] = [[0, 0]]
        for i in range(1, n):
            row, ptr = [False, False], [0, 0]
            for b in (0, 1):
                for a in (0, 1):
                    if reach[i - 1][a] and ok[i - 1][a][b]:
                        row[b], ptr[b] = True, a
                        break
            reach.append(row)
            back.append(ptr)
        if not any(reach[-1]):
            return np.zeros(n, dtype=np.int64)
        result = np.zeros(n, dtype=np.int64)
        cur = 0 if reach[-1][0] else 1
        for i in range(n - 1, -1, -1):
            result[i] = cur
            cur = back[i][cur]
        return result

    def id_to_token(self, token_id: int) -> str:
        """Human-readable token: ``<pad>``, ``<unk>``, ``<cls>``, ``<mask>`` or the k-mer
        (for canonical ids, the smaller k-mer of the pair)."""
        if not _is_int(token_id) or not 0 <= token_id < self._vocab_size:
            raise ValueError(f"token id must be an integer in [0, {self._vocab_size}), got {token_id!r}")
        if token_id < N_SPECIAL:
            return SPECIAL_TOKENS[token_id]
        raw = np.array([token_id - N_SPECIAL])
        if self._canonical:
            self._canonical_table()
            raw = self._canon_reps[raw]
        return "".join(self._alphabet.letters[c] for c in self._kmer_codes(raw)[0])

    # ------------------------------------------------------------------ one-hot / strands
    def one_hot(self, tokens: np.ndarray) -> np.ndarray:
        """One-hot letters for ``k=1`` tokens: float32 array ``(..., alphabet.size)``.

        ``PAD`` and ``CLS`` rows are all zero; ``UNK`` and ``MASK`` rows are
        uniform ``1/size`` (an unknown letter is equally likely to be any, as in
        Selene's encoding of ``N`` as 0.25).
        """
        if self._k != 1 or self._canonical:
            raise ConfigError(f"one_hot needs a k=1, non-canonical tokenizer; this is {self!r}")
        t = np.asarray(tokens)
        if t.size and (not np.issubdtype(t.dtype, np.integer) or t.min() < 0 or t.max() >= self._vocab_size):
            raise ValueError(f"token ids must be integers in [0, {self._vocab_size})")
        size = self._alphabet.size
        table = np.zeros((self._vocab_size, size), dtype=np.float32)
        table[UNK] = table[MASK] = 1.0 / size
        table[N_SPECIAL:] = np.eye(size, dtype=np.float32)
        return table[t]
